"""sagemaker-notebook-root-access against the local account: a notebook with root access is reported; in
remediate mode it is stopped, RootAccess is disabled once it is Stopped (its state-change event brings it
back), and it is left stopped, never deleted. moto has no UpdateNotebookInstance: the call is answered and its
parameters are checked."""

from __future__ import annotations

import json

import pytest

from mlwarden.core.settings import RuntimeSettings
from mlwarden.handler import Runtime
from tests.conftest import ACCOUNT, EXEMPT_UNTIL, REGION, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "sagemaker-notebook-root-access"
UPDATE_EVENT = "handwritten/cloudtrail-sagemaker-UpdateNotebookInstance-root-access-enabled.json"
CREATE_EVENT = "handwritten/cloudtrail-sagemaker-CreateNotebookInstance-direct-internet-enabled.json"
STOPPED_EVENT = "handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-Stopped.json"
SCHEDULED = "config-invocation/powertools-config-scheduled-notification.json"
ROLE = "arn:aws:iam::123456789012:role/EXAMPLEARN"


def cloudtrail_event(name: str, fixture: str = UPDATE_EVENT) -> dict:
    return as_cloudtrail_event(load_event(fixture), requestParameters__notebookInstanceName=name)


def stopped_event(name: str) -> dict:
    event = load_event(STOPPED_EVENT)
    event["detail"].update(
        NotebookInstanceName=name,
        NotebookInstanceArn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/{name.lower()}",
    )
    return event


def notebook(aws, name: str, *, root_access: str = "Enabled") -> str:
    """A notebook instance (moto makes it InService at once); returns its ARN."""
    return aws.client("sagemaker").create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE, RootAccess=root_access
    )["NotebookInstanceArn"]


def status(aws, name: str) -> str:
    return aws.client("sagemaker").describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]


def show_status(harness, value: str, **more: str) -> None:
    """Make DescribeNotebookInstance report a state moto cannot produce (Pending, Stopping, after an update)."""
    harness.clients.patch(
        "sagemaker", "DescribeNotebookInstance", lambda answer: answer.update(NotebookInstanceStatus=value, **more)
    )


def changes(harness) -> list[str]:
    return [op for op in harness.clients.operations("sagemaker") if op.startswith(("Stop", "Update", "Start"))]


def test_root_access_in_notify_mode_alerts_and_leaves_the_notebook_running(aws, harness):
    # Given a running notebook whose users have root access, and the rule in notify mode
    arn = notebook(aws, "lab")
    # When CloudTrail reports RootAccess being enabled on it
    run = harness.invoke(RULE, cloudtrail_event("lab"))
    # Then it is reported once, with what the fix is
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_arn"] == arn
    assert decision["controls"] == ["SageMaker.3"]
    assert decision["reason"].startswith("RootAccess is Enabled (instance is InService)")
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: lab non-compliant"
    assert alert["attributes"] == {"severity": "HIGH", "rule_id": RULE, "status": "notified"}
    assert alert["body"]["before"] == {"NotebookInstanceStatus": "InService", "RootAccess": "Enabled"}
    assert "set RootAccess to Disabled" in alert["body"]["remediation"]
    assert alert["body"]["console_url"].endswith("#/notebook-instances/lab")
    # and nothing was changed
    assert changes(harness) == []
    assert status(aws, "lab") == "InService"


def test_remediate_mode_stops_then_disables_root_access_when_stopped_and_leaves_it_stopped(aws, harness):
    notebook(aws, "shared-box")
    harness.set_mode(RULE, "remediate")
    calls = harness.clients
    calls.answer("sagemaker", "UpdateNotebookInstance", {})
    # When its creation is reported while it is InService
    first = harness.invoke(RULE, cloudtrail_event("shared-box", CREATE_EVENT))
    # Then it is stopped; RootAccess cannot change before it is Stopped, so the fix is not done yet
    assert first.decision["action"] == "notified"
    assert "not remediated yet" in first.decision["reason"]
    assert "Stopped state-change event" in first.decision["reason"]
    assert changes(harness) == ["StopNotebookInstance"]
    assert first.alerts[0]["body"]["after"] == {"NotebookInstanceStatus": "Stopping", "RootAccess": "Enabled"}
    assert status(aws, "shared-box") == "Stopped"
    # When its Stopped state-change event arrives
    calls.clear()
    calls.answer("sagemaker", "UpdateNotebookInstance", {})
    second = harness.invoke(RULE, stopped_event("shared-box"))
    # Then RootAccess is disabled and the notebook is not started again
    assert second.decision["action"] == "remediated"
    update = [c for c in calls.calls if c.operation == "UpdateNotebookInstance"]
    assert [c.params for c in update] == [{"NotebookInstanceName": "shared-box", "RootAccess": "Disabled"}]
    assert changes(harness) == ["UpdateNotebookInstance"]
    alert = second.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: shared-box remediated"
    assert "left stopped" in alert["body"]["remediation"]
    assert alert["body"]["after"] == {"NotebookInstanceStatus": "Updating", "RootAccess": "Disabled"}
    assert status(aws, "shared-box") == "Stopped"
    # When the event comes again once the update is through (moto cannot apply it: shown as AWS reports it)
    calls.clear()
    show_status(harness, "Stopped", RootAccess="Disabled")
    third = harness.invoke(RULE, stopped_event("shared-box"))
    # Then it is compliant and nothing is done twice
    assert third.decision["compliance"] == "COMPLIANT"
    assert third.decision["reason"] == "RootAccess is Disabled"
    assert changes(harness) == []
    assert third.alerts == []


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("Stopping", "its Stopped state-change event brings it back"),
        ("Pending", "its InService state-change event brings it back"),
    ],
)
def test_notebook_in_transition_is_not_touched_and_the_alert_says_what_happens_next(aws, harness, state, expected):
    notebook(aws, "moving")
    harness.set_mode(RULE, "remediate")
    show_status(harness, state)
    run = harness.invoke(RULE, cloudtrail_event("moving"))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "notified"
    assert expected in run.decision["reason"]
    assert changes(harness) == []
    assert run.alerts[0]["attributes"]["status"] == "notified"


def test_notebook_without_root_access_is_compliant_and_silent(aws, harness):
    notebook(aws, "locked", root_access="Disabled")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, cloudtrail_event("locked"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["action"] == "none"
    assert run.alerts == []
    assert changes(harness) == []
    assert status(aws, "locked") == "InService"


def test_deleted_notebook_is_not_applicable_and_silent(aws, harness):
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, stopped_event("gone-since"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["action"] == "none"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []
    assert changes(harness) == []


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_exempt_notebook_is_never_changed(aws, harness, mode):
    arn = notebook(aws, "admin-box")
    aws.client("sagemaker").add_tags(
        ResourceArn=arn,
        Tags=[
            {"Key": "mlwarden:exempt", "Value": RULE},
            {"Key": "mlwarden:exempt-reason", "Value": "platform team image builds"},
            {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
        ],
    )
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, cloudtrail_event("admin-box"))
    assert run.decision["action"] == "exempt"
    assert "platform team image builds" in run.decision["reason"]
    assert_exempt_alert(run)
    assert changes(harness) == []
    assert status(aws, "admin-box") == "InService"


def test_config_periodic_sweep_judges_every_notebook_of_the_region(aws, harness):
    notebook(aws, "sweep-root")
    notebook(aws, "sweep-locked", root_access="Disabled")
    event = load_event(SCHEDULED)
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-root": "NON_COMPLIANT",
        "sweep-locked": "COMPLIANT",
    }
    assert [a["body"]["resource_id"] for a in run.alerts] == ["sweep-root"]
    assert "ListNotebookInstances" in harness.clients.operations("sagemaker")


def test_scan_reports_would_remediate_without_changing_anything(aws, harness):
    # `mlwarden scan` runs the same sweep read-only
    notebook(aws, "scanned")
    harness.set_mode(RULE, "remediate")
    runtime = Runtime.from_settings(RuntimeSettings(rule_id=RULE), clients=harness.clients)
    runtime.engine.apply = False
    decisions = list(runtime.engine.sweep(REGION))
    assert [(d.resource_id, d.action) for d in decisions] == [("scanned", "would_remediate")]
    assert changes(harness) == []
    assert json.loads(json.dumps(decisions[0].cli_record()))["controls"] == ["SageMaker.3"]
