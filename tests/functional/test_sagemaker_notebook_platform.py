"""sagemaker-notebook-platform against the local account: a notebook on a platform outside
``supportedNotebookPlatforms`` is reported; in remediate mode a Stopped one is moved to the first supported
platform and left stopped, a running one is never stopped by this rule. moto has no UpdateNotebookInstance and its
DescribeNotebookInstance has no PlatformIdentifier: the update is answered and its parameters are checked, and the
platform is patched into the description as AWS reports it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ACCOUNT, EXEMPT_UNTIL, REGION, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "sagemaker-notebook-platform"
UPDATE_EVENT = "handwritten/cloudtrail-sagemaker-UpdateNotebookInstance-root-access-enabled.json"
CREATE_EVENT = "handwritten/cloudtrail-sagemaker-CreateNotebookInstance-direct-internet-enabled.json"
STOPPED_EVENT = "handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-Stopped.json"
SCHEDULED = "config-invocation/powertools-config-scheduled-notification.json"
ROLE = "arn:aws:iam::123456789012:role/EXAMPLEARN"
OLD, NEW = "notebook-al2-v3", "notebook-al2023-v1"


def cloudtrail_event(name: str, fixture: str = CREATE_EVENT) -> dict:
    return as_cloudtrail_event(load_event(fixture), requestParameters__notebookInstanceName=name)


def stopped_event(name: str) -> dict:
    event = load_event(STOPPED_EVENT)
    event["detail"].update(
        NotebookInstanceName=name,
        NotebookInstanceArn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/{name.lower()}",
    )
    return event


def notebook(aws, name: str) -> str:
    """A notebook instance (moto makes it InService at once); returns its ARN."""
    return aws.client("sagemaker").create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE
    )["NotebookInstanceArn"]


def stop(aws, name: str) -> None:
    aws.client("sagemaker").stop_notebook_instance(NotebookInstanceName=name)


def show(harness, platforms: dict[str, str]) -> None:
    """Make DescribeNotebookInstance report each notebook's PlatformIdentifier (moto reports none)."""

    def add(answer: dict) -> None:
        platform = platforms.get(answer.get("NotebookInstanceName", ""))
        if platform:
            answer["PlatformIdentifier"] = platform

    harness.clients.patch("sagemaker", "DescribeNotebookInstance", add)


def status(aws, name: str) -> str:
    return aws.client("sagemaker").describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]


def changes(harness) -> list[str]:
    return [op for op in harness.clients.operations("sagemaker") if op.startswith(("Stop", "Update", "Start"))]


def test_unsupported_platform_in_notify_mode_alerts_and_changes_nothing(aws, harness):
    # Given a running notebook on Amazon Linux 2, and the rule in notify mode
    arn = notebook(aws, "lab")
    show(harness, {"lab": OLD})
    # When CloudTrail reports its creation
    run = harness.invoke(RULE, cloudtrail_event("lab"))
    # Then it is reported with the platform it runs and the ones supported
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_arn"] == arn
    assert decision["controls"] == ["SageMaker.8"]
    assert decision["reason"] == (f"platform {OLD} is not supported (instance is InService); supported: {NEW}")
    (alert,) = run.alerts
    assert alert["subject"] == f"[MEDIUM] {RULE}: lab non-compliant"
    assert alert["body"]["before"] == {"NotebookInstanceStatus": "InService", "PlatformIdentifier": OLD}
    assert "stop the instance (mlwarden does not stop it" in alert["body"]["remediation"]
    assert f"PlatformIdentifier is set to {NEW}" in alert["body"]["remediation"]
    assert alert["body"]["console_url"].endswith("#/notebook-instances/lab")
    assert changes(harness) == []
    assert status(aws, "lab") == "InService"


def test_remediate_mode_updates_a_stopped_notebook_and_leaves_it_stopped(aws, harness):
    # Given a stopped notebook on an old platform, and the rule switched to remediate
    notebook(aws, "old-box")
    stop(aws, "old-box")
    show(harness, {"old-box": OLD})
    harness.set_mode(RULE, "remediate")
    harness.clients.answer("sagemaker", "UpdateNotebookInstance", {})
    # When its Stopped state-change event arrives
    run = harness.invoke(RULE, stopped_event("old-box"))
    # Then its platform is set to the first supported one, and it is not started again
    assert run.decision["action"] == "remediated"
    update = [c for c in harness.clients.calls if c.operation == "UpdateNotebookInstance"]
    assert [c.params for c in update] == [{"NotebookInstanceName": "old-box", "PlatformIdentifier": NEW}]
    assert changes(harness) == ["UpdateNotebookInstance"]
    (alert,) = run.alerts
    assert alert["subject"] == f"[MEDIUM] {RULE}: old-box remediated"
    assert f"set from {OLD} to {NEW}" in alert["body"]["remediation"]
    assert "left stopped" in alert["body"]["remediation"]
    assert alert["body"]["after"] == {"NotebookInstanceStatus": "Updating", "PlatformIdentifier": NEW}
    assert status(aws, "old-box") == "Stopped"
    # When the event comes again once the update is through (shown as AWS reports it)
    harness.clients.clear()
    show(harness, {"old-box": NEW})
    again = harness.invoke(RULE, stopped_event("old-box"))
    # Then it is compliant and nothing is done twice
    assert again.decision["compliance"] == "COMPLIANT"
    assert again.decision["reason"] == f"platform {NEW} is supported"
    assert changes(harness) == []
    assert again.alerts == []


@pytest.mark.parametrize("state", ["InService", "Pending"])
def test_running_notebook_is_not_stopped_and_the_alert_says_to_stop_it(aws, harness, state):
    notebook(aws, "busy")
    harness.set_mode(RULE, "remediate")
    harness.clients.patch(
        "sagemaker",
        "DescribeNotebookInstance",
        lambda answer: answer.update(NotebookInstanceStatus=state, PlatformIdentifier=OLD),
    )
    run = harness.invoke(RULE, cloudtrail_event("busy", UPDATE_EVENT))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "notified"
    assert "not remediated yet" in run.decision["reason"]
    assert "mlwarden does not stop a notebook to change its platform" in run.decision["reason"]
    assert "Stopped state-change event (or the next sweep)" in run.decision["reason"]
    assert changes(harness) == []
    assert run.alerts[0]["attributes"]["status"] == "notified"
    assert status(aws, "busy") == "InService"


def test_notebook_on_a_supported_platform_is_compliant_and_silent(aws, harness):
    notebook(aws, "current")
    show(harness, {"current": NEW})
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, cloudtrail_event("current"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["action"] == "none"
    assert run.alerts == []
    assert changes(harness) == []


def test_supported_platforms_come_from_the_option(aws, harness):
    # cdk.json supportedNotebookPlatforms also accepting Amazon Linux 2
    notebook(aws, "al2")
    show(harness, {"al2": OLD})
    run = harness.invoke(RULE, cloudtrail_event("al2"), options=json.dumps({"supportedNotebookPlatforms": [NEW, OLD]}))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == f"platform {OLD} is supported"


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
    arn = notebook(aws, "legacy-box")
    stop(aws, "legacy-box")
    show(harness, {"legacy-box": OLD})
    aws.client("sagemaker").add_tags(
        ResourceArn=arn,
        Tags=[
            {"Key": "mlwarden:exempt", "Value": RULE},
            {"Key": "mlwarden:exempt-reason", "Value": "vendor kernel certified on AL2 only"},
            {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
        ],
    )
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, stopped_event("legacy-box"))
    assert run.decision["action"] == "exempt"
    assert "vendor kernel certified on AL2 only" in run.decision["reason"]
    assert_exempt_alert(run)
    assert changes(harness) == []


def test_config_periodic_sweep_judges_every_notebook_of_the_region(aws, harness):
    notebook(aws, "sweep-old")
    notebook(aws, "sweep-new")
    show(harness, {"sweep-old": OLD, "sweep-new": NEW})
    event = load_event(SCHEDULED)
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-old": "NON_COMPLIANT",
        "sweep-new": "COMPLIANT",
    }
    assert [a["body"]["resource_id"] for a in run.alerts] == ["sweep-old"]
    assert "ListNotebookInstances" in harness.clients.operations("sagemaker")
