"""sagemaker-notebook-vpc against the local account: a notebook outside the customer's VPC is reported with
what to recreate; the subnet cannot be changed, so the rule never touches the notebook, in any mode."""

from __future__ import annotations

import pytest

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "sagemaker-notebook-vpc"
CREATE_EVENT = "handwritten/cloudtrail-sagemaker-CreateNotebookInstance-direct-internet-enabled.json"
SCHEDULED = "config-invocation/powertools-config-scheduled-notification.json"
ROLE = "arn:aws:iam::123456789012:role/EXAMPLEARN"


def create_event(name: str) -> dict:
    return as_cloudtrail_event(load_event(CREATE_EVENT), requestParameters__notebookInstanceName=name)


def notebook(aws, name: str, *, subnet: str | None = None) -> str:
    extra = {"SubnetId": subnet, "SecurityGroupIds": ["sg-0abc"], "DirectInternetAccess": "Disabled"} if subnet else {}
    return aws.client("sagemaker").create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE, **extra
    )["NotebookInstanceArn"]


def writes(harness) -> list[str]:
    return [op for op in harness.clients.operations("sagemaker") if not op.startswith(("Describe", "List"))]


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_notebook_outside_a_vpc_is_reported_with_what_to_recreate_and_never_touched(aws, harness, mode):
    # Given a notebook created without a subnet (it runs in the SageMaker service VPC)
    arn = notebook(aws, "outside")
    harness.set_mode(RULE, mode)
    # When CloudTrail reports its creation
    run = harness.invoke(RULE, create_event("outside"))
    # Then it is reported, in either mode, and the alert says what a human must recreate
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_arn"] == arn
    assert decision["controls"] == ["SageMaker.2"]
    assert "no SubnetId" in decision["reason"]
    if mode == "remediate":
        assert "no automatic remediation: a human must act" in decision["reason"]
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: outside non-compliant"
    assert "recreate the notebook instance with SubnetId" in alert["body"]["remediation"]
    assert "cannot be changed on an existing instance" in alert["body"]["remediation"]
    assert alert["body"]["before"] == {
        "NotebookInstanceStatus": "InService",
        "SubnetId": None,
        "DirectInternetAccess": "Enabled",
    }
    assert alert["body"]["console_url"].endswith("#/notebook-instances/outside")
    assert writes(harness) == []


def test_notebook_in_a_vpc_subnet_is_compliant_and_silent(aws, harness):
    notebook(aws, "inside", subnet="subnet-0abc")
    run = harness.invoke(RULE, create_event("inside"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == "the instance runs in subnet subnet-0abc"
    assert run.alerts == []
    # one read judges it; tags are not read for a compliant notebook
    assert harness.clients.operations("sagemaker") == ["DescribeNotebookInstance"]


def test_deleted_notebook_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, create_event("deleted-since"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


def test_exempt_notebook_is_reported_once_but_not_acted_on(aws, harness):
    arn = notebook(aws, "sandbox")
    aws.client("sagemaker").add_tags(
        ResourceArn=arn,
        Tags=[
            {"Key": "mlwarden:exempt", "Value": "all"},
            {"Key": "mlwarden:exempt-reason", "Value": "sandbox"},
            {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
        ],
    )
    run = harness.invoke(RULE, create_event("sandbox"))
    assert run.decision["action"] == "exempt"
    assert_exempt_alert(run)


def test_config_periodic_sweep_judges_every_notebook_of_the_region(aws, harness):
    notebook(aws, "sweep-outside")
    notebook(aws, "sweep-inside", subnet="subnet-0abc")
    event = load_event(SCHEDULED)
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-outside": "NON_COMPLIANT",
        "sweep-inside": "COMPLIANT",
    }
    assert [a["body"]["resource_id"] for a in run.alerts] == ["sweep-outside"]
