"""kms-key-rotation against the local account, from the real DisableKeyRotation record of the KMS developer
guide: customer managed symmetric keys are reported and get rotation back; keys whose rotation nobody can turn
on (AWS managed, asymmetric, HMAC, imported material, disabled or pending deletion) are NOT_APPLICABLE."""

from __future__ import annotations

import pytest

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "kms-key-rotation"
SAMPLE = "cloudtrail-other/awsdocs-kms-DisableKeyRotation.json"
REGION = "us-west-2"  # the sample's Region


def key(aws, **kwargs) -> dict:
    return aws.client("kms", REGION).create_key(**kwargs)["KeyMetadata"]


def disable_rotation_event(key_arn: str) -> dict:
    """The documented record, naming a key of the local account (its ARN carries Region and account)."""
    return as_cloudtrail_event(
        load_event(SAMPLE),
        requestParameters__keyId=key_arn,
        resources=[{"accountId": "123456789012", "type": "AWS::KMS::Key", "ARN": key_arn}],
    )


def rotation_enabled(aws, key_id: str) -> bool:
    return aws.client("kms", REGION).get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]


def test_documented_record_names_the_key_by_arn_and_its_region():
    from mlwarden.core.registry import get_rule

    sample = as_cloudtrail_event(load_event(SAMPLE))
    (ref,) = get_rule(RULE).refs_from_event(sample)
    assert (ref.resource_id, ref.region, ref.account) == (
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "us-west-2",
        "111122223333",
    )


def test_key_without_rotation_in_notify_mode_alerts_and_changes_nothing(aws, harness):
    metadata = key(aws, Description="training data key")
    run = harness.invoke(RULE, disable_rotation_event(metadata["Arn"]))
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_arn"] == metadata["Arn"]
    assert decision["region"] == REGION
    assert decision["controls"] == ["KMS.4"]
    alert = run.alerts[0]
    assert alert["subject"] == f"[MEDIUM] {RULE}: {metadata['KeyId']} non-compliant"
    assert alert["body"]["before"] == {"KeyRotationEnabled": False, "KeyState": "Enabled"}
    assert "EnableKeyRotation" in alert["body"]["remediation"]
    assert alert["body"]["details"]["description"] == "training data key"
    assert f"#/kms/keys/{metadata['KeyId']}" in alert["body"]["console_url"]
    assert not rotation_enabled(aws, metadata["KeyId"])


def test_remediate_mode_enables_rotation_and_a_second_delivery_changes_nothing(aws, harness):
    metadata = key(aws)
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, disable_rotation_event(metadata["Arn"]))
    assert run.decision["action"] == "remediated"
    assert rotation_enabled(aws, metadata["KeyId"])
    assert run.alerts[0]["body"]["after"] == {"KeyRotationEnabled": True}
    again = harness.invoke(RULE, disable_rotation_event(metadata["Arn"]))
    assert again.decision["compliance"] == "COMPLIANT"
    assert again.alerts == []
    assert harness.clients.operations("kms").count("EnableKeyRotation") == 1  # both runs


def test_key_with_rotation_is_compliant_in_two_reads(aws, harness):
    metadata = key(aws)
    aws.client("kms", REGION).enable_key_rotation(KeyId=metadata["KeyId"])
    run = harness.invoke(RULE, disable_rotation_event(metadata["Arn"]))
    assert run.decision["compliance"] == "COMPLIANT"
    assert harness.clients.operations("kms") == ["DescribeKey", "GetKeyRotationStatus"]


@pytest.mark.parametrize(
    ("create", "reason"),
    [
        ({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}, "asymmetric key (RSA_2048)"),
        ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}, "HMAC key (HMAC_256)"),
        ({"Origin": "EXTERNAL"}, "imported key material (Origin EXTERNAL)"),
    ],
)
def test_keys_that_cannot_rotate_automatically_are_not_applicable(aws, harness, create, reason):
    metadata = key(aws, **create)
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, disable_rotation_event(metadata["Arn"]))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert reason in run.decision["reason"]
    assert run.alerts == []
    assert harness.clients.operations("kms") == ["DescribeKey"]


def test_aws_managed_key_is_not_applicable(aws, harness):
    # moto cannot create AWS managed keys: DescribeKey answers as it does for aws/s3
    metadata = key(aws)
    harness.clients.patch("kms", "DescribeKey", lambda answer: answer["KeyMetadata"].update(KeyManager="AWS"))
    run = harness.invoke(RULE, disable_rotation_event(metadata["Arn"]))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["reason"].startswith("AWS managed key")


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
def test_disabled_or_pending_deletion_key_is_not_applicable(aws, harness, state):
    metadata = key(aws)
    kms = aws.client("kms", REGION)
    if state == "Disabled":
        kms.disable_key(KeyId=metadata["KeyId"])
    else:
        kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, disable_rotation_event(metadata["Arn"]))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert f"key is {state}" in run.decision["reason"]
    assert "EnableKeyRotation" not in harness.clients.operations("kms")


def test_deleted_key_is_not_applicable_and_silent(aws, harness):
    gone = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    run = harness.invoke(RULE, disable_rotation_event(gone))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_exempt_key_is_never_changed(aws, harness, mode):
    metadata = key(
        aws,
        Tags=[
            {"TagKey": "mlwarden:exempt", "TagValue": f"kms-key-deletion+{RULE}"},
            {"TagKey": "mlwarden:exempt-reason", "TagValue": "short-lived test key"},
            {"TagKey": "mlwarden:exempt-until", "TagValue": EXEMPT_UNTIL},
        ],
    )
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, disable_rotation_event(metadata["Arn"]))
    assert run.decision["action"] == "exempt"
    assert "short-lived test key" in run.decision["reason"]
    assert_exempt_alert(run)
    assert not rotation_enabled(aws, metadata["KeyId"])


def test_periodic_sweep_judges_every_key_of_the_region(aws, harness):
    # Keys are created with rotation off: the Config rule (change-triggered on AWS::KMS::Key, and periodic)
    # is what catches a new key; this is its periodic sweep of the function's Region
    kms = aws.client("kms", "us-east-1")
    plain = kms.create_key()["KeyMetadata"]["KeyId"]
    rotating = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=rotating)
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    aws.client("kms", REGION).create_key()  # another Region: not this sweep's
    event = load_event("config-invocation/powertools-config-scheduled-notification.json")
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        plain: "NON_COMPLIANT",
        rotating: "COMPLIANT",
        signing: "NOT_APPLICABLE",
    }
    assert [a["body"]["resource_id"] for a in run.alerts] == [plain]
