"""s3-bucket-public-access against the local account: moto's buckets without Block Public Access, AWS's
fully blocked default, public ACLs and policies, findings of S3.2/S3.8, deleted buckets, exemptions, sweeps."""

from __future__ import annotations

import copy
import json

from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT, EXEMPT_UNTIL, as_cloudtrail_event, as_securityhub_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "s3-bucket-public-access"
FULL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
DELETE_BPA = "handwritten/cloudtrail-s3-DeleteBucketPublicAccessBlock.json"
PUT_ACL = "handwritten/cloudtrail-s3-PutBucketAcl-AllUsers-read.json"


def event(sample: str, bucket: str) -> dict:
    return as_cloudtrail_event(load_event(sample), requestParameters__bucketName=bucket)


def bpa(aws, bucket: str) -> dict | None:
    try:
        return aws.client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return None


def public_read_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
            ],
        }
    )


def test_bucket_without_block_public_access_is_notified_but_not_public(aws, harness):
    # Given a bucket as moto creates it: no Block Public Access configuration, private ACL, no policy
    aws.client("s3").create_bucket(Bucket="feature-store")
    # When someone deletes its Block Public Access configuration
    run = harness.invoke(RULE, event(DELETE_BPA, "feature-store"))
    # Then it is non-compliant (S3.8), HIGH, and the alert says it is not public now
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["reason"] == "bucket has no Block Public Access configuration; not public now"
    (alert,) = run.alerts
    assert alert["subject"] == "[HIGH] s3-bucket-public-access: feature-store non-compliant"
    assert alert["body"]["controls"] == ["S3.2", "S3.3", "S3.8"]
    assert alert["body"]["before"] == {
        "PublicAccessBlockConfiguration": None,
        "policy_public": False,
        "public_acl_grants": [],
    }
    assert "mlwarden:exempt=s3-bucket-public-access" in alert["body"]["remediation"]
    assert "tab=permissions" in alert["body"]["console_url"]
    assert bpa(aws, "feature-store") is None


def test_public_read_acl_is_critical_and_named_in_the_alert(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="open-data")
    s3.put_bucket_acl(Bucket="open-data", ACL="public-read")
    run = harness.invoke(RULE, event(PUT_ACL, "open-data"))
    assert run.decision["reason"].startswith("bucket is public: ACL grants READ to everyone (AllUsers)")
    (alert,) = run.alerts
    assert alert["attributes"]["severity"] == "CRITICAL"
    assert alert["body"]["before"]["public_acl_grants"] == ["READ to everyone (AllUsers)"]


def test_public_policy_with_partial_block_is_remediated_and_the_policy_is_kept(aws, harness):
    # Given a public policy and Block Public Access with only the ACL flags on
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="leaky")
    s3.put_bucket_policy(Bucket="leaky", Policy=public_read_policy("leaky"))
    s3.put_public_access_block(
        Bucket="leaky",
        PublicAccessBlockConfiguration={**FULL, "BlockPublicPolicy": False, "RestrictPublicBuckets": False},
    )
    harness.set_mode(RULE, "remediate")
    # When
    run = harness.invoke(RULE, event(DELETE_BPA, "leaky"))
    # Then all four flags are on, the policy itself is untouched, and the alert shows before and after
    assert run.decision["action"] == "remediated"
    assert run.decision["reason"] == (
        "bucket is public: bucket policy is public; bucket Block Public Access is not fully on "
        "(BlockPublicPolicy, RestrictPublicBuckets off)"
    )
    assert bpa(aws, "leaky") == FULL
    assert json.loads(s3.get_bucket_policy(Bucket="leaky")["Policy"]) == json.loads(public_read_policy("leaky"))
    body = run.alerts[0]["body"]
    assert body["before"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is False
    assert body["after"] == {"PublicAccessBlockConfiguration": FULL}
    assert "bucket policy is public" in body["remediation"]
    assert run.alerts[0]["subject"] == "[CRITICAL] s3-bucket-public-access: leaky remediated"
    # A second event finds it compliant with a single read: nothing changes, no alert
    harness.clients.calls.clear()
    again = harness.invoke(RULE, event(DELETE_BPA, "leaky"))
    assert again.decision["compliance"] == "COMPLIANT"
    assert again.alerts == []
    assert harness.clients.operations("s3") == ["GetPublicAccessBlock"]


def test_aws_default_fully_blocked_bucket_is_compliant_with_one_read(aws, harness):
    # Given the AWS default since April 2023: all four flags on
    aws.client("s3").create_bucket(Bucket="modern")
    aws.client("s3").put_public_access_block(Bucket="modern", PublicAccessBlockConfiguration=FULL)
    run = harness.invoke(
        RULE,
        as_cloudtrail_event(
            load_event("handwritten/cloudtrail-s3-CreateBucket.json"), requestParameters__bucketName="modern"
        ),
    )
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.alerts == []
    assert harness.clients.operations("s3") == ["GetPublicAccessBlock"]


def test_deleted_bucket_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, event(DELETE_BPA, "already-gone"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


def test_exempt_public_dataset_is_reported_but_never_changed(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="public-dataset")
    s3.put_bucket_acl(Bucket="public-dataset", ACL="public-read")
    s3.put_bucket_tagging(
        Bucket="public-dataset",
        Tagging={
            "TagSet": [
                {"Key": "mlwarden:exempt", "Value": f"{RULE}+s3-bucket-external-access"},
                {"Key": "mlwarden:exempt-reason", "Value": "open benchmark data"},
                {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
            ]
        },
    )
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(PUT_ACL, "public-dataset"))
    assert run.decision["action"] == "exempt"
    assert "open benchmark data" in run.decision["reason"]
    assert_exempt_alert(run)
    assert bpa(aws, "public-dataset") is None


def test_published_put_bucket_acl_sample_names_no_bucket(aws, harness):
    # The AWS documentation's PutBucketAcl record has an empty bucketName: nothing can be judged
    run = harness.invoke(RULE, as_cloudtrail_event(load_event("cloudtrail-s3/awsdocs-s3-PutBucketAcl.json")))
    assert run.decision["rule_id"] == RULE
    assert run.decision["resource_id"] == ""
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.alerts == []


def test_failed_s3_8_finding_is_judged_on_live_state(aws, harness):
    # Given the real ASR S3.8 FAILED finding, pointed at a local bucket without Block Public Access
    finding = copy.deepcopy(load_event("securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json"))
    finding["Resources"][0]["Id"] = "arn:aws:s3:::finding-target"
    finding["AwsAccountId"] = ACCOUNT
    aws.client("s3").create_bucket(Bucket="finding-target")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, as_securityhub_event(finding))
    assert run.decision["resource_id"] == "finding-target"
    assert run.decision["action"] == "remediated"
    assert bpa(aws, "finding-target") == FULL


def test_passed_s3_2_finding_names_no_resource(aws, harness):
    run = harness.invoke(RULE, as_securityhub_event(load_event("securityhub/asr-afsbp-S3.2-public-read-PASSED.json")))
    assert run.decision["resource_id"] == ""
    assert run.alerts == []


def test_scheduled_sweep_judges_every_bucket_of_the_region(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="sweep-open")
    s3.create_bucket(Bucket="sweep-closed")
    s3.put_public_access_block(Bucket="sweep-closed", PublicAccessBlockConfiguration=FULL)
    scheduled = load_event("config-invocation/powertools-config-scheduled-notification.json")
    scheduled["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, scheduled)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-open": "NON_COMPLIANT",
        "sweep-closed": "COMPLIANT",
    }
    assert "ListBuckets" in harness.clients.operations("s3")
