"""The command line in organization mode, as a user runs it, against a local organization in moto: per-account
and per-OU mode overrides (`toggle --account/--ou`), sweeps of member accounts through the member roles
(`scan --account`, `--organization`), and `history` / `report` filtered by account.

The caller is the management account (moto's default). moto lets any caller assume any role (it checks neither
the role nor its trust): the member roles' trust is asserted on the synthesized templates, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from mlwarden.core.modes import account_override_name, ou_override_name

RULE = "s3-bucket-kms-encryption"
MODE = f"/mlwarden/rules/{RULE}/mode"


def mlwarden(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlwarden", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=180,
        cwd=cwd,
    )


def records(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture
def local_org(aws, tmp_path) -> SimpleNamespace:
    orgs = aws.client("organizations")
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    sandbox = orgs.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]
    other = orgs.create_organizational_unit(ParentId=root, Name="other")["OrganizationalUnit"]["Id"]

    def account(name: str, parent: str) -> str:
        account_id = str(
            orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
        )
        orgs.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        return account_id

    b, c, d = account("b", sandbox), account("c", sandbox), account("d", other)

    def s3_of(account_id: str) -> Any:
        creds = aws.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="admin"
        )["Credentials"]
        return boto3.session.Session().client(
            "s3",
            region_name="us-east-1",
            endpoint_url=aws.endpoint,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    block = {"organization": {"organizationId": org_id, "organizationalUnitIds": [sandbox], "regions": ["us-east-1"]}}
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"mlwarden": block}}))
    aws.client("ssm").put_parameter(
        Name=MODE, Value="notify", Type="String", Tags=[{"Key": "mlwarden:allow-remediation", "Value": "true"}]
    )
    return SimpleNamespace(id=org_id, root=root, sandbox=sandbox, b=b, c=c, d=d, s3_of=s3_of, cwd=tmp_path)


# ----------------------------------------------------------------------------- toggle --account / --ou
def test_toggle_writes_and_removes_account_and_ou_overrides(aws, local_org):
    ssm = aws.client("ssm")
    proc = mlwarden("toggle", RULE, "remediate", "--account", local_org.b)
    assert proc.returncode == 0, proc.stderr
    assert f"account {local_org.b}: inherited -> remediate" in proc.stdout
    assert ssm.get_parameter(Name=account_override_name(RULE, local_org.b))["Parameter"]["Value"] == "remediate"
    assert ssm.get_parameter(Name=MODE)["Parameter"]["Value"] == "notify"  # the global mode is untouched

    assert mlwarden("toggle", RULE, "off", "--ou", local_org.sandbox).returncode == 0
    assert ssm.get_parameter(Name=ou_override_name(RULE, local_org.sandbox))["Parameter"]["Value"] == "off"

    proc = mlwarden("toggle", RULE, "inherit", "--account", local_org.b)
    assert proc.returncode == 0 and "override remediate removed" in proc.stdout
    assert ssm.get_parameters(Names=[account_override_name(RULE, local_org.b)])["Parameters"] == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("toggle", RULE, "notify", "--account", "1234"), "not a 12-digit account id"),
        (("toggle", RULE, "notify", "--account", "*"), "not a 12-digit account id"),
        (("toggle", RULE, "notify", "--ou", "ou-*"), "not an organizational unit id"),
        (("toggle", "kill-switch", "on", "--account", "111122223333"), "the kill switch is global"),
        (("toggle", RULE, "inherit"), "name it with --account or --ou"),
        (("toggle", RULE, "loud", "--account", "111122223333"), "mode must be one of"),
    ],
)
def test_toggle_overrides_bad_input_exits_2(aws, args, says):
    proc = mlwarden(*args)
    assert proc.returncode == 2 and says in proc.stderr


def test_toggle_override_refuses_remediate_where_the_deployment_withheld_it(aws):
    ssm = aws.client("ssm")
    ssm.put_parameter(
        Name=MODE, Value="notify", Type="String", Tags=[{"Key": "mlwarden:allow-remediation", "Value": "false"}]
    )
    proc = mlwarden("toggle", RULE, "remediate", "--account", "111122223333")
    assert proc.returncode == 1 and "withheld at deploy time" in proc.stderr
    assert ssm.get_parameters(Names=[account_override_name(RULE, "111122223333")])["Parameters"] == []


# ----------------------------------------------------------------------------- scan --account / --organization
def test_scan_sweeps_member_accounts_and_reports_per_account(aws, local_org):
    local_org.s3_of(local_org.b).create_bucket(Bucket="lake-b")
    local_org.s3_of(local_org.c).create_bucket(Bucket="lake-c")
    aws.client("s3").create_bucket(Bucket="central-only")
    aws.client("ssm").put_parameter(Name=account_override_name(RULE, local_org.c), Value="remediate", Type="String")

    proc = mlwarden(
        "scan", "--rule", RULE, "--json", "--account", local_org.b, "--account", local_org.c, cwd=local_org.cwd
    )

    out = {(r["account"], r["resource_id"]): r["action"] for r in records(proc)}
    assert out == {(local_org.b, "lake-b"): "would_notify", (local_org.c, "lake-c"): "would_remediate"}
    assert f"account {local_org.b}: 1 resources judged, 1 non-compliant" in proc.stderr
    assert f"account {local_org.c}: 1 resources judged, 1 non-compliant" in proc.stderr


def test_scan_member_role_option_sweeps_through_the_named_role(aws, local_org):
    # moto admits any AssumeRole: which role is assumed, and without ExternalId, is proven in
    # tests/functional/test_organization.py (test_scan_from_a_workstation_*); here, the option's wiring.
    local_org.s3_of(local_org.b).create_bucket(Bucket="lake-b")
    proc = mlwarden(
        "scan",
        "--rule",
        RULE,
        "--json",
        "--account",
        local_org.b,
        "--member-role",
        "OrganizationAccountAccessRole",
        cwd=local_org.cwd,
    )
    assert {(r["account"], r["resource_id"]) for r in records(proc)} == {(local_org.b, "lake-b")}
    help_text = mlwarden("scan", "--help").stdout
    assert "--member-role" in help_text and "--member-role" in mlwarden("report", "--help").stdout


def test_scan_organization_covers_the_guarded_units_only(aws, local_org):
    for account in (local_org.b, local_org.c, local_org.d):
        local_org.s3_of(account).create_bucket(Bucket=f"bucket-{account}")

    proc = mlwarden("scan", "--rule", RULE, "--json", "--organization", cwd=local_org.cwd)

    accounts = {r["account"] for r in records(proc)}
    assert accounts == {local_org.b, local_org.c}  # d is in the organization, not under the guarded OU


def test_scan_of_an_account_outside_the_guarded_units_is_refused_with_a_note(aws, local_org):
    local_org.s3_of(local_org.d).create_bucket(Bucket="not-ours")
    proc = mlwarden("scan", "--rule", RULE, "--json", "--account", local_org.d, cwd=local_org.cwd)
    assert records(proc) == []
    assert f"account {local_org.d}: not swept: not under the organizational units" in proc.stderr


def test_scan_of_another_account_without_the_organization_block_exits_2(aws, tmp_path):
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"mlwarden": {}}}))
    proc = mlwarden("scan", "--rule", RULE, "--account", "111122223333", cwd=tmp_path)
    assert proc.returncode == 2 and "need the organization block in cdk.json" in proc.stderr


# ----------------------------------------------------------------------------- history / report --account
def test_history_and_report_filter_by_account(aws, local_org):
    from mlwarden.core.model import Decision
    from mlwarden.core.safety import AuditLog

    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName="audit",
        KeySchema=[{"AttributeName": "rule_id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "rule_id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    log = AuditLog("audit", 30, ddb)
    for account, bucket in ((local_org.b, "lake-b"), (local_org.c, "lake-c")):
        decision = Decision(
            event_id=f"e-{bucket}",
            rule_id=RULE,
            resource_type="AWS::S3::Bucket",
            resource_id=bucket,
            resource_arn=f"arn:aws:s3:::{bucket}",
            account=account,
            region="us-east-1",
            compliance="NON_COMPLIANT",
            action="notified",
            reason="no KMS default encryption",
            controls=["S3.17"],
            detected_at="2026-12-06T05:00:00Z",
            account_name=f"name-{bucket}",
        )
        log.record(decision)

    history = records(mlwarden("history", "--table", "audit", "--json", "--account", local_org.b))
    assert [(h["resource_id"], h["account"], h["account_name"]) for h in history] == [
        ("lake-b", local_org.b, "name-lake-b")
    ]

    proc = mlwarden(
        "report", "--from-history", "--table", "audit", "--format", "json", "--account", local_org.c, cwd=local_org.cwd
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["accounts"] == [local_org.c]


def test_status_lists_the_overrides_in_organization_mode(aws, local_org):
    assert mlwarden("toggle", RULE, "remediate", "--ou", local_org.sandbox).returncode == 0
    assert mlwarden("toggle", RULE, "off", "--account", local_org.b).returncode == 0

    status = {r["rule_id"]: r for r in records(mlwarden("status", "--json", cwd=local_org.cwd))}

    assert status[RULE]["mode"] == "notify"
    assert status[RULE]["overrides"] == {f"account {local_org.b}": "off", f"ou {local_org.sandbox}": "remediate"}
    assert status["s3-bucket-public-access"]["overrides"] == {}
    table = mlwarden("status", cwd=local_org.cwd)
    assert f"{RULE}: account {local_org.b}: off (override)" in table.stdout
