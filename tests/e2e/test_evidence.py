"""`mlwarden report --evidence DIR` as an auditor's requester runs it: a bundle per framework and date range from
the audit table, integrity-checkable, every control listed; its HTML checked in headless Chromium."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlwarden.cli.frameworks import NIST_BY_CONTROL
from mlwarden.cli.report import evidence
from mlwarden.cli.standards import AI_SECURITY_BEST_PRACTICES
from mlwarden.core.model import Decision
from mlwarden.core.registry import all_specs
from mlwarden.core.safety import AuditLog
from tests.e2e.test_report import CHROMIUM_FLAGS, chromium, mlwarden, without_audit_table

AUDIT = "mlwarden-audit"
KMS, NOTEBOOK = "s3-bucket-kms-encryption", "sagemaker-notebook-direct-internet"
ROLE = "arn:aws:iam::123456789012:role/DataScientist"
SESSION = "arn:aws:sts::123456789012:assumed-role/DataScientist/alice"
RANGE = ("--since", "2026-11-01", "--until", "2026-11-30")


def make_audit_table(aws) -> None:
    """November 2026 in the audit table: a violation then its remediation, an exemption by tag, a compliant
    bucket, one decision on each edge of the month, and a notebook fixed in October (outside the range)."""
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName=AUDIT,
        KeySchema=[{"AttributeName": "rule_id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "rule_id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    audit = AuditLog(AUDIT, 30, ddb)

    def record(rule, resource, when, compliance, action, *, details=None, session=SESSION, remediation=""):
        decision = Decision(
            event_id=f"ev-{resource}-{when}",
            rule_id=rule,
            resource_type="AWS::S3::Bucket" if rule == KMS else "AWS::SageMaker::NotebookInstance",
            resource_id=resource,
            resource_arn=f"arn:aws:s3:::{resource}" if rule == KMS else "",
            account=aws.account,
            region=aws.region,
            compliance=compliance,
            action=action,
            reason="SSE-S3, SSE-KMS required" if compliance == "NON_COMPLIANT" else "SSE-KMS",
            controls=[],
            severity="HIGH",
            remediation=remediation,
            detected_at=when,
            details=details or {},
        )
        audit.record(decision, principal=ROLE if session else "", session=session)

    record(KMS, "lake-raw", "2026-11-10T10:00:00Z", "NON_COMPLIANT", "notified")
    record(KMS, "lake-raw", "2026-11-10T11:00:00Z", "NON_COMPLIANT", "remediated", remediation="SSE-KMS set")
    exemption = {"source": "tag", "reason": "vendor writes SSE-S3 only (RISK-42)", "until": "2026-12-31"}
    record(KMS, "vendor-drop", "2026-11-12T09:30:00Z", "NON_COMPLIANT", "exempt", details={"exemption_by": exemption})
    record(KMS, "lake-models", "2026-11-15T08:00:00Z", "COMPLIANT", "none", session="")  # a sweep: no caller
    record(KMS, "first-day", "2026-11-01T00:00:00Z", "COMPLIANT", "none")
    record(KMS, "last-second", "2026-11-30T23:59:59Z", "COMPLIANT", "none")
    record(KMS, "next-month", "2026-12-01T00:00:00Z", "NON_COMPLIANT", "notified")
    record(NOTEBOOK, "nb-open", "2026-10-20T12:00:00Z", "NON_COMPLIANT", "remediated")


def read_bundle(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def assert_integrity(files: dict[str, bytes]) -> dict:
    """The manifest names every other file with its size and SHA-256, and SHA256SUMS covers them all."""
    manifest = json.loads(files["manifest.json"])
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == {"evidence.html", "evidence.csv", "evidence.json"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest() and entry["bytes"] == len(files[name])
    sums = dict(reversed(line.split("  ", 1)) for line in files["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(files) - {"SHA256SUMS"}
    assert all(sums[name] == hashlib.sha256(files[name]).hexdigest() for name in sums)
    return manifest


def test_evidence_bundle_lists_every_control_with_who_and_why_and_can_be_checked(aws, tmp_path):
    # Given an audit table with November's decisions
    make_audit_table(aws)
    folder = tmp_path / "evidence-2026-11"

    # When the FSBP bundle for November is written
    proc = mlwarden("report", "--evidence", str(folder), "--table", AUDIT, *RANGE, env=without_audit_table())
    assert proc.returncode == 0, proc.stderr
    assert f"evidence bundle written to {folder}" in proc.stderr

    # Then the folder holds the three renderings, the manifest and SHA256SUMS, and every hash matches
    files = read_bundle(folder)
    assert set(files) == {"evidence.html", "evidence.csv", "evidence.json", "manifest.json", "SHA256SUMS"}
    manifest = assert_integrity(files)
    assert (manifest["framework"], manifest["since"], manifest["until"]) == ("fsbp", "2026-11-01", "2026-11-30")
    assert manifest["account"] == aws.account and manifest["audit_table"] == AUDIT
    assert manifest["mlwarden_version"] and manifest["generated_at"].endswith("Z")
    # a changed byte is caught
    tampered = dict(files, **{"evidence.csv": files["evidence.csv"].replace(b"vendor-drop", b"vendor-dr0p")})
    with pytest.raises(AssertionError):
        assert_integrity(tampered)

    # every control a rule declares is listed, those without evidence in the range as such
    document = json.loads(files["evidence.json"])
    declared = {c for spec in all_specs() for c in spec.controls}
    controls = {c["control"]: c for c in document["controls"]}
    assert set(controls) == declared and document["controls_total"] == len(declared)
    assert controls["SageMaker.1"]["status"] == "no evidence in range"  # its only decision was in October
    assert controls["SageMaker.1"]["decisions"] == []
    s317 = controls["S3.17"]
    assert s317["status"] == "evidence" and s317["rules"] == [KMS]
    # the range is whole UTC days, both ends included
    resources = [d["resource_id"] for d in s317["decisions"]]
    assert resources == ["first-day", "lake-raw", "lake-raw", "vendor-drop", "lake-models", "last-second"]
    assert s317["counts"] == {"violation": 1, "remediation": 1, "exemption": 1, "compliant": 3, "other": 0}
    # who and why: the caller (role and session) and the exemption's declaration, reason and end
    (exempt,) = [d for d in s317["decisions"] if d["kind"] == "exemption"]
    assert exempt["exemption_source"] == "tag" and exempt["exemption_reason"] == "vendor writes SSE-S3 only (RISK-42)"
    assert exempt["exemption_until"] == "2026-12-31"
    assert (exempt["principal"], exempt["principal_session"]) == (ROLE, SESSION)
    (fixed,) = [d for d in s317["decisions"] if d["kind"] == "remediation"]
    assert fixed["remediation"] == "SSE-KMS set" and fixed["principal"] == ROLE

    # the CSV: one row per control and decision, one row for a control without evidence
    rows = list(csv.DictReader(io.StringIO(files["evidence.csv"].decode())))
    assert {r["control"] for r in rows} == declared
    (empty,) = [r for r in rows if r["control"] == "SageMaker.1"]
    assert empty["control_status"] == "no evidence in range" and empty["resource_id"] == ""
    assert [r["exemption_reason"] for r in rows if r["control"] == "S3.4" and r["kind"] == "exemption"] == [
        "vendor writes SSE-S3 only (RISK-42)"
    ]

    # and the bundle is never written over
    again = mlwarden("report", "--evidence", str(folder), "--table", AUDIT, *RANGE, env=without_audit_table())
    assert again.returncode == 2 and "never overwritten" in again.stderr
    assert read_bundle(folder) == files


def test_nist_and_ai_security_bundles_and_the_zip(aws, tmp_path):
    make_audit_table(aws)

    # NIST SP 800-53 as one zip file: a requirement has evidence through the controls AWS maps to it
    target = tmp_path / "nist"
    proc = mlwarden(
        "report", "--evidence", str(target), "--framework", "nist-800-53", "--zip", "--table", AUDIT, *RANGE
    )
    assert proc.returncode == 0, proc.stderr
    assert not target.exists()
    with zipfile.ZipFile(tmp_path / "nist.zip") as archive:
        files = {Path(name).name: archive.read(name) for name in archive.namelist()}
        assert all(name.startswith("nist/") for name in archive.namelist())
    assert_integrity(files)
    document = json.loads(files["evidence.json"])
    requirements = {c["control"]: c for c in document["controls"]}
    mapped = {r for spec in all_specs() for c in spec.controls for r in NIST_BY_CONTROL.get(c, ())}
    assert set(requirements) == mapped
    assert requirements["SC-28"]["status"] == "evidence" and "S3.17" in requirements["SC-28"]["security_hub_controls"]
    assert requirements["IA-5(1)"]["status"] == "no evidence in range"  # S3.5 only: s3-bucket-ssl-only

    # The AI Security Best Practices standard: all of its controls, the uncovered ones said to be
    folder = tmp_path / "ai"
    proc = mlwarden("report", "--evidence", str(folder), "--framework", "ai-security", "--table", AUDIT, *RANGE)
    assert proc.returncode == 0, proc.stderr
    controls = {c["control"]: c for c in json.loads((folder / "evidence.json").read_text())["controls"]}
    assert set(controls) == set(AI_SECURITY_BEST_PRACTICES.controls)
    covered = {c for spec in all_specs() for c in spec.controls}
    for control, entry in controls.items():
        assert (entry["status"] == "not covered") == (control not in covered), control
    assert controls["SageMaker.1"]["status"] == "no evidence in range"


def test_evidence_refuses_a_bad_range_and_options_without_evidence(aws, tmp_path):
    make_audit_table(aws)
    bad = mlwarden("report", "--evidence", str(tmp_path / "x"), "--since", "2026-12-01", "--until", "2026-11-01")
    assert bad.returncode == 2 and "after --until" in bad.stderr
    assert mlwarden("report", "--zip", "--table", AUDIT).returncode == 2
    mixed = mlwarden("report", "--evidence", str(tmp_path / "y"), "--from-scan")
    assert mixed.returncode == 2 and "audit table" in mixed.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# ----------------------------------------------------------------------------------------- the browser
class Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, str] = {}
        self.kinds: dict[str, set[str]] = {}
        self.scripts = 0
        self._control = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "control" in a.get("class", "").split():
            self._control = a["data-control"]
            self.controls[self._control] = a["data-status"]
        if tag == "table" and "data-kind" in a and self._control:
            self.kinds.setdefault(self._control, set()).add(a["data-kind"])
        self.scripts += tag == "script"


def render(browser: str, page: Path, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom"]
        + [page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_evidence_html_renders_in_a_headless_browser_without_console_errors(aws, tmp_path):
    browser = chromium()
    make_audit_table(aws)
    folder = tmp_path / "bundle"
    proc = mlwarden("report", "--evidence", str(folder), "--table", AUDIT, *RANGE)
    assert proc.returncode == 0, proc.stderr

    # The check sees console messages: a page that breaks the report's CSP logs one
    broken = tmp_path / "broken.html"
    broken.write_text(
        f'<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="{evidence.CSP}"><p>x</p>'
        '<img src="http://example.invalid/x.png">'
    )
    assert console_messages(render(browser, broken, tmp_path / "p1").stderr)

    # When the bundle's page is opened in headless Chromium
    rendered = render(browser, folder / "evidence.html", tmp_path / "p2")
    assert rendered.returncode == 0, rendered.stderr[-2000:]

    # Then it logs nothing to the console, runs no script, and has one section per control
    assert console_messages(rendered.stderr) == []
    dom = Sections()
    dom.feed(rendered.stdout[rendered.stdout.find("<") :])
    assert dom.scripts == 0
    document = json.loads((folder / "evidence.json").read_text())
    assert dom.controls == {c["control"]: c["status"] for c in document["controls"]}
    assert dom.kinds["S3.17"] == {"violation", "remediation", "exemption", "compliant"}
    assert dom.controls["SageMaker.1"] == "no evidence in range" and "SageMaker.1" not in dom.kinds


def test_names_from_the_account_cannot_script_the_page_or_the_spreadsheet():
    # Given a recorded decision whose resource name and reason an attacker chose
    hostile = {key: "" for key in evidence.ITEM_KEYS}
    hostile.update(
        detected_at="2026-11-02T00:00:00Z",
        rule_id=KMS,
        resource_id='<script>alert(1)</script>"><img src=x onerror=alert(2)>',
        reason='=HYPERLINK("http://evil.example")',
        compliance="NON_COMPLIANT",
        action="exempt",
        exemption_source="tag",
        exemption_reason="<b>trust me</b>",
        kind="exemption",
    )
    bundle = evidence.build_bundle(
        [hostile],
        framework="fsbp",
        since=evidence.date(2026, 11, 1),
        until=evidence.date(2026, 11, 30),
        account="123456789012",
        region="us-east-1",
        table=AUDIT,
        specs=all_specs(),
    )
    files = evidence.bundle_files(bundle)
    page = files["evidence.html"].decode()
    # Then the page holds them as text only
    assert "<script" not in page and "<img" not in page and "<b>trust" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # and no CSV cell starts a formula
    rows = list(csv.DictReader(io.StringIO(files["evidence.csv"].decode())))
    reasons = [r["reason"] for r in rows if r["kind"] == "exemption"]
    assert reasons and all(r.startswith("'=") for r in reasons)
