"""bedrock-invocation-logging against the local account: logging deleted or incomplete is reported; in
remediate mode the configuration of cdk.json bedrockInvocationLogging is put back, and without it a human is
told what to do. Invocation logging is one setting per account and region: it has no tags and cannot be
"gone" (deleting it is the violation)."""

from __future__ import annotations

import json

from mlwarden.core.context import RuleContext
from mlwarden.core.registry import get_rule
from mlwarden.core.settings import RuntimeSettings
from tests.conftest import as_cloudtrail_event, load_event

RULE = "bedrock-invocation-logging"
DELETE_EVENT = "handwritten/cloudtrail-bedrock-DeleteModelInvocationLoggingConfiguration.json"
PUT_EVENT = "handwritten/cloudtrail-bedrock-PutModelInvocationLoggingConfiguration-text-delivery-off.json"
REGION = "us-west-2"  # the region of both handwritten events
COMPLETE = {
    "s3Config": {"bucketName": "bedrock-invocation-logs-123456789012", "keyPrefix": "bedrock"},
    "textDataDeliveryEnabled": True,
    "imageDataDeliveryEnabled": True,
    "embeddingDataDeliveryEnabled": True,
}


def bedrock(aws):
    return aws.client("bedrock", REGION)


def logging_config(aws) -> dict:
    return bedrock(aws).get_model_invocation_logging_configuration().get("loggingConfig") or {}


def option(config: dict) -> str:
    return json.dumps({"bedrockInvocationLogging": config})


def event(path: str) -> dict:
    return as_cloudtrail_event(load_event(path))


def test_deleted_logging_is_reported_per_account_and_region(aws, harness):
    # Given logging was on, then deleted
    bedrock(aws).put_model_invocation_logging_configuration(loggingConfig=COMPLETE)
    bedrock(aws).delete_model_invocation_logging_configuration()
    run = harness.invoke(RULE, event(DELETE_EVENT))
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_type"] == "AWS::Bedrock::ModelInvocationLogging"
    assert decision["resource_id"] == "123456789012"
    assert decision["region"] == REGION
    assert decision["reason"] == "model invocation logging is off (no logging configuration)"
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: 123456789012 non-compliant"
    assert alert["attributes"] == {"severity": "HIGH", "rule_id": RULE, "status": "notified"}
    assert alert["body"]["remediation"].startswith("a human must turn model invocation logging back on")
    assert (
        alert["body"]["console_url"]
        == f"https://{REGION}.console.aws.amazon.com/bedrock/home?region={REGION}#/settings"
    )
    assert alert["body"]["before"] == {"loggingConfig": None}


def test_complete_logging_is_compliant_and_silent(aws, harness):
    bedrock(aws).put_model_invocation_logging_configuration(loggingConfig=COMPLETE)
    run = harness.invoke(RULE, event(PUT_EVENT))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == (
        "invocation logging on to s3Bucket bedrock-invocation-logs-123456789012, text, image and embedding delivery on"
    )
    assert run.alerts == []
    assert harness.clients.operations("bedrock") == ["GetModelInvocationLoggingConfiguration"]


def test_logging_with_text_delivery_off_is_incomplete(aws, harness):
    bedrock(aws).put_model_invocation_logging_configuration(
        loggingConfig={**COMPLETE, "textDataDeliveryEnabled": False}
    )
    run = harness.invoke(RULE, event(PUT_EVENT))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["reason"] == "text data delivery off"
    assert run.alerts[0]["body"]["before"]["loggingConfig"]["textDataDeliveryEnabled"] is False


def test_logging_without_a_destination_is_incomplete(aws, harness):
    flags = {k: v for k, v in COMPLETE.items() if k != "s3Config"}
    bedrock(aws).put_model_invocation_logging_configuration(loggingConfig=flags)
    run = harness.invoke(RULE, event(PUT_EVENT))
    assert run.decision["reason"] == "no destination (neither an S3 bucket nor a CloudWatch Logs group)"


def test_remediate_mode_puts_back_the_configured_logging_and_a_second_run_changes_nothing(aws, harness):
    bedrock(aws).delete_model_invocation_logging_configuration()
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(DELETE_EVENT), options=option(COMPLETE))
    assert run.decision["action"] == "remediated"
    assert logging_config(aws) == COMPLETE
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: 123456789012 remediated"
    assert alert["body"]["remediation"] == (
        "invocation logging restored from cdk.json bedrockInvocationLogging "
        "(S3 bucket bedrock-invocation-logs-123456789012)"
    )
    harness.clients.calls.clear()
    again = harness.invoke(RULE, event(DELETE_EVENT), options=option(COMPLETE))
    assert again.decision["compliance"] == "COMPLIANT"
    assert "PutModelInvocationLoggingConfiguration" not in harness.clients.operations("bedrock")
    assert again.alerts == []


def test_remediate_mode_without_the_option_only_notifies_and_says_why(aws, harness):
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(DELETE_EVENT))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "notified"
    assert "not remediated yet: cdk.json bedrockInvocationLogging is not set" in run.decision["reason"]
    assert "PutModelInvocationLoggingConfiguration" not in harness.clients.operations("bedrock")
    assert run.alerts[0]["attributes"]["status"] == "notified"


def test_an_incomplete_option_is_never_applied(aws, harness):
    harness.set_mode(RULE, "remediate")
    half = {"s3Config": {"bucketName": "bedrock-logs"}, "textDataDeliveryEnabled": True}
    run = harness.invoke(RULE, event(DELETE_EVENT), options=option(half))
    assert run.decision["action"] == "notified"
    assert "is itself incomplete (image, embedding data delivery off)" in run.decision["reason"]
    assert logging_config(aws) == {}


def test_event_without_an_account_names_nothing(aws, harness):
    record = load_event(DELETE_EVENT)
    record.pop("recipientAccountId")
    record["userIdentity"].pop("accountId")
    delivered = as_cloudtrail_event(record)
    delivered["account"] = ""
    run = harness.invoke(RULE, delivered)
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.alerts == []


def test_sweep_judges_the_region_of_the_current_account(aws, harness):
    ctx = RuleContext(settings=RuntimeSettings(rule_id=RULE), clients=harness.clients)
    refs = get_rule(RULE).list_refs(ctx, REGION)
    assert [(r.resource_id, r.region) for r in refs] == [("123456789012", REGION)]
