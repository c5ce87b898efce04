"""Safe to leave on (issue 5): exemptions, exactly-once action, loop guard, flapping limit, audit trail.

Each test would fail without the guarantee it names: it shows the behaviour with the safety on, and where
useful what happens without it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from mlwarden.core.safety import read_history
from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event

RULE = "s3-bucket-kms-encryption"
SAMPLE = "cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json"
IDEMPOTENCY, AUDIT = "mlwarden-idempotency", "mlwarden-audit"
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
IN_30_DAYS = (date.today() + timedelta(days=30)).isoformat()


def event(bucket: str, **changes) -> dict:
    return as_cloudtrail_event(load_event(SAMPLE), requestParameters__bucketName=bucket, **changes)


def sse_s3(aws, bucket: str) -> None:
    aws.client("s3").put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def algorithm(aws, bucket: str) -> str | None:
    try:
        rules = aws.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except aws.client("s3").exceptions.ClientError:
        return None
    return rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]


# ------------------------------------------------------------------------------------------- exemptions
@pytest.mark.parametrize(
    ("tags", "exempt"),
    [
        (
            {
                "mlwarden:exempt": "all",
                "mlwarden:exempt-reason": "public dataset",
                "mlwarden:exempt-until": EXEMPT_UNTIL,
            },
            True,
        ),
        (
            {
                "mlwarden:exempt": f"s3-bucket-public-access+{RULE}",
                "mlwarden:exempt-reason": "vendor bucket",
                "mlwarden:exempt-until": EXEMPT_UNTIL,
            },
            True,
        ),
        (
            {
                "mlwarden:exempt": "s3-bucket-public-access",
                "mlwarden:exempt-reason": "other rule only",
                "mlwarden:exempt-until": EXEMPT_UNTIL,
            },
            False,
        ),
        ({"mlwarden:exempt": "all", "mlwarden:exempt-reason": "x", "mlwarden:exempt-until": YESTERDAY}, False),
        ({"mlwarden:exempt": "all", "mlwarden:exempt-reason": "x", "mlwarden:exempt-until": IN_30_DAYS}, True),
        ({"mlwarden:exempt": "all", "mlwarden:exempt-reason": "x", "mlwarden:exempt-until": "next tuesday"}, False),
    ],
)
def test_exemption_tags_decide_whether_the_bucket_is_left_alone(aws, harness, tags, exempt):
    aws.client("s3").create_bucket(Bucket="tagged")
    aws.client("s3").put_bucket_tagging(
        Bucket="tagged", Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
    )
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event("tagged"))
    assert run.decision["compliance"] == "NON_COMPLIANT"  # still evaluated and reported
    if exempt:
        assert run.decision["action"] == "exempt"
        assert algorithm(aws, "tagged") is None
        # an exempt violation is not silent: one LOW alert, filterable by status=exempt
        (alert,) = run.alerts
        assert alert["attributes"]["status"] == "exempt" and alert["attributes"]["severity"] == "LOW"
    else:
        assert run.decision["action"] == "remediated"
        assert algorithm(aws, "tagged") == "aws:kms"


def test_cdk_json_exemption_covers_resources_without_tags(aws, harness):
    aws.client("s3").create_bucket(Bucket="legacy-export")
    harness.set_mode(RULE, "remediate")
    exemptions = json.dumps([{"resource": "legacy-*", "reason": "migrating in Q1", "until": "2099-01-01"}])
    run = harness.invoke(RULE, event("legacy-export"), exemptions=exemptions)
    assert run.decision["action"] == "exempt"
    assert "migrating in Q1" in run.decision["reason"]
    assert algorithm(aws, "legacy-export") is None


def test_unreadable_exemption_tags_fail_closed(aws, harness):
    aws.client("s3").create_bucket(Bucket="locked")
    harness.set_mode(RULE, "remediate")
    harness.clients.fail("s3", "GetBucketTagging", "AccessDenied", status=403)
    run = harness.invoke(RULE, event("locked"))
    assert run.decision["action"] == "notified"
    assert "could not verify exemption" in run.decision["reason"]
    assert algorithm(aws, "locked") is None
    assert "could not verify exemption" in run.alerts[0]["body"]["reason"]


# ------------------------------------------------------------------------------------ exactly-once action
def test_a_duplicate_delivery_alerts_and_acts_once(aws, harness, tables):
    aws.client("s3").create_bucket(Bucket="dup")
    same = event("dup")
    first = harness.invoke(RULE, same, idempotency_table=IDEMPOTENCY)
    second = harness.invoke(RULE, same, idempotency_table=IDEMPOTENCY)
    assert first.decision["action"] == "notified" and len(first.alerts) == 1
    assert second.decision["action"] == "none" and second.alerts == []
    assert "duplicate: already handled (notified" in second.decision["reason"]
    # Without the idempotency table the same two deliveries alert twice: the guard is what prevents it
    third = harness.invoke(RULE, same)
    assert len(third.alerts) == 1


def test_two_events_about_one_resource_close_together_remediate_once(aws, harness, tables):
    aws.client("s3").create_bucket(Bucket="burst")
    harness.set_mode(RULE, "remediate")
    runs = [
        harness.invoke(RULE, event("burst", eventName=name, eventID=f"id-{name}"), idempotency_table=IDEMPOTENCY)
        for name in ("CreateBucket", "PutBucketEncryption")
    ]
    assert [r.decision["action"] for r in runs] == ["remediated", "none"]
    assert sum(len(r.alerts) for r in runs) == 1
    puts = [c for c in harness.clients.calls if c.operation == "PutBucketEncryption"]
    assert len(puts) == 1


# ------------------------------------------------------------- flapping (loop guard: tests/functional/test_trust.py)
def test_a_resource_fixed_too_often_is_flapping_and_left_to_a_human(aws, harness, tables):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="tug-of-war")
    harness.set_mode(RULE, "remediate")
    actions = []
    for attempt in range(4):  # something keeps putting SSE-S3 back
        sse_s3(aws, "tug-of-war")
        run = harness.invoke(
            RULE, event("tug-of-war", eventID=f"e{attempt}"), audit_table=AUDIT, max_remediations_per_hour=3
        )
        actions.append(run.decision["action"])
    assert actions == ["remediated", "remediated", "remediated", "notified"]
    assert "flapping" in run.decision["reason"] and "a human must" in run.decision["reason"]
    assert run.alerts[0]["attributes"]["status"] == "notified"
    assert algorithm(aws, "tug-of-war") == "AES256"  # mlwarden stopped fighting


# ------------------------------------------------------------------------------------------- audit trail
def test_every_decision_is_recorded_with_the_principal_that_caused_it(aws, harness, tables):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="audited")
    s3.create_bucket(Bucket="fine")
    s3.put_bucket_encryption(
        Bucket="fine",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    harness.set_mode(RULE, "remediate")
    harness.invoke(RULE, event("audited"), audit_table=AUDIT)
    harness.invoke(RULE, event("fine", eventID="other"), audit_table=AUDIT)

    by_rule = read_history(tables, AUDIT, rule_id=RULE)
    assert {(i["resource_id"], i["compliance"], i["action"]) for i in by_rule} == {
        ("audited", "NON_COMPLIANT", "remediated"),
        ("fine", "COMPLIANT", "none"),
    }
    (item,) = read_history(tables, AUDIT, resource_id="audited")
    assert item["principal"] == "arn:aws:iam::370614344560:role/Sysdig-Workshop-Admin"
    assert json.loads(item["before"]) == {"SSEAlgorithm": None}
    assert json.loads(item["after"])["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert item["event_id"] == "ct-af6a54f9-c2ee-4e14-866a-48f9338bcc94"
    assert int(item["expires_at"]) > 0


def test_the_audit_trail_keeps_who_called_and_why_an_exemption_was_honoured(aws, harness, tables):
    # Given a bucket exempt by tag, and another one that is not
    s3 = aws.client("s3")
    for bucket in ("vendor-drop", "audited"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(
        Bucket="vendor-drop",
        Tagging={
            "TagSet": [
                {"Key": "mlwarden:exempt", "Value": RULE},
                {"Key": "mlwarden:exempt-reason", "Value": "vendor writes SSE-S3 only (RISK-42)"},
                {"Key": "mlwarden:exempt-until", "Value": IN_30_DAYS},
            ]
        },
    )
    harness.set_mode(RULE, "remediate")
    # When events about both reach the rule's function
    harness.invoke(RULE, event("vendor-drop"), audit_table=AUDIT)
    harness.invoke(RULE, event("audited", eventID="other"), audit_table=AUDIT)

    # Then the exempt decision records where the exemption is declared, its reason and its end
    (exempt,) = read_history(tables, AUDIT, resource_id="vendor-drop")
    assert exempt["action"] == "exempt"
    assert (exempt["exemption_source"], exempt["exemption_reason"], exempt["exemption_until"]) == (
        "tag",
        "vendor writes SSE-S3 only (RISK-42)",
        IN_30_DAYS,
    )
    # and both record the caller: the role, and the assumed-role session behind it
    for item in (exempt, *read_history(tables, AUDIT, resource_id="audited")):
        assert item["principal"] == "arn:aws:iam::370614344560:role/Sysdig-Workshop-Admin"
        assert item["principal_session"] == (
            "arn:aws:sts::370614344560:assumed-role/Sysdig-Workshop-Admin/i-08d4e6ab251cf9480"
        )
    # a decision that is not an exemption carries no exemption fields (older items carry none either)
    (fixed,) = read_history(tables, AUDIT, resource_id="audited")
    assert fixed["action"] == "remediated" and not {k for k in fixed if k.startswith("exemption_")}


def test_history_command_reads_the_audit_table(aws, harness, tables):
    import os
    import subprocess
    import sys

    aws.client("s3").create_bucket(Bucket="audited")
    harness.invoke(RULE, event("audited"), audit_table=AUDIT)
    proc = subprocess.run(
        [sys.executable, "-m", "mlwarden", "history", "--json", "--table", AUDIT, "--rule", RULE],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert json.loads(line)["resource_id"] == "audited"
