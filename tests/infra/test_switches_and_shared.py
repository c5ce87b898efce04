"""The SSM switches (DESIGN §2.2) and the shared resources: key, alert topic, quarantine bucket, outputs."""

from __future__ import annotations

import pytest

from mlwarden.core.registry import rule_ids
from mlwarden.core.settings import ALLOW_REMEDIATION_TAG, KILL_SWITCH_PARAMETER
from tests.infra.cfn import Synth, allowed, as_list, conditions_hold, denied, render

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"  # what tests.infra.cfn.render puts for AWS::AccountId (region: us-east-1)
ALARM_ARN = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:mlwarden-s3-bucket-kms-encryption-errors"
FROM_ALARM = {"aws:SourceArn": ALARM_ARN, "aws:SourceAccount": ACCOUNT}
TLS = {"aws:SecureTransport": "true"}


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


def test_stack_key_rotates_and_lets_eventbridge_cloudwatch_logs_and_cloudwatch_alarms_use_it(default: Synth) -> None:
    _, key = default.only("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    services = {
        render(s["Principal"]["Service"]): set(as_list(s["Action"]))
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "Service" in s["Principal"]
    }
    assert set(services) == {"events.amazonaws.com", "logs.us-east-1.amazonaws.com", "cloudwatch.amazonaws.com"}
    # CloudWatch alarms cannot publish to a KMS-encrypted topic without these two
    assert services["cloudwatch.amazonaws.com"] == {"kms:Decrypt", "kms:GenerateDataKey*"}


def _key_use(account: str) -> dict[str, dict[str, str]]:
    """Per service principal of the key policy: the request context of that service using the stack key for a
    resource of ``account`` (an alarm publishing to an encrypted topic, a rule dead-lettering into an
    encrypted queue, a log group)."""
    region = "us-east-1"
    return {
        "cloudwatch.amazonaws.com": {
            "aws:SourceAccount": account,
            "aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:mlwarden-kms-key-rotation-errors",
            "kms:EncryptionContext:aws:sns:topicArn": f"arn:aws:sns:{region}:{account}:mlwarden-alarms",
        },
        "events.amazonaws.com": {
            "aws:SourceAccount": account,
            "aws:SourceArn": f"arn:aws:events:{region}:{account}:rule/mlwarden-rule",
        },
        f"logs.{region}.amazonaws.com": {
            "aws:SourceAccount": account,
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/x",
        },
    }


@pytest.mark.parametrize("name", ["default", "full"])
def test_attack_other_accounts_alarms_rules_and_log_groups_use_the_stack_key(
    name: str, request: pytest.FixtureRequest
) -> None:
    # Given the key policy's grants to AWS services (confused deputy: the service acts for any account)
    synth: Synth = request.getfixturevalue(name)
    _, key = synth.only("AWS::KMS::Key")
    services = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]
    assert services
    for statement in services:
        service = render(statement["Principal"]["Service"])
        # Then the service may use the key for this account's alarms, rules and log groups
        assert conditions_hold(statement, _key_use(ACCOUNT)[service]), service
        # And not for another account's, whatever that account's resources are called
        assert not conditions_hold(statement, _key_use("999999999999")[service]), service
        # CloudWatch and EventBridge state the account they act for (aws:SourceAccount); CloudWatch Logs
        # puts the log group's ARN, account included, in the encryption context the grant is bound to
        if service != "logs.us-east-1.amazonaws.com":
            assert render(statement["Condition"]["StringEquals"]["aws:SourceAccount"]) == ACCOUNT, service


@pytest.mark.parametrize("output, name", [("AlertTopicArn", "mlwarden-alerts"), ("AlarmTopicArn", "mlwarden-alarms")])
def test_topics_are_kms_encrypted_refuse_plain_http_and_are_exported(default: Synth, output: str, name: str) -> None:
    key, _ = default.only("AWS::KMS::Key")
    topic = default.topic_named(name)
    assert default.props(topic)["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert default.output_ref(output) == topic
    plain_http = {"aws:SecureTransport": "false", "aws:SourceArn": ALARM_ARN, "aws:SourceAccount": ACCOUNT}
    assert denied(default.topic_policy(topic), "sns:Publish", {"Service": "cloudwatch.amazonaws.com"}, plain_http)
    assert denied(default.topic_policy(topic), "sns:Publish", {"AWS": "<arn:AnyRole>"}, plain_http)


@pytest.mark.parametrize("name", ["default", "full", "withheld"])
def test_only_the_rule_functions_roles_can_publish_alerts(name: str, request: pytest.FixtureRequest) -> None:
    # Given the alert topic's policy and the rule roles' own IAM policies
    synth: Synth = request.getfixturevalue(name)
    topic = synth.output_ref("AlertTopicArn")
    policy = synth.topic_policy(topic)
    roles = [synth.role_of(rule_id) for rule_id in rule_ids()]
    # Then each rule role may publish: the topic policy does not deny it and its role allows it
    for rule_id, role in zip(rule_ids(), roles, strict=True):
        arn = f"<arn:{role}>"
        assert not denied(policy, "sns:Publish", {"AWS": arn}, {**TLS, "aws:PrincipalArn": arn}), rule_id
        assert synth.grants(rule_id)["sns:Publish"] == {f"<ref:{topic}>"}
    # And anyone else is denied whatever their IAM policies say: an admin of this account, another
    # account, an AWS service (no aws:PrincipalArn), even CloudWatch alarms of this account
    others = [
        {"AWS": "arn:aws:iam::123456789012:role/Admin"},
        {"AWS": "arn:aws:iam::123456789012:user/ci"},
        {"AWS": "arn:aws:iam::999999999999:role/mlwarden-s3-bucket-kms-encryption"},
    ]
    for principal in others:
        assert denied(policy, "sns:Publish", principal, {**TLS, "aws:PrincipalArn": principal["AWS"]}), principal
    assert denied(policy, "sns:Publish", {"Service": "cloudwatch.amazonaws.com"}, {**TLS, **FROM_ALARM})
    assert not [s for s in policy if s["Effect"] == "Allow"]


@pytest.mark.parametrize("name", ["default", "full"])
def test_only_cloudwatch_alarms_of_this_account_can_publish_to_the_alarm_topic(
    name: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(name)
    policy = synth.topic_policy(synth.output_ref("AlarmTopicArn"))
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}
    # Then an alarm of this account may publish
    assert allowed(policy, "sns:Publish", cloudwatch, {**TLS, **FROM_ALARM})
    # And an alarm of another account may not (confused deputy), nor any principal, nor the rule functions
    other_account = {
        "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:999999999999:alarm:x",
        "aws:SourceAccount": "9" * 12,
    }
    assert denied(policy, "sns:Publish", cloudwatch, {**TLS, **other_account})
    # (the Allow alone is limited to this account too: the Deny is a second guard, not the only one)
    allows = [s for s in policy if s["Effect"] == "Allow"]
    assert not allowed(allows, "sns:Publish", cloudwatch, {**TLS, **other_account})
    assert not allowed(allows, "sns:Publish", cloudwatch, {**TLS, "aws:SourceArn": other_account["aws:SourceArn"]})
    assert denied(policy, "sns:Publish", {"Service": "events.amazonaws.com"}, {**TLS, "aws:SourceAccount": ACCOUNT})
    for role in [synth.role_of(rule_id) for rule_id in rule_ids()] + ["arn:aws:iam::123456789012:role/Admin"]:
        principal = role if role.startswith("arn:") else f"<arn:{role}>"
        assert denied(policy, "sns:Publish", {"AWS": principal}, {**TLS, "aws:PrincipalArn": principal})


def test_alarm_emails_become_email_subscriptions_of_the_alarm_topic_only(full: Synth, default: Synth) -> None:
    # Given cdk.json alarmEmails and notificationEmails
    alarms = full.output_ref("AlarmTopicArn")
    alerts = full.output_ref("AlertTopicArn")
    # Then each list subscribes to its own topic
    assert full.subscriptions_of(alarms) == [("email", "oncall@example.com"), ("email", "platform-alarms@example.com")]
    assert ("email", "oncall@example.com") not in full.subscriptions_of(alerts)
    assert default.subscriptions_of(default.output_ref("AlarmTopicArn")) == []


def test_every_queue_is_kms_encrypted_with_the_stack_key_and_refuses_plain_http(default: Synth) -> None:
    key, _ = default.only("AWS::KMS::Key")
    queues = list(default.resources("AWS::SQS::Queue"))
    assert len(queues) == len(rule_ids()) + 1  # and the tamper watch's dead-letter queue
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
    topic = full.output_ref("AlertTopicArn")
    assert full.subscriptions_of(topic) == [("email", "ml-platform@example.com"), ("email", "secops@example.com")]
    assert ("email", "secops@example.com") not in full.subscriptions_of(full.output_ref("AlarmTopicArn"))


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


# Where each resource type that holds data names its KMS key.
KMS_KEY_OF = {
    "AWS::SNS::Topic": lambda p: p.get("KmsMasterKeyId"),
    "AWS::SQS::Queue": lambda p: p.get("KmsMasterKeyId"),
    "AWS::DynamoDB::Table": lambda p: (p.get("SSESpecification") or {}).get("KMSMasterKeyId"),
    "AWS::Logs::LogGroup": lambda p: p.get("KmsKeyId"),
    "AWS::S3::Bucket": lambda p: p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ].get("KMSMasterKeyID"),
}


@pytest.mark.parametrize("name", ["default", "full"])
def test_everything_that_holds_data_is_encrypted_with_the_stack_key(name: str, request: pytest.FixtureRequest) -> None:
    # Given every topic, queue, table, log group and bucket of the stack
    synth: Synth = request.getfixturevalue(name)
    key, _ = synth.only("AWS::KMS::Key")
    holders = [(lid, r) for lid, r in synth.template["Resources"].items() if r["Type"] in KMS_KEY_OF]
    # Then each is encrypted at rest with the stack's customer key
    assert len(holders) >= 2 + 2 + 2 * len(rule_ids())
    for logical_id, resource in holders:
        assert KMS_KEY_OF[resource["Type"]](resource["Properties"]) == {"Fn::GetAtt": [key, "Arn"]}, logical_id
