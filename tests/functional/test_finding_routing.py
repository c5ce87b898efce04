"""Findings of other tools reach the rule that owns the control, which judges the resource on live state."""

from __future__ import annotations

import copy

from tests.conftest import ACCOUNT, as_ocsf_event, as_securityhub_event, load_event

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


# --------------------------------------------------------------------------------- Security Hub v2 (OCSF)
def ocsf_s3_17_finding(bucket: str, account: str = "123456789012") -> dict:
    """The real Security Hub v2 SQS.1 finding (Elastic's corpus), re-pointed at control S3.17 and a bucket."""
    finding = copy.deepcopy(load_event("securityhub-ocsf/elastic-securityhub-v2-SQS.1-FAILED.json"))
    finding["compliance"]["control"] = "S3.17"
    finding["cloud"].update(account={"uid": account}, region="us-east-1")
    finding["resources"] = [
        {
            "cloud_partition": "aws",
            "owner": {"account": {"uid": account}},
            "region": "us-east-1",
            "type": "AWS::S3::Bucket",
            "uid": bucket,
            "uid_alt": f"arn:aws:s3:::{bucket}",
        }
    ]
    return finding


def test_failed_ocsf_finding_is_judged_on_live_state_and_remediated(aws, harness):
    aws.client("s3").create_bucket(Bucket="ocsf-bucket")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, as_ocsf_event(ocsf_s3_17_finding("ocsf-bucket")))
    assert run.decision["resource_id"] == "ocsf-bucket"
    assert run.decision["action"] == "remediated"
    rules = aws.client("s3").get_bucket_encryption(Bucket="ocsf-bucket")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_stale_ocsf_finding_for_a_fixed_bucket_changes_nothing(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="ocsf-fixed")
    s3.put_bucket_encryption(
        Bucket="ocsf-fixed",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    run = harness.invoke(RULE, as_ocsf_event(ocsf_s3_17_finding("ocsf-fixed")))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.alerts == []


def test_attack_crafted_ocsf_findings_make_the_rule_act_on_nothing(aws, harness):
    """Findings claiming mlwarden's own id, an account's own product, another control or another account's
    resource: the rule (in remediate mode) touches no bucket."""
    aws.client("s3").create_bucket(Bucket="ocsf-victim")
    harness.set_mode(RULE, "remediate")
    own = ocsf_s3_17_finding("ocsf-victim")
    own["finding_info"]["uid"] = "mlwarden/s3-bucket-kms-encryption/arn:aws:s3:::ocsf-victim"
    custom = ocsf_s3_17_finding("ocsf-victim")
    custom["metadata"]["product"]["uid"] = "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    other_control = ocsf_s3_17_finding("ocsf-victim")
    other_control["compliance"]["control"] = "S3.8"
    foreign_owner = ocsf_s3_17_finding("ocsf-victim")
    foreign_owner["resources"][0]["owner"]["account"]["uid"] = "999999999999"
    for finding in (own, custom, other_control, foreign_owner):
        run = harness.invoke(RULE, as_ocsf_event(finding))
        assert run.decision["resource_id"] == "" and run.decision["compliance"] == "NOT_APPLICABLE"
    assert harness.clients.operations("s3") == []  # not even read


def test_attack_ocsf_finding_about_another_accounts_bucket_is_not_handled(aws, harness):
    # A bucket ARN names no account: the finding's (here another account's) is the bucket's owner.
    aws.client("s3").create_bucket(Bucket="ocsf-namesake")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, as_ocsf_event(ocsf_s3_17_finding("ocsf-namesake", "999999999999")), account=ACCOUNT)
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "another account's resource (999999999999)" in run.decision["reason"]
    assert harness.clients.operations("s3") == []  # the local namesake is not even read
    assert run.alerts == []
