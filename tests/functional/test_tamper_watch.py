"""The tamper watch's handler against the local account: a switch changed or a resource exempted by tag
comes out of the ALARM topic (read through an SQS queue subscribed to it) naming who did it."""

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
RULE = "iam-admin-policy-attached"
# What the watch's role grants besides logs, the key and its dead-letter queue (stacks/watch.py).
GRANTED_CALLS = {("ssm", "GetParameter"), ("sns", "Publish")}


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
    assert tamper_watch.calls() == GRANTED_CALLS


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


def test_malformed_input_is_rejected_for_the_dead_letter_queue(tamper_watch: Watch) -> None:
    from mlwarden.core.events import MalformedEvent

    with pytest.raises(MalformedEvent):
        tamper_watch.invoke({"not": "an event"})
    assert tamper_watch.alarms() == []
