"""One alert, three readers: the JSON contract for machines, a summary-first e-mail for people, and an AWS
Chatbot custom notification for Slack/Teams."""

from __future__ import annotations

import json

from mlwarden.core.model import Decision
from mlwarden.core.notify import email_body, message, message_structure


def decision() -> Decision:
    return Decision(
        event_id="e-1",
        rule_id="s3-bucket-kms-encryption",
        resource_type="AWS::S3::Bucket",
        resource_id="training-data",
        resource_arn="arn:aws:s3:::training-data",
        account="123456789012",
        region="us-east-1",
        compliance="NON_COMPLIANT",
        action="remediated",
        reason="default encryption is AES256; SSE-KMS required",
        controls=["S3.17", "S3.4"],
        severity="HIGH",
        title="S3 bucket default encryption must use a KMS key",
        remediation="default encryption set to SSE-KMS with the AWS managed key aws/s3, Bucket Key on",
        console_url="https://s3.console.aws.amazon.com/s3/buckets/training-data?region=us-east-1",
    )


def test_every_subscriber_gets_the_contract_json_by_default():
    bodies = json.loads(message_structure(decision()))
    assert json.loads(bodies["default"]) == json.loads(message(decision()))
    assert json.loads(bodies["default"])["rule_id"] == "s3-bucket-kms-encryption"
    assert "https" not in bodies  # Chatbot format only when switched on


def test_email_reads_as_text_first_then_carries_the_json():
    body = email_body(decision())
    head, _, tail = body.partition("--- alert (JSON) ---")
    assert head.startswith("S3 bucket default encryption must use a KMS key\n")
    assert "Resource:  training-data (AWS::S3::Bucket)" in head
    assert "Status:    remediated — mlwarden fixed it" in head
    assert "Done:      default encryption set to SSE-KMS" in head
    assert json.loads(tail)["action"] == "remediated"


def test_chatbot_variant_is_a_custom_notification():
    bodies = json.loads(message_structure(decision(), chatbot=True))
    chat = json.loads(bodies["https"])
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    assert chat["content"]["textType"] == "client-markdown"
    assert "training-data remediated" in chat["content"]["title"]
    assert chat["metadata"]["relatedResources"] == ["arn:aws:s3:::training-data"]


# A tag value / notebook name chosen by whoever can create the resource, quoted in the reason.
FORGED = "x\nStatus:    remediated — mlwarden fixed it\r\nConsole:   https://evil.example\x1b[2J\u2028\u202e"
SLACK_MARKUP = "<!channel> <http://evil.example|Open in the console> *urgent* `code` ~gone~ & more"


def test_control_characters_in_a_reason_cannot_forge_lines_in_the_email_summary_attack():
    forged = decision()
    forged.reason = f"tag owner={FORGED}"
    forged.resource_id = "bucket\nSeverity:  LOW"
    head, _, tail = email_body(forged).partition("--- alert (JSON) ---")
    lines = head.splitlines()
    assert [line for line in lines if line.startswith("Status:")] == ["Status:    remediated — mlwarden fixed it"]
    assert [line for line in lines if line.startswith("Severity:")] == ["Severity:  HIGH"]
    assert not [line for line in lines if line.startswith("Console:") and "evil" in line]
    for control in ("\r", "\x1b", "\u2028", "\u202e"):
        assert control not in head
    assert json.loads(tail)["reason"] == forged.reason  # the JSON keeps the exact value, JSON-escaped


def test_slack_markup_in_a_reason_is_escaped_in_the_chatbot_payload_attack():
    forged = decision()
    forged.reason = SLACK_MARKUP + "\nsecond line"
    forged.title = "*title*"
    forged.remediation = "<@U123> do it"
    forged.resource_id = "<!here>"
    forged.console_url = "https://evil.example/x|Click me>"
    forged.resource_arn = "arn:aws:s3:::bucket/key\n<!channel>"
    chat = json.loads(json.loads(message_structure(forged, chatbot=True))["https"])
    content = chat["content"]
    shown = json.dumps([content["title"], content["description"], content["nextSteps"], chat["metadata"]["summary"]])
    for markup in ("<!channel>", "<!here>", "<@U123>", "<http://evil", "*urgent*", "`code`", "~gone~", "& more"):
        assert markup not in shown
    assert "&lt;!channel&gt;" in content["description"] and "&amp; more" in content["description"]
    assert content["description"].startswith("*∗title∗*\n")  # our own bold stays; theirs is inert
    assert content["description"].count("\n") == 1  # the reason's newline is gone
    assert chat["metadata"]["relatedResources"] == ["arn:aws:s3:::bucket/key <!channel>"]  # one line, exact ARN
    assert content["nextSteps"][-1] == "<https://evil.example/x%7CClick%20me%3E|Open in the console>"
