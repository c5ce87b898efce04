"""`mlwarden scan` and `mlwarden toggle` as a user runs them, against the local account."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def mlwarden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlwarden", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


def test_scan_reports_one_line_per_resource_and_changes_nothing(aws):
    s3 = aws.client("s3")
    for name in ("raw", "curated", "models"):
        s3.create_bucket(Bucket=f"lake-{name}")
    s3.put_bucket_encryption(
        Bucket="lake-models",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    aws.client("ssm").put_parameter(
        Name="/mlwarden/rules/s3-bucket-kms-encryption/mode", Value="remediate", Type="String"
    )
    proc = mlwarden("scan", "--rule", "s3-bucket-kms-encryption", "--json")
    assert proc.returncode == 0, proc.stderr
    out = {r["resource_id"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(out) == {"lake-raw", "lake-curated", "lake-models"}
    assert out["lake-models"]["compliance"] == "COMPLIANT"
    assert out["lake-raw"]["action"] == "would_remediate"
    assert out["lake-raw"]["account"] == aws.account
    # read-only without --apply
    try:
        s3.get_bucket_encryption(Bucket="lake-raw")
        raise AssertionError("scan without --apply changed the bucket")
    except s3.exceptions.ClientError:
        pass
    # with --apply the non-compliant buckets are fixed
    proc = mlwarden("scan", "--rule", "s3-bucket-kms-encryption", "--json", "--apply")
    actions = {r["resource_id"]: r["action"] for r in map(json.loads, proc.stdout.splitlines())}
    assert actions == {"lake-raw": "remediated", "lake-curated": "remediated", "lake-models": "none"}


def test_scan_rejects_an_unknown_rule(aws):
    proc = mlwarden("scan", "--rule", "no-such-rule")
    assert proc.returncode == 2
    assert "unknown rule id 'no-such-rule'" in proc.stderr


def test_toggle_sets_the_mode_and_refuses_withheld_remediation(aws):
    ssm = aws.client("ssm")
    name = "/mlwarden/rules/s3-bucket-kms-encryption/mode"
    ssm.put_parameter(
        Name=name,
        Value="notify",
        Type="String",
        Tags=[{"Key": "mlwarden:allow-remediation", "Value": "true"}],
    )
    proc = mlwarden("toggle", "s3-bucket-kms-encryption", "remediate")
    assert proc.returncode == 0, proc.stderr
    assert "notify -> remediate" in proc.stdout
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "remediate"

    withheld = "/mlwarden/rules/sagemaker-notebook-direct-internet/mode"
    ssm.put_parameter(
        Name=withheld,
        Value="notify",
        Type="String",
        Tags=[{"Key": "mlwarden:allow-remediation", "Value": "false"}],
    )
    proc = mlwarden("toggle", "sagemaker-notebook-direct-internet", "remediate")
    assert proc.returncode == 1
    assert "withheld at deploy time" in proc.stderr
    assert ssm.get_parameter(Name=withheld)["Parameter"]["Value"] == "notify"
    # other modes are still allowed
    assert mlwarden("toggle", "sagemaker-notebook-direct-internet", "off").returncode == 0


def test_toggle_kill_switch_and_bad_input(aws):
    assert mlwarden("toggle", "kill-switch", "on").returncode == 0
    assert aws.client("ssm").get_parameter(Name="/mlwarden/kill-switch")["Parameter"]["Value"] == "on"
    assert mlwarden("toggle", "s3-bucket-kms-encryption", "loud").returncode == 2
    proc = mlwarden("toggle", "s3-bucket-kms-encryption", "notify")
    assert proc.returncode == 1 and "not deployed here" in proc.stderr
