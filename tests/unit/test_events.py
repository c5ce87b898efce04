"""Reading the inputs: envelope kinds, ids, region, account, Config invocations, resources named by events."""

from __future__ import annotations

import json

import pytest

from mlwarden.core import events
from mlwarden.core.registry import get_rule
from mlwarden.rules.macie_sensitive_data import summarize_finding
from tests.conftest import as_cloudtrail_event, as_macie_event, load_event

SYSDIG = "cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json"
MULTIPLE = "macie/aws-samples-reveal-SensitiveData-Multiple-csv-ssn-ccn.json"


def test_cloudtrail_event_fields():
    event = as_cloudtrail_event(load_event(SYSDIG))
    assert events.kind_of(event) == events.EVENTBRIDGE
    assert events.region(event) == "us-east-1"
    assert events.account(event) == "370614344560"
    assert events.request_parameters(event)["bucketName"] == "in-1608116489"
    assert events.describe(event)["event_name"] == "DeleteBucketEncryption"


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ([], "JSON list"),
        ("text", "JSON str"),
        ({"Records": []}, "not an EventBridge event"),
        ({"source": "aws.s3", "detail-type": "x", "detail": []}, "'detail' that is not an object"),
    ],
)
def test_malformed_inputs_are_named_in_one_line(event, says):
    with pytest.raises(events.MalformedEvent) as raised:
        events.kind_of(event)
    assert says in str(raised.value)
    assert "\n" not in str(raised.value)


def test_config_invocation_is_decoded():
    invocation = load_event("config-invocation/powertools-config-scheduled-notification.json")
    assert events.kind_of(invocation) == events.CONFIG_INVOCATION
    assert events.parse_config_invocation(invocation)["messageType"] == "ScheduledNotification"
    broken = dict(invocation, invokingEvent="{")
    with pytest.raises(events.MalformedEvent, match="not JSON"):
        events.parse_config_invocation(broken)
    with pytest.raises(events.MalformedEvent, match="messageType"):
        events.parse_config_invocation(dict(invocation, invokingEvent=json.dumps({"x": 1})))


def test_s3_rule_reads_the_bucket_from_cloudtrail_and_ignores_an_empty_name():
    rule = get_rule("s3-bucket-kms-encryption")
    (ref,) = rule.refs_from_event(as_cloudtrail_event(load_event(SYSDIG)))
    assert (ref.resource_id, ref.region, ref.account, ref.arn) == (
        "in-1608116489",
        "us-east-1",
        "370614344560",
        "arn:aws:s3:::in-1608116489",
    )
    assert rule.refs_from_event(as_cloudtrail_event(load_event("cloudtrail-s3/awsdocs-s3-PutBucketAcl.json"))) == []


@pytest.mark.parametrize(
    "relative",
    [
        "handwritten/cloudtrail-sagemaker-CreateNotebookInstance-direct-internet-enabled.json",
        "handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-InService.json",
    ],
)
def test_notebook_rule_reads_the_notebook_from_both_event_kinds(relative):
    sample = load_event(relative)
    event = sample if "detail-type" in sample else as_cloudtrail_event(sample)
    (ref,) = get_rule("sagemaker-notebook-direct-internet").refs_from_event(event)
    assert ref.resource_id == "ExampleNotebook"
    assert ref.region == "us-east-1"
    assert ref.arn == "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/examplenotebook"


def test_macie_rule_keeps_counts_and_drops_locations():
    (ref,) = get_rule("macie-sensitive-data").refs_from_event(as_macie_event(load_event(MULTIPLE)))
    assert ref.resource_id == "DOC-EXAMPLE-BUCKET1/macie-workshop/sample-data.csv"
    assert ref.account == "555555555555"
    assert ref.context["categories"] == {"FINANCIAL_INFORMATION": 30, "PERSONAL_INFORMATION": 136}
    assert ref.context["detections"]["USA_SOCIAL_SECURITY_NUMBER"] == 30
    text = json.dumps(ref.context)
    for word in ("cells", "occurrences", "columnName", "CCN", "birthdate"):
        assert word not in text


def test_macie_summary_counts_custom_identifiers():
    finding = load_event(MULTIPLE)
    finding["classificationDetails"]["result"]["customDataIdentifiers"] = {
        "detections": [{"arn": "arn:x", "count": 4, "name": "employee-id", "occurrences": {"cells": [{"row": 1}]}}],
        "totalCount": 4,
    }
    summary = summarize_finding(finding)
    assert summary["detections"]["CUSTOM:employee-id"] == 4
    assert summary["categories"]["CUSTOM_IDENTIFIER"] == 4
    assert "cells" not in json.dumps(summary)


def test_macie_finding_without_an_object_names_no_resource():
    finding = load_event(MULTIPLE)
    del finding["resourcesAffected"]["s3Object"]
    assert get_rule("macie-sensitive-data").refs_from_event(as_macie_event(finding)) == []


def test_the_denied_iam_action_is_taken_from_the_message_or_derived_from_the_call():
    from mlwarden.core.iam import denied_action

    iam_message = (
        "User: arn:aws:sts::1:assumed-role/r/mlwarden-x is not authorized to perform: "
        "sagemaker:StopNotebookInstance on resource: arn:aws:sagemaker:us-east-1:1:notebook-instance/nb"
    )
    assert denied_action(iam_message, "StopNotebookInstance", ("sagemaker:DescribeNotebookInstance",)) == (
        "sagemaker:StopNotebookInstance"
    )
    # S3 says only "Access Denied": the action comes from the call and the rule's service
    assert denied_action("Access Denied", "PutPublicAccessBlock", ("s3:GetBucketAcl",)) == (
        "s3:PutBucketPublicAccessBlock"
    )
