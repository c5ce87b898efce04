"""Every verdict lands in Security Hub as an ASFF finding (issue 6), and never comes back to mlwarden."""

from __future__ import annotations

from mlwarden.core.patterns import event_patterns, matches
from mlwarden.core.registry import all_rules
from tests.conftest import as_cloudtrail_event, as_securityhub_event, load_event

RULE = "s3-bucket-kms-encryption"
SAMPLE = "cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json"


def findings(aws) -> list[dict]:
    return aws.client("securityhub").get_findings()["Findings"]


def test_violation_is_imported_as_failed_then_resolved_when_fixed(aws, harness):
    aws.client("securityhub").enable_security_hub()
    aws.client("s3").create_bucket(Bucket="hub-bucket")
    event = as_cloudtrail_event(load_event(SAMPLE), requestParameters__bucketName="hub-bucket")

    # notify mode: one FAILED finding, NEW, with the mapped controls
    harness.invoke(RULE, event, security_hub=True)
    (found,) = findings(aws)
    assert found["Id"] == "mlwarden/s3-bucket-kms-encryption/arn:aws:s3:::hub-bucket"
    assert found["GeneratorId"] == "mlwarden/s3-bucket-kms-encryption"
    assert found["ProductArn"] == "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    assert found["Compliance"]["Status"] == "FAILED"
    assert found["Compliance"]["RelatedRequirements"] == [
        "AWS Foundational Security Best Practices S3.17",
        "AWS Foundational Security Best Practices S3.4",
    ]
    assert found["Severity"]["Label"] == "HIGH"
    assert found["Workflow"]["Status"] == "NEW"
    assert found["Resources"][0] == {
        "Type": "AwsS3Bucket",
        "Id": "arn:aws:s3:::hub-bucket",
        "Partition": "aws",
        "Region": "us-east-1",
    }
    assert "SSE-KMS" in found["Remediation"]["Recommendation"]["Text"]

    # remediate mode: the same finding becomes PASSED / RESOLVED
    harness.set_mode(RULE, "remediate")
    harness.invoke(RULE, event, security_hub=True)
    (found,) = findings(aws)
    assert (found["Compliance"]["Status"], found["Workflow"]["Status"]) == ("PASSED", "RESOLVED")


def test_mlwarden_findings_are_never_routed_back_to_mlwarden(aws, harness):
    aws.client("securityhub").enable_security_hub()
    aws.client("s3").create_bucket(Bucket="hub-loop")
    harness.invoke(
        RULE, as_cloudtrail_event(load_event(SAMPLE), requestParameters__bucketName="hub-loop"), security_hub=True
    )
    (found,) = findings(aws)
    event = as_securityhub_event(found)
    assert [r.spec.id for r in all_rules() if any(matches(p, event) for p in event_patterns(r.spec))] == []


def test_without_the_switch_nothing_is_imported(aws, harness):
    aws.client("securityhub").enable_security_hub()
    aws.client("s3").create_bucket(Bucket="hub-off")
    harness.invoke(RULE, as_cloudtrail_event(load_event(SAMPLE), requestParameters__bucketName="hub-off"))
    assert findings(aws) == []


def test_security_hub_failure_does_not_block_the_alert(aws, harness):
    aws.client("s3").create_bucket(Bucket="hub-down")
    harness.clients.fail("securityhub", "BatchImportFindings", "InvalidAccessException", status=401)
    run = harness.invoke(
        RULE, as_cloudtrail_event(load_event(SAMPLE), requestParameters__bucketName="hub-down"), security_hub=True
    )
    assert run.decision["action"] == "notified"
    assert len(run.alerts) == 1
