"""s3-bucket-kms-encryption against the local account: moto's unencrypted buckets, AWS's SSE-S3 default,
SSE-KMS, a configured key, a deleted bucket, Config invocations."""

from __future__ import annotations

from botocore.exceptions import ClientError

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "s3-bucket-kms-encryption"
SAMPLE = "cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def delete_encryption_event(bucket: str) -> dict:
    return as_cloudtrail_event(load_event(SAMPLE), requestParameters__bucketName=bucket, awsRegion="us-east-1")


def encryption(aws, bucket: str) -> dict:
    rules = aws.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    return rules[0]


def has_default_encryption(aws, bucket: str) -> bool:
    try:
        aws.client("s3").get_bucket_encryption(Bucket=bucket)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
        return False
    return True


def sse_s3(aws, bucket: str) -> None:
    aws.client("s3").put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def test_unencrypted_bucket_in_notify_mode_alerts_and_changes_nothing(aws, harness):
    # Given a bucket with no default encryption (moto's default) and the rule in its default mode
    aws.client("s3").create_bucket(Bucket="training-data")
    # When the DeleteBucketEncryption event arrives
    run = harness.invoke(RULE, delete_encryption_event("training-data"))
    # Then it is non-compliant, notified, and one alert says so
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "notified"
    assert run.decision["reason"] == "no default encryption; SSE-KMS required"
    assert len(run.alerts) == 1
    alert = run.alerts[0]
    assert alert["subject"] == "[HIGH] s3-bucket-kms-encryption: training-data non-compliant"
    assert alert["attributes"] == {"severity": "HIGH", "rule_id": RULE, "status": "notified"}
    assert alert["body"]["resource_arn"] == "arn:aws:s3:::training-data"
    assert alert["body"]["controls"] == ["S3.17", "S3.4"]
    assert "console.aws.amazon.com" in alert["body"]["console_url"]
    # and nothing was changed
    assert not has_default_encryption(aws, "training-data")


def test_sse_s3_bucket_is_remediated_to_sse_kms_with_bucket_key(aws, harness):
    # Given the AWS default since 2023: SSE-S3 (AES256)
    aws.client("s3").create_bucket(Bucket="features")
    sse_s3(aws, "features")
    harness.set_mode(RULE, "remediate")
    # When
    run = harness.invoke(RULE, delete_encryption_event("features"))
    # Then the bucket now uses SSE-KMS with the aws/s3 key and a Bucket Key
    assert run.decision["action"] == "remediated"
    assert run.decision["reason"] == "default encryption is AES256; SSE-KMS required"
    rule = encryption(aws, "features")
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" not in rule["ApplyServerSideEncryptionByDefault"]
    assert rule["BucketKeyEnabled"] is True
    body = run.alerts[0]["body"]
    assert body["before"] == {"SSEAlgorithm": "AES256", "KMSMasterKeyID": None}
    assert body["after"]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms"}
    assert run.alerts[0]["subject"].endswith("features remediated")


def test_remediation_uses_the_configured_key_and_a_second_event_changes_nothing(aws, harness):
    aws.client("s3").create_bucket(Bucket="models")
    harness.set_mode(RULE, "remediate")
    first = harness.invoke(RULE, delete_encryption_event("models"), kms_key_arn=KEY_ARN)
    assert first.decision["action"] == "remediated"
    assert encryption(aws, "models")["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == KEY_ARN
    # The same event again: now compliant, no action, no alert
    second = harness.invoke(RULE, delete_encryption_event("models"), kms_key_arn=KEY_ARN)
    assert second.decision["compliance"] == "COMPLIANT"
    assert second.decision["action"] == "none"
    assert second.alerts == []


def test_sse_kms_with_another_key_is_non_compliant_when_a_key_is_configured(aws, harness):
    aws.client("s3").create_bucket(Bucket="other-key")
    aws.client("s3").put_bucket_encryption(
        Bucket="other-key",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "abcd"}}]
        },
    )
    run = harness.invoke(RULE, delete_encryption_event("other-key"), kms_key_arn=KEY_ARN)
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert KEY_ARN in run.decision["reason"]
    # Without a configured key, any KMS key is fine
    run = harness.invoke(RULE, delete_encryption_event("other-key"))
    assert run.decision["compliance"] == "COMPLIANT"


def test_dsse_kms_is_compliant(aws, harness):
    aws.client("s3").create_bucket(Bucket="dsse")
    aws.client("s3").put_bucket_encryption(
        Bucket="dsse",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"}}]
        },
    )
    run = harness.invoke(RULE, delete_encryption_event("dsse"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.alerts == []


def test_deleted_bucket_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, delete_encryption_event("gone-bucket"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["action"] == "none"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


def test_kill_switch_stops_remediation_but_not_the_alert(aws, harness):
    aws.client("s3").create_bucket(Bucket="frozen")
    harness.set_mode(RULE, "remediate")
    harness.kill_switch("on")
    run = harness.invoke(RULE, delete_encryption_event("frozen"))
    assert run.decision["action"] == "notified"
    assert "kill switch is on" in run.decision["reason"]
    assert len(run.alerts) == 1
    assert not has_default_encryption(aws, "frozen")


def test_withheld_remediation_never_remediates(aws, harness):
    aws.client("s3").create_bucket(Bucket="withheld")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, delete_encryption_event("withheld"), allow_remediation=False)
    assert run.decision["action"] == "notified"
    assert "allowRemediation: false" in run.decision["reason"]


def test_mode_off_judges_but_neither_alerts_nor_acts(aws, harness):
    aws.client("s3").create_bucket(Bucket="quiet")
    harness.set_mode(RULE, "off")
    run = harness.invoke(RULE, delete_encryption_event("quiet"))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "none"
    assert run.alerts == []


def test_exempt_bucket_is_reported_but_never_changed(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="public-dataset")
    s3.put_bucket_tagging(
        Bucket="public-dataset",
        Tagging={
            "TagSet": [
                {"Key": "mlwarden:exempt", "Value": RULE},
                {"Key": "mlwarden:exempt-reason", "Value": "open data"},
                {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
            ]
        },
    )
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, delete_encryption_event("public-dataset"))
    assert run.decision["action"] == "exempt"
    assert "open data" in run.decision["reason"]
    assert_exempt_alert(run)
    assert not has_default_encryption(aws, "public-dataset")


def test_failed_call_sample_is_rejected_by_nothing_but_has_no_bucket(aws, harness):
    # The PutBucketAcl doc sample has an empty bucketName: the rule cannot judge anything
    event = as_cloudtrail_event(load_event("cloudtrail-s3/awsdocs-s3-PutBucketAcl.json"))
    run = harness.invoke(RULE, event)
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["rule_id"] == RULE
    assert run.alerts == []


def kms_encrypted(aws, bucket: str, key: str) -> None:
    aws.client("s3").create_bucket(Bucket=bucket)
    aws.client("s3").put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
        },
    )


def test_attack_configured_key_named_by_alias_alias_arn_or_key_id_is_compliant_and_left_alone(aws, harness):
    # Given the configured key and an alias of it, and buckets naming it by alias, alias ARN and key id
    kms = aws.client("kms")
    key = kms.create_key(Description="ml data")["KeyMetadata"]
    kms.create_alias(AliasName="alias/ml-data", TargetKeyId=key["KeyId"])
    names = {
        "by-alias": "alias/ml-data",
        "by-alias-arn": "arn:aws:kms:us-east-1:123456789012:alias/ml-data",
        "by-key-id": key["KeyId"],
    }
    harness.set_mode(RULE, "remediate")
    for bucket, named in names.items():
        kms_encrypted(aws, bucket, named)
        harness.clients.clear()
        run = harness.invoke(RULE, delete_encryption_event(bucket), kms_key_arn=key["Arn"])
        # Then each is the configured key: compliant, one DescribeKey, nothing rewritten
        assert run.decision["compliance"] == "COMPLIANT", run.decision["reason"]
        assert harness.clients.operations("kms").count("DescribeKey") == 1
        assert "PutBucketEncryption" not in harness.clients.operations("s3")
        assert encryption(aws, bucket)["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == named


def test_configured_key_arn_named_exactly_needs_no_describe_key(aws, harness):
    key = aws.client("kms").create_key(Description="ml data")["KeyMetadata"]
    kms_encrypted(aws, "exact", key["Arn"])
    harness.clients.clear()
    run = harness.invoke(RULE, delete_encryption_event("exact"), kms_key_arn=key["Arn"])
    assert run.decision["compliance"] == "COMPLIANT"
    assert "DescribeKey" not in harness.clients.operations("kms")


def test_alias_of_another_key_is_non_compliant_and_unknown_key_says_it_could_not_be_resolved(aws, harness):
    kms = aws.client("kms")
    other = kms.create_key(Description="other")["KeyMetadata"]
    kms.create_alias(AliasName="alias/other", TargetKeyId=other["KeyId"])
    kms_encrypted(aws, "other-alias", "alias/other")
    run = harness.invoke(RULE, delete_encryption_event("other-alias"), kms_key_arn=KEY_ARN)
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert f"(= {other['Arn']})" in run.decision["reason"]
    kms_encrypted(aws, "missing-alias", "alias/missing")
    run = harness.invoke(RULE, delete_encryption_event("missing-alias"), kms_key_arn=KEY_ARN)
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert "alias/missing (KMS could not resolve it: NotFoundException;" in run.decision["reason"]
