"""sagemaker-model-network-isolation against the local account: a model without network isolation or without a
VPC configuration is reported with what to recreate (models cannot be changed), HIGH when both are missing;
the rule never touches the model. moto stores EnableNetworkIsolation as false whatever is asked: the describe
answer is patched where a test needs isolation on."""

from __future__ import annotations

import pytest

from tests.conftest import ACCOUNT, EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "sagemaker-model-network-isolation"
CREATE_MODEL_EVENT = "cloudtrail-sagemaker/awsdocs-sagemaker-CreateModel.json"  # real, us-west-2, no isolation/VPC
SCHEDULED = "config-invocation/powertools-config-scheduled-notification.json"
ROLE = "arn:aws:iam::123456789012:role/EXAMPLEARN"
VPC = {"SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-0abc", "subnet-0def"]}


def create_event(name: str, region: str = "us-east-1") -> dict:
    return as_cloudtrail_event(
        load_event(CREATE_MODEL_EVENT), requestParameters__modelName=name, awsRegion=region, recipientAccountId=ACCOUNT
    )


def model(aws, name: str, *, vpc: bool = False, region: str = "us-east-1") -> str:
    extra = {"VpcConfig": VPC, "EnableNetworkIsolation": True} if vpc else {}
    return aws.client("sagemaker", region).create_model(
        ModelName=name, PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE, **extra
    )["ModelArn"]


def isolation_on(harness) -> None:
    harness.clients.patch("sagemaker", "DescribeModel", lambda answer: answer.update(EnableNetworkIsolation=True))


def writes(harness) -> list[str]:
    return [op for op in harness.clients.operations("sagemaker") if not op.startswith(("Describe", "List"))]


def test_real_create_model_event_without_isolation_or_vpc_is_high_and_says_what_to_recreate(aws, harness):
    # Given the model of the AWS documentation's CreateModel record (no isolation, no VPC), in its region
    arn = model(aws, "ExampleModel", region="us-west-2")
    # When that real record arrives
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(CREATE_MODEL_EVENT)))
    # Then both gaps are reported, at HIGH, with what a human must do
    decision = run.decision
    assert (decision["resource_id"], decision["region"]) == ("ExampleModel", "us-west-2")
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_arn"] == arn
    assert decision["controls"] == ["SageMaker.5"]
    assert decision["reason"] == "network isolation is off; no VpcConfig (container traffic is outside your VPC)"
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: ExampleModel non-compliant"
    remediation = alert["body"]["remediation"]
    assert remediation.startswith("recreate the model with EnableNetworkIsolation true") and "VpcConfig" in remediation
    assert "UpdateEndpoint" in remediation
    assert alert["body"]["before"] == {"EnableNetworkIsolation": False, "VpcConfig": None}
    assert alert["body"]["console_url"] == (
        "https://us-west-2.console.aws.amazon.com/sagemaker/home?region=us-west-2#/models/ExampleModel"
    )
    assert writes(harness) == []


def test_model_in_a_vpc_without_isolation_is_medium(aws, harness):
    model(aws, "in-vpc", vpc=True)  # moto drops the isolation flag: exactly this case
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, create_event("in-vpc"))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["reason"].startswith("network isolation is off; this rule has no automatic remediation")
    alert = run.alerts[0]
    assert alert["attributes"]["severity"] == "MEDIUM"
    assert alert["body"]["remediation"].startswith("recreate the model with EnableNetworkIsolation true (")
    assert "VpcConfig with" not in alert["body"]["remediation"]
    assert writes(harness) == []


def test_isolated_model_in_a_vpc_is_compliant_and_silent(aws, harness):
    model(aws, "locked-down", vpc=True)
    isolation_on(harness)
    run = harness.invoke(RULE, create_event("locked-down"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == "network isolation is on and the model runs in subnets subnet-0abc, subnet-0def"
    assert run.alerts == []
    assert harness.clients.operations("sagemaker") == ["DescribeModel"]


def test_deleted_model_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, create_event("deleted-since"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_exempt_model_is_reported_once_but_not_acted_on(aws, harness, mode):
    arn = model(aws, "vendor-model")
    aws.client("sagemaker").add_tags(
        ResourceArn=arn,
        Tags=[
            {"Key": "mlwarden:exempt", "Value": RULE},
            {"Key": "mlwarden:exempt-reason", "Value": "vendor container needs its licence server"},
            {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
        ],
    )
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, create_event("vendor-model"))
    assert run.decision["action"] == "exempt"
    assert "licence server" in run.decision["reason"]
    assert_exempt_alert(run)


def test_config_compliance_change_of_the_managed_vpc_rule_reaches_the_model(aws, harness):
    model(aws, "flagged")
    event = load_event("config-compliance-change/nzism-loggroup-retention-NON_COMPLIANT-with-old-result.json")
    detail = event["detail"]
    detail.update(
        configRuleName="sagemaker-model-in-vpc-conformance-pack-abcd1234",
        resourceType="AWS::SageMaker::Model",
        resourceId="flagged",
        awsRegion="us-east-1",
        awsAccountId=ACCOUNT,
    )
    detail["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"].update(
        configRuleName=detail["configRuleName"], resourceType="AWS::SageMaker::Model", resourceId="flagged"
    )
    run = harness.invoke(RULE, event)
    assert run.decision["resource_id"] == "flagged"
    assert run.decision["compliance"] == "NON_COMPLIANT"


def test_config_periodic_sweep_judges_every_model_of_the_region(aws, harness):
    model(aws, "sweep-open")
    model(aws, "sweep-vpc", vpc=True)
    event = load_event(SCHEDULED)
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-open": "NON_COMPLIANT",
        "sweep-vpc": "NON_COMPLIANT",
    }
    assert {a["body"]["resource_id"]: a["body"]["severity"] for a in run.alerts} == {
        "sweep-open": "HIGH",
        "sweep-vpc": "MEDIUM",
    }
