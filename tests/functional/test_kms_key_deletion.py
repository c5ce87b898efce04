"""kms-key-deletion against the local account: a key scheduled for deletion or disabled is reported (CRITICAL
when it guards mlwarden data), and in remediate mode the deletion is cancelled and the key re-enabled; AWS
managed keys, deleted keys and exempt keys are left alone."""

from __future__ import annotations

import pytest

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "kms-key-deletion"
SCHEDULE_EVENT = "handwritten/cloudtrail-kms-ScheduleKeyDeletion.json"
DISABLE_EVENT = "handwritten/cloudtrail-kms-DisableKey.json"
REGION = "us-west-2"  # the records' Region


def key(aws, **kwargs) -> dict:
    return aws.client("kms", REGION).create_key(**kwargs)["KeyMetadata"]


def event(fixture: str, key_arn: str) -> dict:
    return as_cloudtrail_event(
        load_event(fixture),
        requestParameters__keyId=key_arn,
        resources=[{"accountId": "123456789012", "type": "AWS::KMS::Key", "ARN": key_arn}],
    )


def scheduled_key(aws, **kwargs) -> dict:
    metadata = key(aws, **kwargs)
    aws.client("kms", REGION).schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    return metadata


def key_state(aws, key_id: str) -> str:
    return aws.client("kms", REGION).describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def test_key_scheduled_for_deletion_in_notify_mode_alerts_and_changes_nothing(aws, harness):
    metadata = scheduled_key(aws, Description="feature store key")
    run = harness.invoke(RULE, event(SCHEDULE_EVENT, metadata["Arn"]))
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["controls"] == ["KMS.3"]
    assert "key is scheduled for deletion on " in decision["reason"]
    assert "(6 days left)" in decision["reason"] or "(7 days left)" in decision["reason"]
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: {metadata['KeyId']} non-compliant"
    assert alert["body"]["before"]["KeyState"] == "PendingDeletion"
    assert alert["body"]["before"]["DeletionDate"]
    assert alert["body"]["remediation"] == "cancel the deletion (CancelKeyDeletion) and re-enable the key (EnableKey)"
    assert key_state(aws, metadata["KeyId"]) == "PendingDeletion"


def test_remediate_mode_cancels_the_deletion_and_enables_the_key_once(aws, harness):
    metadata = scheduled_key(aws)
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(SCHEDULE_EVENT, metadata["Arn"]))
    assert run.decision["action"] == "remediated"
    # CancelKeyDeletion alone would leave the key Disabled
    assert key_state(aws, metadata["KeyId"]) == "Enabled"
    assert run.alerts[0]["body"]["remediation"] == (
        "cancelled the scheduled deletion (CancelKeyDeletion); re-enabled the key (EnableKey)"
    )
    first = list(harness.clients.operations("kms"))
    assert first[-2:] == ["CancelKeyDeletion", "EnableKey"]
    again = harness.invoke(RULE, event(SCHEDULE_EVENT, metadata["Arn"]))
    assert again.decision["compliance"] == "COMPLIANT"
    assert again.alerts == []
    assert harness.clients.operations("kms")[len(first) :] == ["DescribeKey"]


def test_disabled_key_is_re_enabled(aws, harness):
    metadata = key(aws)
    aws.client("kms", REGION).disable_key(KeyId=metadata["KeyId"])
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(DISABLE_EVENT, metadata["Arn"]))
    assert run.decision["reason"].startswith("key is disabled")
    assert run.decision["action"] == "remediated"
    assert key_state(aws, metadata["KeyId"]) == "Enabled"
    assert "CancelKeyDeletion" not in harness.clients.operations("kms")


def test_key_configured_in_cdk_json_is_critical(aws, harness):
    metadata = scheduled_key(aws)
    run = harness.invoke(RULE, event(SCHEDULE_EVENT, metadata["Arn"]), kms_key_arn=metadata["Arn"])
    assert run.alerts[0]["attributes"]["severity"] == "CRITICAL"
    assert run.alerts[0]["subject"].startswith("[CRITICAL]")
    assert "it guards ML data (it is the cdk.json kmsKeyArn" in run.decision["reason"]


def test_key_tagged_guarded_is_critical(aws, harness):
    metadata = scheduled_key(aws, Tags=[{"TagKey": "mlwarden:guarded", "TagValue": "s3://training-data"}])
    run = harness.invoke(RULE, event(DISABLE_EVENT, metadata["Arn"]))
    assert run.alerts[0]["attributes"]["severity"] == "CRITICAL"
    assert run.alerts[0]["body"]["details"]["guarded"] == "it is tagged mlwarden:guarded"


def test_enabled_key_is_compliant_with_one_read(aws, harness):
    metadata = key(aws)
    run = harness.invoke(RULE, event(DISABLE_EVENT, metadata["Arn"]))
    assert run.decision["compliance"] == "COMPLIANT"
    assert harness.clients.operations("kms") == ["DescribeKey"]


def test_aws_managed_key_is_not_applicable(aws, harness):
    metadata = key(aws)
    harness.clients.patch(
        "kms",
        "DescribeKey",
        lambda answer: answer["KeyMetadata"].update(KeyManager="AWS", KeyState="PendingDeletion"),
    )
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(SCHEDULE_EVENT, metadata["Arn"]))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "AWS managed key" in run.decision["reason"]
    assert run.alerts == []


def test_deleted_key_is_not_applicable_and_silent(aws, harness):
    gone = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    run = harness.invoke(RULE, event(SCHEDULE_EVENT, gone))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.alerts == []


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_exempt_key_is_never_changed(aws, harness, mode):
    metadata = scheduled_key(
        aws,
        Tags=[
            {"TagKey": "mlwarden:exempt", "TagValue": "all"},
            {"TagKey": "mlwarden:exempt-reason", "TagValue": "retiring the old pipeline"},
            {"TagKey": "mlwarden:exempt-until", "TagValue": EXEMPT_UNTIL},
        ],
    )
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, event(SCHEDULE_EVENT, metadata["Arn"]))
    assert run.decision["action"] == "exempt"
    assert_exempt_alert(run)
    assert key_state(aws, metadata["KeyId"]) == "PendingDeletion"
    # the tags read for the severity serve the exemption too: one ListResourceTags
    assert harness.clients.operations("kms").count("ListResourceTags") == 1


def test_periodic_sweep_catches_a_deletion_whose_event_was_missed(aws, harness):
    kms = aws.client("kms", "us-east-1")
    doomed = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=30)
    healthy = kms.create_key()["KeyMetadata"]["KeyId"]
    event = load_event("config-invocation/powertools-config-scheduled-notification.json")
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        doomed: "NON_COMPLIANT",
        healthy: "COMPLIANT",
    }
    (reason,) = [d["reason"] for d in run.decisions if d["resource_id"] == doomed]
    assert "(29 days left)" in reason or "(30 days left)" in reason
