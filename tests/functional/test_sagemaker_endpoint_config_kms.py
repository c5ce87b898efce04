"""sagemaker-endpoint-config-kms against the local account: an endpoint configuration without a customer KMS
key is reported when it is created and when an endpoint deploys it, with what to do (a new configuration and
UpdateEndpoint); configurations cannot be changed, so the rule never touches anything."""

from __future__ import annotations

import pytest

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "sagemaker-endpoint-config-kms"
CREATE_CONFIG_EVENT = "handwritten/cloudtrail-sagemaker-CreateEndpointConfig-no-kms.json"
CREATE_ENDPOINT_EVENT = "cloudtrail-sagemaker/awsdocs-sagemaker-CreateEndpoint.json"  # real, us-west-2
SCHEDULED = "config-invocation/powertools-config-scheduled-notification.json"
ROLE = "arn:aws:iam::123456789012:role/EXAMPLEARN"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def create_config_event(name: str) -> dict:
    return as_cloudtrail_event(load_event(CREATE_CONFIG_EVENT), requestParameters__endpointConfigName=name)


def endpoint_config(aws, name: str, *, key: str | None = None, region: str = "us-east-1", tags=None) -> str:
    client = aws.client("sagemaker", region)
    client.create_model(ModelName=f"{name}-model", PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE)
    extra = {"KmsKeyId": key} if key else {}
    return client.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        Tags=tags or [],
        **extra,
    )["EndpointConfigArn"]


def writes(harness) -> list[str]:
    return [op for op in harness.clients.operations("sagemaker") if not op.startswith(("Describe", "List"))]


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_config_without_a_key_is_reported_with_what_to_do_and_never_touched(aws, harness, mode):
    arn = endpoint_config(aws, "serving-v1")
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, create_config_event("serving-v1"))
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_type"] == "AWS::SageMaker::EndpointConfig"
    assert decision["resource_arn"] == arn
    assert decision["reason"].startswith(
        "the endpoint configuration has no KmsKeyId: hosting volumes use an AWS managed key"
    )
    if mode == "remediate":
        assert decision["reason"].endswith("this rule has no automatic remediation: a human must act")
    alert = run.alerts[0]
    assert alert["subject"] == f"[MEDIUM] {RULE}: serving-v1 non-compliant"
    remediation = alert["body"]["remediation"]
    assert "create a new endpoint configuration" in remediation and "UpdateEndpoint" in remediation
    assert alert["body"]["before"] == {
        "KmsKeyId": None,
        "ProductionVariants": [{"VariantName": "AllTraffic", "InstanceType": "ml.m5.large"}],
    }
    assert alert["body"]["console_url"].endswith("#/endpointConfig/serving-v1")
    assert writes(harness) == []


def test_real_create_endpoint_event_judges_the_configuration_it_deploys(aws, harness):
    # Given the configuration the AWS documentation's CreateEndpoint record deploys, in its region
    endpoint_config(aws, "ExampleEndpointConfig", region="us-west-2")
    # When that record arrives
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(CREATE_ENDPOINT_EVENT)))
    # Then the configuration (not the endpoint) is judged, in us-west-2
    decision = run.decision
    assert (decision["resource_id"], decision["region"]) == ("ExampleEndpointConfig", "us-west-2")
    assert decision["compliance"] == "NON_COMPLIANT"
    assert len(run.alerts) == 1


def test_config_with_a_customer_key_is_compliant_and_silent(aws, harness):
    endpoint_config(aws, "serving-v2", key=KEY_ARN)
    run = harness.invoke(RULE, create_config_event("serving-v2"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == f"hosting volumes are encrypted with KMS key {KEY_ARN}"
    assert run.alerts == []
    assert harness.clients.operations("sagemaker") == ["DescribeEndpointConfig"]


def test_deleted_config_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, create_config_event("deleted-since"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


def test_exempt_config_is_reported_once_but_not_acted_on(aws, harness):
    # Instance types with local NVMe storage cannot take a KmsKeyId: their configurations are exempted
    endpoint_config(
        aws,
        "gpu-serving",
        tags=[
            {"Key": "mlwarden:exempt", "Value": RULE},
            {"Key": "mlwarden:exempt-reason", "Value": "ml.g4dn local NVMe storage"},
            {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
        ],
    )
    run = harness.invoke(RULE, create_config_event("gpu-serving"))
    assert run.decision["action"] == "exempt"
    assert "ml.g4dn local NVMe storage" in run.decision["reason"]
    assert_exempt_alert(run)


def test_config_periodic_sweep_judges_every_configuration_of_the_region(aws, harness):
    endpoint_config(aws, "sweep-plain")
    endpoint_config(aws, "sweep-keyed", key=KEY_ARN)
    endpoint_config(aws, "sweep-elsewhere", region="eu-west-1")
    event = load_event(SCHEDULED)
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-plain": "NON_COMPLIANT",
        "sweep-keyed": "COMPLIANT",
    }
    assert [a["body"]["resource_id"] for a in run.alerts] == ["sweep-plain"]
