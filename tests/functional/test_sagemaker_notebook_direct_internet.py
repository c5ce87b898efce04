"""sagemaker-notebook-direct-internet against the local account: a notebook open to the internet is reported,
and in remediate mode stopped and tagged, never deleted; closed notebooks and deleted ones are left alone."""

from __future__ import annotations

import pytest

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "sagemaker-notebook-direct-internet"
CREATE_EVENT = "handwritten/cloudtrail-sagemaker-CreateNotebookInstance-direct-internet-enabled.json"
STATE_EVENT = "handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-InService.json"
ROLE = "arn:aws:iam::123456789012:role/EXAMPLEARN"
QUARANTINED = "mlwarden:quarantined"


def create_event(name: str) -> dict:
    """CloudTrail CreateNotebookInstance for ``name`` as EventBridge delivers it."""
    return as_cloudtrail_event(
        load_event(CREATE_EVENT),
        requestParameters__notebookInstanceName=name,
        responseElements__notebookInstanceArn=f"arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name.lower()}",
    )


def state_change_event(name: str, status: str = "InService") -> dict:
    event = load_event(STATE_EVENT)
    event["detail"].update(
        NotebookInstanceName=name,
        NotebookInstanceStatus=status,
        NotebookInstanceArn=f"arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name.lower()}",
    )
    return event


def notebook(aws, name: str, *, direct_internet: str = "Enabled") -> str:
    """Create a notebook instance (moto makes it InService at once); returns its ARN."""
    extra = {} if direct_internet == "Enabled" else {"SubnetId": "subnet-0abc", "SecurityGroupIds": ["sg-0abc"]}
    return aws.client("sagemaker").create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType="ml.t3.medium",
        RoleArn=ROLE,
        DirectInternetAccess=direct_internet,
        **extra,
    )["NotebookInstanceArn"]


def status(aws, name: str) -> str:
    return aws.client("sagemaker").describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]


def tags(aws, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in aws.client("sagemaker").list_tags(ResourceArn=arn)["Tags"]}


def test_open_notebook_in_notify_mode_alerts_and_is_left_running(aws, harness):
    # Given a running notebook with direct internet access (the API default) and the rule in notify mode
    arn = notebook(aws, "research")
    # When CloudTrail reports its creation
    run = harness.invoke(RULE, create_event("research"))
    # Then it is non-compliant and notified, once
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "notified"
    assert run.decision["resource_arn"] == arn
    assert run.decision["controls"] == ["SageMaker.1"]
    assert "DirectInternetAccess is Enabled" in run.decision["reason"]
    assert len(run.alerts) == 1
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: research non-compliant"
    assert alert["attributes"] == {"severity": "HIGH", "rule_id": RULE, "status": "notified"}
    # the alert tells the human what fixes it: the setting is immutable, the notebook must be recreated
    assert "recreate the notebook instance in a VPC subnet" in alert["body"]["remediation"]
    assert alert["body"]["before"]["DirectInternetAccess"] == "Enabled"
    assert "notebook-instances/research" in alert["body"]["console_url"]
    # and nothing was touched
    assert status(aws, "research") == "InService"
    assert QUARANTINED not in tags(aws, arn)


def test_remediate_mode_stops_and_tags_the_notebook_and_never_deletes_it(aws, harness):
    arn = notebook(aws, "exposed")
    harness.set_mode(RULE, "remediate")
    # When the notebook's InService state-change event arrives
    run = harness.invoke(RULE, state_change_event("exposed"))
    # Then it is stopped and tagged with the rule that acted
    assert run.decision["action"] == "remediated"
    assert status(aws, "exposed") == "Stopped"
    assert tags(aws, arn)[QUARANTINED] == RULE
    # never deleted: it is still there to be recreated properly by its owner
    names = [n["NotebookInstanceName"] for n in aws.client("sagemaker").list_notebook_instances()["NotebookInstances"]]
    assert names == ["exposed"]
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: exposed remediated"
    assert alert["attributes"]["status"] == "remediated"
    assert "stopped the instance" in alert["body"]["remediation"]
    assert "recreate the notebook instance" in alert["body"]["remediation"]
    assert alert["body"]["after"] == {"NotebookInstanceStatus": "Stopping", QUARANTINED: RULE}


def test_second_run_finds_it_already_quarantined_and_does_not_stop_it_again(aws, harness):
    arn = notebook(aws, "twice")
    harness.set_mode(RULE, "remediate")
    calls = harness.clients
    first = harness.invoke(RULE, create_event("twice"))
    assert first.decision["action"] == "remediated"
    assert calls.operations("sagemaker").count("StopNotebookInstance") == 1
    calls.clear()
    # When the same event is delivered again (EventBridge delivers at least once)
    second = harness.invoke(RULE, create_event("twice"))
    # Then the notebook is still non-compliant (the setting cannot change) but nothing is done twice
    assert second.decision["compliance"] == "NON_COMPLIANT"
    assert "StopNotebookInstance" not in calls.operations("sagemaker")
    assert "AddTags" not in calls.operations("sagemaker")
    assert "already quarantined" in second.alerts[0]["body"]["remediation"]
    assert status(aws, "twice") == "Stopped"
    assert tags(aws, arn) == {QUARANTINED: RULE}


def test_notebook_without_direct_internet_access_is_compliant_and_silent(aws, harness):
    arn = notebook(aws, "in-vpc", direct_internet="Disabled")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, create_event("in-vpc"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["action"] == "none"
    assert run.decision["reason"] == "DirectInternetAccess is Disabled"
    assert run.alerts == []
    assert status(aws, "in-vpc") == "InService"
    assert tags(aws, arn) == {}


def test_deleted_notebook_is_not_applicable_and_silent(aws, harness):
    # The event names a notebook that no longer exists (deleted since, or the event is stale)
    run = harness.invoke(RULE, create_event("deleted-since"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["action"] == "none"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


def test_pending_notebook_is_tagged_not_stopped_and_stopped_once_in_service(aws, harness):
    # Given a notebook still starting: moto makes notebooks InService at once, so the handler is shown
    # the Pending state AWS reports while the instance boots
    arn = notebook(aws, "booting")
    harness.set_mode(RULE, "remediate")
    calls = harness.clients
    calls.patch(
        "sagemaker",
        "DescribeNotebookInstance",
        lambda answer: answer.update(NotebookInstanceStatus="Pending"),
    )
    # When CloudTrail reports its creation
    run = harness.invoke(RULE, create_event("booting"))
    # Then it cannot be stopped yet: it is tagged, reported as notified, and the reason says what happens next
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "notified"
    assert "will be stopped when it reaches InService" in run.decision["reason"]
    assert "StopNotebookInstance" not in calls.operations("sagemaker")
    assert tags(aws, arn) == {QUARANTINED: RULE}
    assert run.alerts[0]["attributes"]["status"] == "notified"
    # When it reaches InService, its state-change event brings it back and it is stopped
    calls.clear()
    later = harness.invoke(RULE, state_change_event("booting", "InService"))
    assert later.decision["action"] == "remediated"
    assert calls.operations("sagemaker").count("StopNotebookInstance") == 1
    assert status(aws, "booting") == "Stopped"


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_exempt_notebook_is_never_changed(aws, harness, mode):
    arn = notebook(aws, "demo-box")
    aws.client("sagemaker").add_tags(
        ResourceArn=arn,
        Tags=[
            {"Key": "mlwarden:exempt", "Value": f"s3-bucket-kms-encryption+{RULE}"},
            {"Key": "mlwarden:exempt-reason", "Value": "public workshop"},
            {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
        ],
    )
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, create_event("demo-box"))
    assert run.decision["action"] == "exempt"
    assert "public workshop" in run.decision["reason"]
    assert_exempt_alert(run)
    assert status(aws, "demo-box") == "InService"
    assert QUARANTINED not in tags(aws, arn)


def test_config_periodic_sweep_judges_every_notebook_of_the_region(aws, harness):
    # Given two notebooks, one open to the internet, one in a VPC
    notebook(aws, "sweep-open")
    notebook(aws, "sweep-closed", direct_internet="Disabled")
    event = load_event("config-invocation/powertools-config-scheduled-notification.json")
    event.update(resultToken="TESTMODE", accountId="123456789012")
    # When Config's periodic trigger fires
    run = harness.invoke(RULE, event)
    # Then each notebook gets one verdict, from a paginated listing
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-open": "NON_COMPLIANT",
        "sweep-closed": "COMPLIANT",
    }
    assert [a["body"]["resource_id"] for a in run.alerts] == ["sweep-open"]
    assert harness.clients.operations("sagemaker").count("ListNotebookInstances") == 1
