"""`mlwarden scan --format ocsf` and `mlwarden report --format ocsf` as a user runs them: one OCSF 1.6.0
Compliance Finding per line, each valid against the published schema (tests/ocsf/), the --json contract unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_report import make_ml_account, mlwarden, without_audit_table
from tests.unit.test_ocsf import errors


def test_scan_and_report_write_valid_ocsf_findings(aws):
    # Given buckets, two without KMS default encryption
    make_ml_account(aws)

    # When scan writes OCSF
    proc = mlwarden("scan", "--rule", "s3-bucket-kms-encryption", "--format", "ocsf")

    # Then every line is a valid Compliance Finding, saying what the --json record says
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert records and all(errors(r) == [] for r in records)
    as_json = [
        json.loads(line)
        for line in mlwarden("scan", "--rule", "s3-bucket-kms-encryption", "--json").stdout.splitlines()
    ]
    status = {"NON_COMPLIANT": "Fail", "COMPLIANT": "Pass"}
    assert {r["resources"][0]["name"]: r["compliance"]["status"] for r in records} == {
        j["resource_id"]: status[j["compliance"]] for j in as_json
    }
    assert set(as_json[0]) >= {"rule_id", "resource_id", "compliance", "action"}  # the --json contract as it was

    # And report --from-scan --format ocsf writes the same findings
    proc = mlwarden(
        "report", "--from-scan", "--rule", "s3-bucket-kms-encryption", "--format", "ocsf", env=without_audit_table()
    )
    assert proc.returncode == 0, proc.stderr
    reported = [json.loads(line) for line in proc.stdout.splitlines()]
    assert all(errors(r) == [] for r in reported)
    assert sorted(r["finding_info"]["uid"] for r in reported) == sorted(r["finding_info"]["uid"] for r in records)


def test_evaluate_takes_a_bare_ocsf_finding_as_security_hub_delivers_it(aws, tmp_path):
    # Given the handwritten S3.8 OCSF finding (a copy of a real Security Hub v2 finding) about a local bucket
    aws.client("s3").create_bucket(Bucket="securityhubfinding")
    sample = Path(__file__).parents[1] / "events" / "handwritten" / "ocsf-securityhub-v2-S3.8-bucket-bpa-FAILED.json"
    finding = json.loads(sample.read_text())
    finding["cloud"]["region"] = finding["resources"][0]["region"] = "us-east-1"
    path = tmp_path / "finding.json"
    path.write_text(json.dumps(finding))

    # When it is evaluated as it is (no EventBridge envelope)
    proc = mlwarden("evaluate", "--json", str(path))

    # Then it reaches the rule owning S3.8, which judges the bucket on live state
    assert proc.returncode == 0, proc.stderr
    (record,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["rule_id"] == "s3-bucket-public-access"
    assert record["resource_id"] == "securityhubfinding"
    assert record["compliance"] == "NON_COMPLIANT"
