"""The tamper watch's handler against the local account: a switch changed, a resource exempted by tag, or one of
mlwarden's own EventBridge rules, schedules or Config rules changed comes out of the ALARM topic (read through an
SQS queue subscribed to it) naming who did it. Every AWS call is moto's; none is canned."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlwarden import watch
from mlwarden.core import tamper
from mlwarden.core.settings import KILL_SWITCH_PARAMETER, mode_parameter_name
from tests.conftest import as_cloudtrail_event, load_event
from tests.functional.conftest import TestClients

MODE_OFF = "handwritten/cloudtrail-ssm-PutParameter-rule-mode-off-by-assumed-role.json"
KILL_SWITCH_ON = "handwritten/cloudtrail-ssm-PutParameter-kill-switch-on-by-iam-user.json"
BUCKET_EXEMPT = "handwritten/cloudtrail-s3-PutBucketTagging-mlwarden-exempt-all.json"
BUCKET_OTHER_TAGS = "handwritten/cloudtrail-s3-PutBucketTagging-no-mlwarden-tags.json"
FEATURE_GROUP_CREATED_EXEMPT = "handwritten/cloudtrail-sagemaker-CreateFeatureGroup-with-mlwarden-exempt-tag.json"
RULE_DISABLED = "handwritten/cloudtrail-events-DisableRule-mlwarden-rule.json"
SCHEDULE_DELETED = "handwritten/cloudtrail-scheduler-DeleteSchedule-mlwarden-sweep.json"
CONFIG_RULE_BY_ARN = "handwritten/cloudtrail-config-PutConfigRule-named-by-arn-only.json"
RULE = "iam-admin-policy-attached"
# What the watch's role grants besides logs, the key and its dead-letter queue (mlwarden_cdk/watch.py).
GRANTED_CALLS = {("ssm", "GetParameter"), ("sns", "Publish"), ("config", "DescribeConfigRules")}


class Watch:
    def __init__(self, aws: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> None:
        self.aws = aws
        self.context = lambda_context
        sns, sqs = aws.client("sns"), aws.client("sqs")
        self.topic_arn = sns.create_topic(Name="mlwarden-alarms")["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName="alarms")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv(tamper.ENV_ALARM_TOPIC_ARN, self.topic_arn)
        self.clients = TestClients(session=aws.session)
        monkeypatch.setattr(watch, "clients", lambda: self.clients)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return watch.handler(event, self.context)

    def alarms(self) -> list[dict[str, Any]]:
        sqs = self.aws.client("sqs")
        out = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                out.append({"subject": envelope["Subject"], "body": json.loads(envelope["Message"])})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def calls(self) -> set[tuple[str, str]]:
        return {(c.service, c.operation) for c in self.clients.calls}


@pytest.fixture
def tamper_watch(aws, monkeypatch, lambda_context) -> Watch:
    return Watch(aws, monkeypatch, lambda_context)


def test_attack_rule_switched_off_silently_is_reported(aws, tamper_watch: Watch) -> None:
    # Given someone switched the IAM admin rule off (CloudTrail hides the value they wrote)
    aws.client("ssm").put_parameter(Name=mode_parameter_name(RULE), Value="off", Type="String", Overwrite=True)
    # When the watch receives the PutParameter call
    result = tamper_watch.invoke(as_cloudtrail_event(load_event(MODE_OFF)))
    # Then one alarm names the parameter, the value read back and the caller (role and session)
    (alarm,) = tamper_watch.alarms()
    assert alarm["subject"] == (
        "[mlwarden] /mlwarden/rules/iam-admin-policy-attached/mode set to off by role/PlatformOps"
    )
    body = alarm["body"]
    assert body["kind"] == "switch" and body["parameter"] == mode_parameter_name(RULE) and body["value"] == "off"
    assert body["caller_arn"] == "arn:aws:sts::123456789012:assumed-role/PlatformOps/alice"
    assert body["role_arn"] == "arn:aws:iam::123456789012:role/PlatformOps"
    assert body["session_name"] == "alice"
    assert body["event_id"] == load_event(MODE_OFF)["eventID"]
    assert result["reported"][0]["target"] == mode_parameter_name(RULE)
    # And the watch used only what its role grants
    assert tamper_watch.calls() == {("ssm", "GetParameter"), ("sns", "Publish")}


def test_attack_kill_switch_pulled_is_reported(aws, tamper_watch: Watch) -> None:
    aws.client("ssm").put_parameter(Name=KILL_SWITCH_PARAMETER, Value="on", Type="String", Overwrite=True)
    tamper_watch.invoke(as_cloudtrail_event(load_event(KILL_SWITCH_ON)))
    (alarm,) = tamper_watch.alarms()
    assert alarm["subject"] == "[mlwarden] /mlwarden/kill-switch set to on by arn:aws:iam::123456789012:user/mallory"
    assert "every remediation is stopped" in alarm["body"]["summary"]


def test_attack_bucket_exempted_by_tag_is_reported(tamper_watch: Watch) -> None:
    tamper_watch.invoke(as_cloudtrail_event(load_event(BUCKET_EXEMPT)))
    (alarm,) = tamper_watch.alarms()
    assert alarm["subject"] == "[mlwarden] mlwarden:exempt=all set on ml-training-data by role/DataScientist"
    assert alarm["body"]["tags"] == {"mlwarden:exempt": "all", "mlwarden:exempt-reason": "needed for the demo"}
    # No SSM read for a tag change
    assert tamper_watch.calls() == {("sns", "Publish")}


def test_tag_change_without_mlwarden_keys_sends_nothing(tamper_watch: Watch) -> None:
    result = tamper_watch.invoke(as_cloudtrail_event(load_event(BUCKET_OTHER_TAGS)))
    assert result == {"kind": "exemption", "reported": []}
    assert tamper_watch.alarms() == []
    assert tamper_watch.calls() == set()


def test_attack_resource_created_already_exempt_is_reported(tamper_watch: Watch) -> None:
    # CreateFeatureGroup takes Tags: a group created exempt never needs a tagging call
    tamper_watch.invoke(as_cloudtrail_event(load_event(FEATURE_GROUP_CREATED_EXEMPT)))
    (alarm,) = tamper_watch.alarms()
    assert alarm["subject"] == (
        "[mlwarden] mlwarden:exempt=sagemaker-feature-group-kms set on ...up/customer-features by user/intern"
    )
    body = alarm["body"]
    assert body["event_name"] == "CreateFeatureGroup"
    assert body["resource"] == "arn:aws:sagemaker:us-east-1:123456789012:feature-group/customer-features"


def test_attack_rule_cut_off_from_its_events_and_its_sweep_is_reported(tamper_watch: Watch) -> None:
    # Given someone disabled a rule's EventBridge rule and deleted another's sweep schedule (no switch touched)
    for name in (RULE_DISABLED, SCHEDULE_DELETED):
        tamper_watch.invoke(as_cloudtrail_event(load_event(name)))
    # Then each comes out of the alarm topic naming the resource, the change and the caller
    subjects = sorted(alarm["subject"] for alarm in tamper_watch.alarms())
    assert subjects == [
        "[mlwarden] EventBridge rule mlwarden-s3-bucket-public-access disabled by role/PlatformOps",
        "[mlwarden] schedule mlwarden-bedrock-agentcore-memory-kms deleted by role/PlatformOps",
    ]
    # And nothing was read to say so
    assert tamper_watch.calls() == {("sns", "Publish")}


def test_attack_config_rule_replaced_by_arn_is_resolved_to_mlwardens_rule(aws, tamper_watch: Watch) -> None:
    # Given mlwarden's Config rule (an AWS managed source here: moto checks a custom rule's function exists)
    config = aws.client("config")
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "mlwarden-kms-key-rotation",
            "Source": {"Owner": "AWS", "SourceIdentifier": "CMK_BACKING_KEY_ROTATION_ENABLED"},
        }
    )
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "team-rule",
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"},
        }
    )
    rules = {r["ConfigRuleName"]: r for r in config.describe_config_rules()["ConfigRules"]}
    record = load_event(CONFIG_RULE_BY_ARN)
    # When a PutConfigRule named it by its ARN alone (the ARN carries no part of the name)
    record["requestParameters"]["configRule"]["configRuleArn"] = rules["mlwarden-kms-key-rotation"]["ConfigRuleArn"]
    tamper_watch.invoke(as_cloudtrail_event(record))
    # Then the watch asked AWS Config which rule that is, and the alarm names it
    (alarm,) = tamper_watch.alarms()
    assert alarm["subject"] == "[mlwarden] Config rule mlwarden-kms-key-rotation replaced by role/PlatformOps"
    assert alarm["body"]["named_by"] == rules["mlwarden-kms-key-rotation"]["ConfigRuleArn"]
    # And another team's rule named the same way makes no alarm
    record["requestParameters"]["configRule"]["configRuleArn"] = rules["team-rule"]["ConfigRuleArn"]
    assert tamper_watch.invoke(as_cloudtrail_event(record)) == {"kind": "control", "reported": []}
    assert tamper_watch.alarms() == []
    assert tamper_watch.calls() == {("config", "DescribeConfigRules"), ("sns", "Publish")}


def test_every_grant_of_the_watch_is_used_and_every_call_granted(aws, tamper_watch: Watch) -> None:
    # The watch's least-privilege proof: a switch change (value read back), an exemption and a Config rule
    # named by ARN (resolved) together make exactly the calls its role grants, no more and no fewer
    aws.client("ssm").put_parameter(Name=mode_parameter_name(RULE), Value="off", Type="String", Overwrite=True)
    aws.client("config").put_config_rule(
        ConfigRule={
            "ConfigRuleName": "mlwarden-kms-key-rotation",
            "Source": {"Owner": "AWS", "SourceIdentifier": "CMK_BACKING_KEY_ROTATION_ENABLED"},
        }
    )
    by_arn = load_event(CONFIG_RULE_BY_ARN)
    by_arn["requestParameters"]["configRule"]["configRuleArn"] = aws.client("config").describe_config_rules()[
        "ConfigRules"
    ][0]["ConfigRuleArn"]
    for record in (load_event(MODE_OFF), load_event(BUCKET_EXEMPT), by_arn):
        tamper_watch.invoke(as_cloudtrail_event(record))
    assert len(tamper_watch.alarms()) == 3
    assert tamper_watch.calls() == GRANTED_CALLS


def test_malformed_input_is_rejected_for_the_dead_letter_queue(tamper_watch: Watch) -> None:
    from mlwarden.core.events import MalformedEvent

    with pytest.raises(MalformedEvent):
        tamper_watch.invoke({"not": "an event"})
    assert tamper_watch.alarms() == []


def test_attack_in_a_member_account_is_reported_naming_that_account(tamper_watch: Watch) -> None:
    # Given, in member account 210987654321, someone detached the policy of a rule's member role, disabled a
    # forwarding rule and exempted a bucket by tag; the member template forwards each to the central bus
    member = "210987654321"
    detached = load_event("handwritten/cloudtrail-iam-AttachRolePolicy-AdministratorAccess.json")
    changes = {"recipientAccountId": member, "userIdentity__accountId": member}
    for record, more in (
        (detached, {"eventName": "DetachRolePolicy", "requestParameters__roleName": "mlwarden-member-x"}),
        (load_event(RULE_DISABLED), {}),
        (load_event(BUCKET_EXEMPT), {}),
    ):
        event = as_cloudtrail_event(record, **changes, **more)
        event["account"] = member  # AWS keeps the sender's account on a cross-account delivery
        tamper_watch.invoke(event)
    # Then each alarm names the member account, in its subject and its body, and nothing was read there
    alarms = tamper_watch.alarms()
    assert len(alarms) == 3
    for alarm in alarms:
        assert alarm["subject"].startswith(f"[mlwarden] {member}: "), alarm["subject"]
        assert alarm["body"]["account"] == member and alarm["body"]["member_account"] is True
        assert alarm["body"]["summary"].startswith(f"In member account {member} ")
    assert tamper_watch.calls() == {("sns", "Publish")}
