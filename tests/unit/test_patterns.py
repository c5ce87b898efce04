"""EventBridge patterns derived from the rule specs (what the stack deploys and the CLI routes with)."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from mlwarden.core.patterns import CLOUDTRAIL_DETAIL_TYPE, event_patterns
from mlwarden.core.registry import all_rules, get_rule
from tests.conftest import as_cloudtrail_event, load_event

RULE_IDS = [r.spec.id for r in all_rules()]


def test_s3_kms_rule_listens_to_successful_encryption_calls_only():
    assert event_patterns(get_rule("s3-bucket-kms-encryption").spec) == [
        {
            "source": ["aws.s3"],
            "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
            "detail": {
                "eventSource": ["s3.amazonaws.com"],
                "eventName": ["CreateBucket", "DeleteBucketEncryption", "PutBucketEncryption"],
                "errorCode": [{"exists": False}],
            },
        }
    ]


def test_notebook_rule_listens_to_creation_start_and_running_states():
    assert event_patterns(get_rule("sagemaker-notebook-direct-internet").spec) == [
        {
            "source": ["aws.sagemaker"],
            "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
            "detail": {
                "eventSource": ["sagemaker.amazonaws.com"],
                "eventName": ["CreateNotebookInstance", "StartNotebookInstance"],
                "errorCode": [{"exists": False}],
            },
        },
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Notebook Instance State Change"],
            "detail": {"NotebookInstanceStatus": ["Pending", "InService"]},
        },
    ]


def test_macie_rule_listens_to_sensitive_data_findings_by_type_prefix():
    assert event_patterns(get_rule("macie-sensitive-data").spec) == [
        {
            "source": ["aws.macie"],
            "detail-type": ["Macie Finding"],
            "detail": {"type": [{"prefix": "SensitiveData:S3Object/"}]},
        }
    ]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_cloudtrail_pattern_excludes_failed_calls(rule_id):
    spec = get_rule(rule_id).spec
    cloudtrail = [p for p in event_patterns(spec) if p["detail-type"] == [CLOUDTRAIL_DETAIL_TYPE]]
    assert len(cloudtrail) == len(spec.cloudtrail)
    for pattern, trigger in zip(cloudtrail, spec.cloudtrail, strict=True):
        if trigger.successful_only:
            assert pattern["detail"]["errorCode"] == [{"exists": False}]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_pattern_is_valid_for_eventbridge_and_narrow(rule_id):
    for pattern in event_patterns(get_rule(rule_id).spec):
        EventPattern.load(json.dumps(pattern))  # raises on empty arrays, bare values
        assert pattern["source"] and pattern["detail-type"], "patterns name a source and a detail-type"
        assert all(not s.endswith("*") for s in pattern["source"])


def test_a_failed_call_does_not_match_even_with_the_right_event_name():
    record = load_event("cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json")
    (pattern,) = [EventPattern.load(json.dumps(p)) for p in event_patterns(get_rule("s3-bucket-kms-encryption").spec)]
    assert pattern.matches_event(as_cloudtrail_event(record))
    denied = as_cloudtrail_event(record, errorCode="AccessDenied", errorMessage="Access Denied")
    assert not pattern.matches_event(denied)
