"""`--format ocsf`: every record is an OCSF 1.6.0 Compliance Finding valid against the PUBLISHED schema.

The schema is the OCSF server's export of 1.6.0 turned into JSON Schema (tests/ocsf/README.md says how and from
where); the validator is jsonschema's draft 2020-12 one. The negative cases show the validation can fail.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mlwarden.cli import ocsf
from mlwarden.cli.report import render
from mlwarden.cli.report.model import Report
from mlwarden.core.findings import is_routable_ocsf
from mlwarden.core.model import (
    ACTION_EXEMPT,
    ACTION_FAILED,
    ACTION_NONE,
    ACTION_NOTIFIED,
    ACTION_REMEDIATED,
    ACTION_WOULD_REMEDIATE,
    COMPLIANT,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    Decision,
)
from mlwarden.core.registry import get_rule
from tests.conftest import load_event

SCHEMA_FILE = Path(__file__).parents[1] / "ocsf" / "ocsf-1.6.0-compliance_finding-cloud-datetime.schema.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors(record: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(record)]


def decision(compliance: str, action: str, **changes: Any) -> Decision:
    base = Decision(
        event_id="scan",
        rule_id="s3-bucket-kms-encryption",
        resource_type="AWS::S3::Bucket",
        resource_id="lake-raw",
        resource_arn="arn:aws:s3:::lake-raw",
        account="123456789012",
        region="us-east-1",
        compliance=compliance,
        action=action,
        reason="default encryption is SSE-S3, not SSE-KMS",
        controls=["S3.17"],
        severity="MEDIUM",
        title="S3 buckets are encrypted with KMS keys by default",
        remediation="Set SSE-KMS default encryption",
        console_url="https://console.aws.amazon.com/s3/buckets/lake-raw",
        detected_at="2026-12-06T05:00:00.123456+00:00",
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


CASES = {
    "open violation": decision(NON_COMPLIANT, ACTION_NOTIFIED),
    "would remediate": decision(NON_COMPLIANT, ACTION_WOULD_REMEDIATE),
    "remediated": decision(NON_COMPLIANT, ACTION_REMEDIATED),
    "remediation failed": decision(NON_COMPLIANT, ACTION_FAILED),
    "exempt": decision(NON_COMPLIANT, ACTION_EXEMPT),
    "compliant": decision(COMPLIANT, ACTION_NONE),
    "not applicable, no resource": decision(NOT_APPLICABLE, ACTION_NONE, resource_id="", resource_arn=""),
    "no ARN, no controls, no account": decision(
        NON_COMPLIANT, ACTION_NOTIFIED, resource_arn="", controls=[], account="", console_url="", remediation=""
    ),
    "GovCloud, critical, no time": decision(
        NON_COMPLIANT,
        ACTION_NOTIFIED,
        resource_arn="arn:aws-us-gov:s3:::lake-raw",
        severity="CRITICAL",
        detected_at="",
        event_time="",
    ),
}


def test_the_vendored_schema_is_the_published_compliance_finding_of_the_pinned_version():
    assert SCHEMA["$id"] == "https://schema.ocsf.io/schema/1.6.0/classes/compliance_finding?profiles=cloud,datetime"
    assert ocsf.OCSF_VERSION == "1.6.0"
    assert SCHEMA["properties"]["class_uid"] == {"const": 2003, "title": "Class ID", "type": "integer"}
    assert "compliance" in SCHEMA["required"]
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_record_validates_against_the_published_schema(case):
    record = ocsf.finding(CASES[case])
    assert errors(record) == []
    assert record["metadata"]["version"] == "1.6.0"
    assert record["class_uid"] == 2003 and record["type_uid"] == 200301


@pytest.mark.parametrize(
    ("case", "compliance", "status", "severity"),
    [
        ("open violation", "Fail", "New", "Medium"),
        ("would remediate", "Fail", "New", "Medium"),
        ("remediation failed", "Fail", "New", "Medium"),
        ("exempt", "Fail", "Suppressed", "Medium"),
        ("remediated", "Pass", "Resolved", "Informational"),
        ("compliant", "Pass", "Resolved", "Informational"),
        ("not applicable, no resource", "Not applicable", "Resolved", "Informational"),
        ("GovCloud, critical, no time", "Fail", "New", "Critical"),
    ],
)
def test_the_record_says_what_the_decision_says(case, compliance, status, severity):
    record = ocsf.finding(CASES[case])
    assert (record["compliance"]["status"], record["status"], record["severity"]) == (compliance, status, severity)


def test_the_resource_control_and_account_are_carried():
    record = ocsf.finding(CASES["GovCloud, critical, no time"])
    (resource,) = record["resources"]
    assert resource["uid"] == "arn:aws-us-gov:s3:::lake-raw" and resource["cloud_partition"] == "aws-us-gov"
    assert resource["owner"]["account"]["uid"] == record["cloud"]["account"]["uid"] == "123456789012"
    assert record["compliance"]["control"] == "S3.17"
    assert record["finding_info"]["uid"] == "mlwarden/s3-bucket-kms-encryption/arn:aws-us-gov:s3:::lake-raw"
    assert isinstance(record["time"], int) and record["time_dt"].endswith("Z")


def _drop(record: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    for part in parents:
        record = record[part]
    del record[last]


@pytest.mark.parametrize("path", ["compliance", "class_uid", "metadata.version", "cloud.provider", "finding_info.uid"])
def test_a_record_missing_a_required_attribute_fails(path):
    record = ocsf.finding(CASES["open violation"])
    _drop(record, path)
    assert errors(record) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("severity_id", 7),  # not a severity
        ("compliance.status_id", 4),  # 1 Pass, 2 Warning, 3 Fail, 0/99 only
        ("status_id", 42),
        ("activity_id", 4),
        ("type_uid", 200401),  # another class's type
        ("class_uid", 2004),
        ("time", "2026-12-06"),  # a timestamp is an integer
        ("time_dt", "yesterday"),
        ("unknown_attribute", "x"),  # additionalProperties: false
    ],
)
def test_a_record_with_a_wrong_value_fails(path, value):
    record = ocsf.finding(CASES["open violation"])
    *parents, last = path.split(".")
    target = record
    for part in parents:
        target = target[part]
    target[last] = value
    assert errors(record) != []


@pytest.mark.parametrize(
    "sample",
    [
        "securityhub-ocsf/elastic-securityhub-v2-SQS.1-FAILED.json",
        "securityhub-ocsf/elastic-securityhub-v2-IAM.1-policy-PASSED.json",
    ],
)
def test_security_hubs_own_published_findings_validate_too(sample):
    # The schema is real: Security Hub's own 1.6.0 findings pass it, without edits.
    assert errors(load_event(sample)) == []


def test_mlwardens_own_ocsf_findings_are_never_routed_back():
    rule = get_rule("s3-bucket-kms-encryption")
    record = ocsf.finding(CASES["open violation"])
    assert not is_routable_ocsf(record, rule.spec.controls)
    claimed = copy.deepcopy(record)  # even claiming Security Hub's product, its uid is mlwarden's
    claimed["metadata"]["product"]["uid"] = "arn:aws:securityhub:us-east-1::productv2/aws/securityhub"
    assert not is_routable_ocsf(claimed, rule.spec.controls)


def test_report_format_ocsf_is_one_valid_finding_per_decision():
    decisions = [CASES["open violation"], CASES["compliant"], CASES["remediated"]]
    built = Report(decisions, "scan", "", "us-east-1", "2026-12-06T05:00:00Z", ["123456789012"])
    lines = render(built, "ocsf").splitlines()
    assert len(lines) == 3
    for line in lines:
        assert errors(json.loads(line)) == []


def test_decisions_without_a_rule_are_left_out():
    unrouted = decision(NOT_APPLICABLE, ACTION_NONE, rule_id=None)
    assert list(ocsf.lines([unrouted, CASES["compliant"]])) == [
        json.dumps(ocsf.finding(CASES["compliant"]), separators=(",", ":"))
    ]
