"""Findings of other tools reach the rule that owns the control, which judges the resource on live state."""

from __future__ import annotations

import copy

from tests.conftest import as_securityhub_event, load_event

RULE = "s3-bucket-kms-encryption"


def s3_17_finding(bucket: str) -> dict:
    """The real ASR S3.8 sample, re-pointed at control S3.17 (bucket default encryption with KMS)."""
    finding = copy.deepcopy(load_event("securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json"))
    finding["ProductFields"]["ControlId"] = "S3.17"
    finding["Resources"][0]["Id"] = f"arn:aws:s3:::{bucket}"
    finding["AwsAccountId"] = "123456789012"
    return finding


def compliance_change(bucket: str, rule_name: str, compliance: str = "NON_COMPLIANT") -> dict:
    """The real NZISM conformance-pack compliance change, re-pointed at a bucket and an S3 managed rule."""
    event = copy.deepcopy(
        load_event("config-compliance-change/nzism-loggroup-retention-NON_COMPLIANT-with-old-result.json")
    )
    detail = event["detail"]
    detail.update(resourceId=bucket, resourceType="AWS::S3::Bucket", configRuleName=rule_name, awsRegion="us-east-1")
    detail["newEvaluationResult"]["complianceType"] = compliance
    event["region"] = "us-east-1"
    return event


def test_failed_securityhub_finding_is_judged_on_live_state_and_remediated(aws, harness):
    aws.client("s3").create_bucket(Bucket="finding-bucket")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, as_securityhub_event(s3_17_finding("finding-bucket")))
    assert run.decision["resource_id"] == "finding-bucket"
    assert run.decision["action"] == "remediated"
    rules = aws.client("s3").get_bucket_encryption(Bucket="finding-bucket")["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_stale_securityhub_finding_for_a_fixed_bucket_changes_nothing(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="already-fixed")
    s3.put_bucket_encryption(
        Bucket="already-fixed",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    run = harness.invoke(RULE, as_securityhub_event(s3_17_finding("already-fixed")))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.alerts == []


def test_mlwarden_own_findings_and_other_controls_name_no_resource(aws, harness):
    own = s3_17_finding("x")
    own["GeneratorId"] = "mlwarden/s3-bucket-kms-encryption"
    other = s3_17_finding("x")
    other["ProductFields"]["ControlId"] = "S3.8"
    for finding in (own, other):
        run = harness.invoke(RULE, as_securityhub_event(finding))
        assert run.decision["resource_id"] == "" and run.decision["compliance"] == "NOT_APPLICABLE"


def test_conformance_pack_compliance_change_reaches_the_rule(aws, harness):
    aws.client("s3").create_bucket(Bucket="pack-bucket")
    run = harness.invoke(RULE, compliance_change("pack-bucket", "s3-default-encryption-kms-conformance-pack-qayjyopmd"))
    assert run.decision["resource_id"] == "pack-bucket"
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["action"] == "notified"
    assert len(run.alerts) == 1


def test_compliant_result_names_no_resource(aws, harness):
    run = harness.invoke(RULE, compliance_change("pack-bucket", "s3-default-encryption-kms", "COMPLIANT"))
    assert run.decision["resource_id"] == ""
    assert run.alerts == []
