"""The SNS alert (DESIGN §2.5): subject, body, attributes."""

from __future__ import annotations

import json

from mlwarden.core.model import Decision
from mlwarden.core.notify import attributes, message, subject


def decision(resource_id: str = "my-bucket", action: str = "remediated", **fields) -> Decision:
    values = dict(
        event_id="e-1",
        rule_id="s3-bucket-kms-encryption",
        resource_type="AWS::S3::Bucket",
        resource_id=resource_id,
        resource_arn=f"arn:aws:s3:::{resource_id}",
        account="123456789012",
        region="us-east-1",
        compliance="NON_COMPLIANT",
        action=action,
        reason="default encryption is AES256; SSE-KMS required",
        controls=["S3.17"],
        severity="HIGH",
        title="S3 bucket default encryption must use a KMS key",
    )
    values.update(fields)
    return Decision(**values)


def test_subject_reads_like_the_design_example():
    assert subject(decision()) == "[HIGH] s3-bucket-kms-encryption: my-bucket remediated"
    assert subject(decision(action="notified")) == "[HIGH] s3-bucket-kms-encryption: my-bucket non-compliant"
    assert subject(decision(action="failed")).endswith("my-bucket action failed")


def test_long_non_ascii_resource_id_still_fits_sns():
    resource_id = "données-d'entraînement/" + "x" * 300
    text = subject(decision(resource_id))
    assert len(text) <= 100
    assert all(32 <= ord(ch) < 127 for ch in text), "SNS subjects are printable ASCII"
    assert text.startswith("[HIGH] s3-bucket-kms-encryption: donn?es-d'entra?nement/")
    assert text.endswith("... remediated"), "the status survives truncation and truncation is visible"


def test_line_breaks_never_reach_the_subject():
    assert "\n" not in subject(decision("evil\nSubject: spoofed"))


def test_body_has_the_cli_fields_and_the_alert_fields():
    body = json.loads(message(decision(before={"SSEAlgorithm": "AES256"}, details={"n": 1})))
    for key in (
        "event_id",
        "rule_id",
        "resource_type",
        "resource_id",
        "resource_arn",
        "account",
        "region",
        "compliance",
        "action",
        "reason",
        "controls",
        "severity",
        "title",
        "remediation",
        "before",
        "after",
        "console_url",
        "event_time",
        "detected_at",
    ):
        assert key in body
    assert body["details"] == {"n": 1}


def test_attributes_let_subscribers_filter():
    assert attributes(decision(action="notified")) == {
        "severity": {"DataType": "String", "StringValue": "HIGH"},
        "rule_id": {"DataType": "String", "StringValue": "s3-bucket-kms-encryption"},
        "status": {"DataType": "String", "StringValue": "notified"},
    }


def test_clean_text_collapses_every_kind_of_control_character():
    from mlwarden.core.text import clean_text

    assert (
        clean_text("a\n\r\nb\x1b[31mc\x00d\x7fe\u0085f\u2028g\u2029h\u202ei\u200bj\tk") == "a b [31mc d e f g h i j k"
    )
    assert clean_text("plain name-1_2 é ✓") == "plain name-1_2 é ✓"
    assert clean_text(None) == ""
