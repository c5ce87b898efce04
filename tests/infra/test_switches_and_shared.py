"""The SSM switches (DESIGN §2.2) and the shared resources: key, alert topic, quarantine bucket, outputs."""

from __future__ import annotations

import pytest

from mlwarden.core.registry import rule_ids
from mlwarden.core.settings import ALLOW_REMEDIATION_TAG, KILL_SWITCH_PARAMETER
from tests.infra.cfn import Synth, render

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("rule_id", rule_ids())
def test_mode_parameter_starts_at_notify_and_says_remediation_is_allowed(default: Synth, rule_id: str) -> None:
    parameter = default.parameter(f"/mlwarden/rules/{rule_id}/mode")
    assert parameter["Type"] == "String"
    assert parameter["Value"] == "notify"
    assert parameter["Tags"] == {ALLOW_REMEDIATION_TAG: "true"}
    assert "allowRemediation=true" in parameter["Description"]


@pytest.mark.parametrize("rule_id", rule_ids())
def test_mode_parameter_follows_context_and_records_withheld_remediation(
    withheld: Synth, full: Synth, rule_id: str
) -> None:
    # Given allowRemediation: false and mode "off" / When reading the mode parameter
    parameter = withheld.parameter(f"/mlwarden/rules/{rule_id}/mode")
    # Then the CLI's toggle can tell that remediation was withheld
    assert parameter["Value"] == "off"
    assert parameter["Tags"] == {ALLOW_REMEDIATION_TAG: "false"}
    assert "allowRemediation=false" in parameter["Description"]
    assert full.parameter(f"/mlwarden/rules/{rule_id}/mode")["Value"] == "remediate"


def test_kill_switch_exists_and_is_off(default: Synth) -> None:
    assert default.parameter(KILL_SWITCH_PARAMETER)["Value"] == "off"


def test_the_stack_has_only_the_mode_parameters_and_the_kill_switch(default: Synth) -> None:
    names = sorted(r["Properties"]["Name"] for _, r in default.resources("AWS::SSM::Parameter"))
    assert names == sorted([KILL_SWITCH_PARAMETER] + [f"/mlwarden/rules/{r}/mode" for r in rule_ids()])


def test_stack_key_rotates_and_lets_eventbridge_and_cloudwatch_logs_use_it(default: Synth) -> None:
    _, key = default.only("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    services = {
        render(s["Principal"]["Service"])
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "Service" in s["Principal"]
    }
    assert services == {"events.amazonaws.com", "logs.us-east-1.amazonaws.com"}


def test_alert_topic_is_kms_encrypted_refuses_plain_http_and_is_exported(default: Synth) -> None:
    key, _ = default.only("AWS::KMS::Key")
    topic, props = default.only("AWS::SNS::Topic")
    assert props["Properties"]["TopicName"] == "mlwarden-alerts"
    assert props["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    _, policy = default.only("AWS::SNS::TopicPolicy")
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert [s["Condition"] for s in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]
    assert default.template["Outputs"]["AlertTopicArn"]["Value"] == {"Ref": topic}


def test_every_queue_is_kms_encrypted_with_the_stack_key_and_refuses_plain_http(default: Synth) -> None:
    key, _ = default.only("AWS::KMS::Key")
    queues = list(default.resources("AWS::SQS::Queue"))
    assert len(queues) == len(rule_ids())
    for logical_id, queue in queues:
        assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}, logical_id
        (policy,) = [
            r["Properties"]["PolicyDocument"]
            for _, r in default.resources("AWS::SQS::QueuePolicy")
            if r["Properties"]["Queues"] == [{"Ref": logical_id}]
        ]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Statement"]
        )


def test_no_email_subscription_and_no_quarantine_bucket_by_default(default: Synth) -> None:
    assert list(default.resources("AWS::SNS::Subscription")) == []
    assert list(default.resources("AWS::S3::Bucket")) == []
    assert "QuarantineBucketName" not in default.template["Outputs"]


def test_notification_emails_become_email_subscriptions_of_the_alert_topic(full: Synth) -> None:
    topic, _ = full.only("AWS::SNS::Topic")
    subscriptions = sorted(
        (r["Properties"]["Protocol"], r["Properties"]["Endpoint"], r["Properties"]["TopicArn"]["Ref"])
        for _, r in full.resources("AWS::SNS::Subscription")
    )
    assert subscriptions == [
        ("email", "ml-platform@example.com", topic),
        ("email", "secops@example.com", topic),
    ]


def test_quarantine_bucket_is_private_versioned_kms_encrypted_and_tls_only(full: Synth) -> None:
    key, _ = full.only("AWS::KMS::Key")
    bucket, resource = full.only("AWS::S3::Bucket")
    props = resource["Properties"]
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]},
    }
    assert encryption["BucketKeyEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert resource["DeletionPolicy"] == "Retain"
    _, policy = full.only("AWS::S3::BucketPolicy")
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
    assert full.template["Outputs"]["QuarantineBucketName"]["Value"] == {"Ref": bucket}
