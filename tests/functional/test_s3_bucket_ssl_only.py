"""s3-bucket-ssl-only against the local account: buckets without a policy, policies without the TLS deny,
the merge that keeps every statement, the 20 KB limit, deleted and exempt buckets, sweeps."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "s3-bucket-ssl-only"
SID = "mlwarden-DenyInsecureTransport"
PUT_POLICY = "handwritten/cloudtrail-s3-PutBucketPolicy-cross-account-read.json"
DELETE_POLICY = "handwritten/cloudtrail-s3-DeleteBucketPolicy.json"


def event(sample: str, bucket: str) -> dict:
    return as_cloudtrail_event(load_event(sample), requestParameters__bucketName=bucket)


def policy_of(aws, bucket: str) -> dict | None:
    try:
        return json.loads(aws.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


def partner_read(bucket: str) -> dict:
    return {
        "Sid": "PartnerRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": ["s3:GetObject"],
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }


def tls_deny(bucket: str, sid: str = "DenyHttp") -> dict:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_bucket_without_policy_is_notified(aws, harness):
    aws.client("s3").create_bucket(Bucket="no-policy")
    run = harness.invoke(RULE, event(DELETE_POLICY, "no-policy"))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "notified"
    assert run.decision["reason"] == "bucket has no policy, so requests without TLS are not denied"
    (alert,) = run.alerts
    assert alert["subject"] == "[MEDIUM] s3-bucket-ssl-only: no-policy non-compliant"
    assert alert["body"]["controls"] == ["S3.5"]
    assert SID in alert["body"]["remediation"]
    assert policy_of(aws, "no-policy") is None


def test_remediation_merges_the_deny_and_keeps_every_statement(aws, harness):
    # Given a policy with one statement given as an object (not a list) and an Id
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="shared")
    original = {"Version": "2012-10-17", "Id": "team-policy", "Statement": partner_read("shared")}
    s3.put_bucket_policy(Bucket="shared", Policy=json.dumps(original))
    harness.set_mode(RULE, "remediate")
    # When
    run = harness.invoke(RULE, event(PUT_POLICY, "shared"))
    # Then the partner statement, the Version and the Id are kept, and the deny is added once
    assert run.decision["action"] == "remediated"
    policy = policy_of(aws, "shared")
    assert policy["Version"] == "2012-10-17" and policy["Id"] == "team-policy"
    assert policy["Statement"][0] == partner_read("shared")
    assert policy["Statement"][1] == {
        "Sid": SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::shared", "arn:aws:s3:::shared/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    body = run.alerts[0]["body"]
    assert body["before"] == {"policy": original}
    assert body["after"] == {"policy": policy}
    assert "1 existing statement(s) kept unchanged" in body["remediation"]
    # And a second run is idempotent: compliant, no write, no alert
    harness.clients.calls.clear()
    again = harness.invoke(RULE, event(PUT_POLICY, "shared"))
    assert again.decision["compliance"] == "COMPLIANT"
    assert again.decision["reason"] == f"bucket policy statement {SID} denies requests without TLS"
    assert again.alerts == []
    assert "PutBucketPolicy" not in harness.clients.operations("s3")


def test_bucket_without_policy_gets_a_policy_with_only_the_deny(aws, harness):
    aws.client("s3").create_bucket(Bucket="fresh")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(DELETE_POLICY, "fresh"))
    assert run.decision["action"] == "remediated"
    policy = policy_of(aws, "fresh")
    assert [s["Sid"] for s in policy["Statement"]] == [SID]
    assert policy["Version"] == "2012-10-17"


def test_an_existing_tls_deny_written_by_hand_is_compliant(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="handmade")
    policy = {"Version": "2012-10-17", "Statement": [partner_read("handmade"), tls_deny("handmade")]}
    s3.put_bucket_policy(Bucket="handmade", Policy=json.dumps(policy))
    run = harness.invoke(RULE, event(PUT_POLICY, "handmade"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == "bucket policy statement DenyHttp denies requests without TLS"


def test_a_deny_narrowed_to_some_objects_is_not_enough(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="narrow")
    narrow = tls_deny("narrow")
    narrow["Resource"] = "arn:aws:s3:::narrow/private/*"
    s3.put_bucket_policy(Bucket="narrow", Policy=json.dumps({"Version": "2012-10-17", "Statement": [narrow]}))
    run = harness.invoke(RULE, event(PUT_POLICY, "narrow"))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["reason"].startswith("bucket policy does not deny requests without TLS")


def test_remediation_refuses_when_the_merged_policy_would_exceed_20_kb(aws, harness):
    # Given a policy just under S3's 20 KB limit (moto does not enforce it; AWS would reject the merge)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="crowded")
    statements = []
    for n in range(200):
        statement = partner_read("crowded")
        statement["Sid"] = f"Partner{n:03d}"
        statements.append(statement)
    policy = {"Version": "2012-10-17", "Statement": statements}
    while len(json.dumps(policy, separators=(",", ":"))) > 20 * 1024 - 100:
        statements.pop()
    statements[-1]["Sid"] += "x" * (20 * 1024 - 100 - len(json.dumps(policy, separators=(",", ":"))))
    s3.put_bucket_policy(Bucket="crowded", Policy=json.dumps(policy))
    harness.set_mode(RULE, "remediate")
    # When
    run = harness.invoke(RULE, event(PUT_POLICY, "crowded"))
    # Then nothing is written and the alert says why and what to do
    assert run.decision["action"] == "notified"
    assert "over S3's 20480-byte limit" in run.decision["reason"]
    assert "PutBucketPolicy" not in harness.clients.operations("s3")
    assert policy_of(aws, "crowded") == policy
    assert "shorten the policy" in run.alerts[0]["body"]["remediation"]


def test_deleted_bucket_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, event(DELETE_POLICY, "gone-bucket"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.alerts == []


def test_exempt_bucket_is_never_changed(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="legacy-http")
    s3.put_bucket_tagging(
        Bucket="legacy-http",
        Tagging={
            "TagSet": [
                {"Key": "mlwarden:exempt", "Value": RULE},
                {"Key": "mlwarden:exempt-reason", "Value": "old client without TLS"},
                {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
            ]
        },
    )
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(DELETE_POLICY, "legacy-http"))
    assert run.decision["action"] == "exempt"
    assert_exempt_alert(run)
    assert policy_of(aws, "legacy-http") is None


def test_scheduled_sweep_judges_every_bucket_of_the_region(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="sweep-http")
    s3.create_bucket(Bucket="sweep-tls")
    s3.put_bucket_policy(
        Bucket="sweep-tls", Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_deny("sweep-tls")]})
    )
    scheduled = load_event("config-invocation/powertools-config-scheduled-notification.json")
    scheduled["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, scheduled)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-http": "NON_COMPLIANT",
        "sweep-tls": "COMPLIANT",
    }
