"""`mlwarden scan --format ocsf` and `mlwarden report --format ocsf` as a user runs them: one OCSF 1.6.0
Compliance Finding per line, each valid against the published schema (tests/ocsf/), the --json contract unchanged."""

from __future__ import annotations

import json

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
