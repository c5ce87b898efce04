"""Every event file under tests/events, delivered as AWS delivers it, against every rule's deployed patterns.

Adding a sample or a rule changes this table on purpose: each file states which rules it must reach.
"""

from __future__ import annotations

import pytest

from mlwarden.core import events
from tests.conftest import as_delivered, load_event, sample_files
from tests.unit.routing import pattern_routes, routes

KMS = "s3-bucket-kms-encryption"
MACIE = "macie-sensitive-data"
NOTEBOOK = "sagemaker-notebook-direct-internet"

EXPECTED: dict[str, set[str]] = {
    "cloudtrail-other/awsdocs-cloudtrail-UpdateTrail-error-TrailNotFound.json": set(),  # failed call
    "cloudtrail-other/awsdocs-kms-DisableKeyRotation.json": set(),
    "cloudtrail-other/stratus-bedrock-DeleteGuardrail.json": set(),
    "cloudtrail-other/stratus-cloudtrail-StopLogging.json": set(),
    "cloudtrail-other/sumologic-bedrock-InvokeModel.json": set(),
    "cloudtrail-s3/awsdocs-s3-PutBucketAcl.json": set(),
    "cloudtrail-s3/elastic-s3-DeleteBucket.json": set(),
    "cloudtrail-s3/elastic-s3-PutBucketVersioning-enabled.json": set(),
    "cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json": {KMS},
    "cloudtrail-sagemaker/awsdocs-sagemaker-CreateEndpoint.json": set(),
    "cloudtrail-sagemaker/awsdocs-sagemaker-CreateModel.json": set(),
    "config-compliance-change/nzism-lambda-public-access-COMPLIANT.json": set(),
    "config-compliance-change/nzism-loggroup-retention-NON_COMPLIANT-with-old-result.json": set(),
    # Config invocations reach a rule through its own Config rule, by resource type (EC2 here: none)
    "config-invocation/powertools-config-change-ec2-instance-real.json": set(),
    "config-invocation/powertools-config-oversized-change-ec2-instance.json": set(),
    "config-invocation/powertools-config-scheduled-notification.json": set(),
    "handwritten/cloudtrail-s3-CreateBucket.json": {KMS},
    "handwritten/cloudtrail-s3-PutBucketEncryption-AES256.json": {KMS},
    "handwritten/cloudtrail-s3-PutBucketEncryption-AccessDenied.json": set(),  # failed call
    "handwritten/cloudtrail-s3-PutBucketEncryption-aws-kms.json": {KMS},  # routed; judged compliant live
    "handwritten/cloudtrail-sagemaker-CreateNotebookInstance-direct-internet-enabled.json": {NOTEBOOK},
    "handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-InService.json": {NOTEBOOK},
    "macie/aws-samples-reveal-SensitiveData-Multiple-csv-ssn-ccn.json": {MACIE},
    "macie/siemplify-doc-SensitiveData-Personal-unencrypted-bucket.json": {MACIE},
    "securityhub/asr-afsbp-S3.2-public-read-PASSED.json": set(),
    "securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json": set(),
}


def test_every_event_file_has_an_expected_routing():
    files = set(sample_files())
    assert files - set(EXPECTED) == set(), "new event file: add the rules it must reach to EXPECTED"
    assert set(EXPECTED) - files == set(), "EXPECTED names a file that no longer exists"


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_sample_reaches_exactly_the_expected_rules(relative):
    assert routes(relative) == EXPECTED[relative]


@pytest.mark.parametrize("relative", [f for f in sorted(EXPECTED) if f.startswith("config-invocation/")])
def test_config_invocations_are_not_eventbridge_events(relative):
    delivered = as_delivered(load_event(relative))
    assert events.kind_of(delivered) == events.CONFIG_INVOCATION
    assert pattern_routes(delivered) == set()


def test_stopped_notebook_state_change_reaches_no_rule():
    event = load_event("handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-InService.json")
    event["detail"]["NotebookInstanceStatus"] = "Stopped"
    assert pattern_routes(event) == set()
