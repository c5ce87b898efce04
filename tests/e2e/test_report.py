"""`mlwarden report` as a user runs it: from a scan or the audit table; HTML checked in a real headless browser."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlwarden.cli import report
from mlwarden.core.model import Decision
from mlwarden.core.safety import AuditLog

RULES = (
    "s3-bucket-kms-encryption",
    "s3-bucket-public-access",
    "sagemaker-notebook-direct-internet",
    "sagemaker-notebook-root-access",
)
RULE_ARGS = [arg for rule in RULES for arg in ("--rule", rule)]
AUDIT = "mlwarden-audit"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
NON_COMPLIANT_ORANGE = (0xD5, 0x5E, 0x00)  # report.STATUS_COLORS["non_compliant"]


def mlwarden(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlwarden", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        timeout=120,
    )


def without_audit_table() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MLWARDEN_AUDIT_TABLE", None)
    return env


def make_ml_account(aws) -> None:
    """Three buckets (two without KMS or Block Public Access), an open notebook and a private one."""
    s3 = aws.client("s3")
    for name in ("lake-raw", "lake-curated", "lake-models"):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_encryption(
        Bucket="lake-models",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    s3.put_public_access_block(
        Bucket="lake-models",
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        ),
    )
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="notebooks", Description="notebooks", VpcId=vpc)["GroupId"]
    sagemaker = aws.client("sagemaker")
    common = {"InstanceType": "ml.t3.medium", "RoleArn": f"arn:aws:iam::{aws.account}:role/sagemaker"}
    sagemaker.create_notebook_instance(
        NotebookInstanceName="nb-open", DirectInternetAccess="Enabled", RootAccess="Enabled", **common
    )
    sagemaker.create_notebook_instance(
        NotebookInstanceName="nb-private",
        DirectInternetAccess="Disabled",
        RootAccess="Disabled",
        SubnetId=subnet,
        SecurityGroupIds=[group],
        **common,
    )


# ----------------------------------------------------------------------------------------- the browser
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "chromium not found: the HTML report is tested in a real headless browser. Run `make browser` "
            "(apt-get install chromium, as `make test` does) or install chromium yourself.",
            pytrace=False,
        )
    return path


class Dom(HTMLParser):
    """What the test reads from the rendered DOM: sections, summary figures, charts, scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.rule_sections: set[str] = set()
        self.figures: dict[str, str] = {}
        self.charts = 0
        self.scripts = 0
        self.external: list[str] = []
        self.finding_rows: list[tuple[str, str]] = []
        self._figure: str | None = None
        self._in_value = False
        self._row_rule: str | None = None
        self._row_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        classes = a.get("class", "").split()
        if tag == "section" and "rule" in classes:
            self.rule_sections.add(a.get("data-rule-id", ""))
        if "figure" in classes:
            self._figure = a.get("data-figure")
        if tag == "span" and "value" in classes and self._figure:
            self._in_value = True
        if tag == "svg" and "chart" in classes:
            self.charts += 1
        if tag == "script":
            self.scripts += 1
        for attr in ("src", "href"):
            if a.get(attr, "").startswith(("http:", "https:", "//")) and tag in ("link", "img", "script", "iframe"):
                self.external.append(a[attr])
        if tag == "tr" and "data-rule-id" in a:
            self._row_rule, self._row_text = a["data-rule-id"], []

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._in_value = False
        if tag == "tr" and self._row_rule is not None:
            self.finding_rows.append((self._row_rule, " ".join(self._row_text)))
            self._row_rule = None

    def handle_data(self, data: str) -> None:
        if self._in_value and self._figure:
            self.figures[self._figure] = data.strip()
        if self._row_rule is not None:
            self._row_text.append(data)


def png_rows(path: Path) -> tuple[int, int, Iterator[list[tuple[int, int, int]]]]:
    """Width, height and the RGB pixel rows of an 8-bit RGB(A) PNG (zlib + struct, no imaging library).
    Rows are decoded lazily, so a caller that has seen enough stops early."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = bpp = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour_type in (2, 6) and interlace == 0, "unexpected PNG format"
            bpp = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)

    def rows() -> Iterator[list[tuple[int, int, int]]]:
        raw = zlib.decompress(b"".join(idat))
        stride = width * bpp
        previous = bytearray(stride)
        offset = 0
        for _ in range(height):
            kind, line = raw[offset], bytearray(raw[offset + 1 : offset + 1 + stride])
            offset += 1 + stride
            if kind == 1:
                for x in range(bpp, stride):
                    line[x] = (line[x] + line[x - bpp]) & 0xFF
            elif kind == 2:
                line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
            elif kind == 3:
                for x in range(stride):
                    left = line[x - bpp] if x >= bpp else 0
                    line[x] = (line[x] + ((left + previous[x]) >> 1)) & 0xFF
            elif kind == 4:
                for x in range(stride):
                    a = line[x - bpp] if x >= bpp else 0
                    b, c = previous[x], (previous[x - bpp] if x >= bpp else 0)
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            yield list(zip(line[0::bpp], line[1::bpp], line[2::bpp], strict=True))
            previous = line

    return width, height, rows()


def near(colour: tuple[int, int, int], target: tuple[int, int, int], tolerance: int = 8) -> bool:
    return max(abs(c - t) for c, t in zip(colour, target, strict=True)) <= tolerance


def test_html_report_from_a_scan_renders_in_a_headless_browser(aws, tmp_path):
    # Given an ML account with violations, and a real browser
    browser = chromium()
    make_ml_account(aws)
    page = tmp_path / "report.html"

    # When the report is made from a fresh scan and opened in headless Chromium
    proc = mlwarden("report", "--from-scan", "--format", "html", "--output", str(page), *RULE_ARGS)
    assert proc.returncode == 0, proc.stderr
    assert "report written to" in proc.stderr
    screenshot = tmp_path / "report.png"
    rendered = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            "--window-size=1280,2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    dom = Dom()
    dom.feed(rendered.stdout[rendered.stdout.find("<") :])

    # Then the summary adds up: 3 buckets x 2 rules + 2 notebooks x 2 rules
    assert "summary" in dom.ids
    assert dom.figures["judged"] == "10"
    assert dom.figures["non_compliant"] == "6"  # 2 buckets x 2 rules, nb-open x 2 rules
    assert dom.figures["compliant"] == "4"
    assert dom.figures["remediated"] == dom.figures["exempt"] == "0"  # a scan is a dry run
    # a section per rule with results, with its chart
    assert dom.rule_sections == set(RULES)
    assert dom.charts >= 2 + len(RULES)  # by rule, by control (+ NIST families), one per rule
    assert {"by-rule", "by-control", "findings", "framework", "control-s3-17", "control-sagemaker-1"} <= dom.ids
    open_kms = [text for rule, text in dom.finding_rows if rule == "s3-bucket-kms-encryption"]
    assert any("lake-raw" in text and "SSE-KMS" in text for text in open_kms)
    assert not any("lake-models" in text for text in open_kms)
    # self-contained: no script, nothing loaded from elsewhere
    assert dom.scripts == 0 and dom.external == []
    # and the browser painted it: a full-size screenshot with the charts' colours in it
    assert screenshot.is_file() and screenshot.stat().st_size > 20_000
    width, height, rows = png_rows(screenshot)
    assert (width, height) == (1280, 2000)
    colours: set[tuple[int, int, int]] = set()
    painted_bars = False
    for row in rows:  # stop once both are seen: decoding every row in Python costs a second
        colours.update(row)
        painted_bars = painted_bars or any(near(pixel, NON_COMPLIANT_ORANGE) for pixel in set(row))
        if painted_bars and len(colours) > 16:
            break
    assert len(colours) > 16, "the screenshot is (nearly) blank"
    assert painted_bars, "no non-compliant bar painted in the screenshot"


def test_report_from_the_audit_table_takes_the_latest_decision_per_resource(aws, tmp_path):
    # Given an audit table where lake-raw was non-compliant, then remediated, and lake-models is compliant
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
    rule = "s3-bucket-kms-encryption"

    def record(resource: str, when: str, compliance: str, action: str, remediation: str = "") -> None:
        decision = Decision(
            event_id=f"ev-{resource}-{when}",
            rule_id=rule,
            resource_type="AWS::S3::Bucket",
            resource_id=resource,
            resource_arn=f"arn:aws:s3:::{resource}",
            account=aws.account,
            region=aws.region,
            compliance=compliance,
            action=action,
            reason="no default encryption; SSE-KMS required" if compliance == "NON_COMPLIANT" else "SSE-KMS",
            controls=["S3.17", "S3.4"],
            severity="HIGH",
            remediation=remediation,
            detected_at=when,
        )
        audit.record(decision, principal="arn:aws:iam::123456789012:role/admin")

    record("lake-raw", "2026-11-25T10:00:00Z", "NON_COMPLIANT", "notified", "set default encryption to SSE-KMS")
    record("lake-raw", "2026-11-25T11:00:00Z", "NON_COMPLIANT", "remediated", "default encryption set to SSE-KMS")
    record("lake-models", "2026-11-25T09:00:00Z", "COMPLIANT", "none")

    # When the report is made with the table named only in the environment (the default source)
    env = dict(os.environ, MLWARDEN_AUDIT_TABLE=AUDIT)
    proc = mlwarden("report", "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr

    # Then it reads the table, one decision per resource, the latest one
    document = json.loads(proc.stdout)
    assert document["source"] == "history" and AUDIT in document["source_detail"]
    assert document["summary"] == {
        "judged": 2,
        "non_compliant": 0,
        "remediated": 1,
        "exempt": 0,
        "stopped": 0,
        "compliant": 1,
        "not_applicable": 0,
    }
    by_resource = {d["resource_id"]: d for d in document["decisions"]}
    assert by_resource["lake-raw"]["status"] == "remediated"
    assert by_resource["lake-raw"]["remediation"] == "default encryption set to SSE-KMS"
    assert by_resource["lake-raw"]["controls"] == ["S3.17", "S3.4"]
    assert "SC-28" in by_resource["lake-raw"]["nist_800_53_r5"]

    # and --from-history --format csv gives one row per decision
    proc = mlwarden("report", "--from-history", "--table", AUDIT, "--format", "csv", env=without_audit_table())
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["resource_id"] for r in rows] == ["lake-raw", "lake-models"]  # worst status first
    assert rows[0]["status"] == "remediated" and rows[0]["controls"] == "S3.17;S3.4"


def test_report_without_an_audit_table_scans_and_writes_csv_and_json(aws, tmp_path):
    # Given an account with buckets and no audit table anywhere
    make_ml_account(aws)
    env = without_audit_table()

    # When the report is asked for without a source, as CSV, for one rule
    proc = mlwarden("report", "--format", "csv", "--rule", "s3-bucket-kms-encryption", env=env)

    # Then it is a scan: one row per bucket, with the columns of the contract and the report's additions
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert tuple(rows[0]) == report.CSV_COLUMNS
    assert {r["resource_id"]: r["status"] for r in rows} == {
        "lake-raw": "non_compliant",
        "lake-curated": "non_compliant",
        "lake-models": "compliant",
    }
    assert all(r["action"] in ("none", "would_notify") for r in rows)  # dry run
    assert rows[0]["remediation"]  # what to do

    out = tmp_path / "report.json"
    proc = mlwarden("report", "--format", "json", "--output", str(out), *RULE_ARGS, env=env)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(out.read_text())
    assert document["source"] == "scan"
    assert {r["rule_id"] for r in document["rules"]} == set(RULES)
    assert sum(c["judged"] for c in document["rules"]) == document["summary"]["judged"] == 10


def test_report_refuses_unknown_rules_and_a_missing_audit_table(aws):
    proc = mlwarden("report", "--rule", "no-such-rule", "--format", "json")
    assert proc.returncode == 2 and "unknown rule id 'no-such-rule'" in proc.stderr
    proc = mlwarden("report", "--from-history", "--format", "json", env=without_audit_table())
    assert proc.returncode == 1 and "no audit table" in proc.stderr
    proc = mlwarden("report", "--from-scan", "--from-history")
    assert proc.returncode == 2  # argparse: not allowed together


def test_scan_and_evaluate_print_csv_with_the_json_columns(aws):
    # Given buckets without KMS encryption
    make_ml_account(aws)

    # When scan prints CSV
    proc = mlwarden("scan", "--rule", "s3-bucket-kms-encryption", "--format", "csv")

    # Then the header is the JSON object's keys, and the --json contract is untouched
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert tuple(rows[0]) == Decision.CLI_KEYS
    assert {r["resource_id"] for r in rows} == {"lake-raw", "lake-curated", "lake-models"}
    as_json = [json.loads(line) for line in mlwarden("scan", "--rule", RULES[0], "--json").stdout.splitlines()]
    assert {r["resource_id"]: r["compliance"] for r in as_json} == {r["resource_id"]: r["compliance"] for r in rows}

    event = Path(__file__).parents[1] / "events" / "cloudtrail-s3" / "sysdig-workshop-s3-DeleteBucketEncryption.json"
    proc = mlwarden("evaluate", "--format", "csv", str(event))
    assert proc.returncode == 0, proc.stderr
    assert next(csv.reader(io.StringIO(proc.stdout))) == list(Decision.CLI_KEYS)


# ------------------------------------------------------------------------------------- pure rendering
def hostile_decision(**changes) -> Decision:
    values = dict(
        event_id="e1",
        rule_id="s3-bucket-kms-encryption",
        resource_type="AWS::S3::Bucket",
        resource_id='"><img src=x onerror=alert(1)>',
        resource_arn="arn:aws:s3:::x",
        account="123456789012",
        region="us-east-1",
        compliance="NON_COMPLIANT",
        action="would_notify",
        reason="<script>alert('reason')</script>",
        controls=["S3.17", "S3.4"],
        severity="HIGH",
        remediation='=HYPERLINK("http://evil")',
        console_url="javascript:alert(1)",
    )
    values.update(changes)
    return Decision(**values)


def test_html_escapes_every_value_from_the_account_and_loads_nothing():
    built = report.build_report([hostile_decision()], source="scan", source_detail="<b>scan</b>", region="us-east-1<i>")
    page = report.render_html(built)
    assert "<script" not in page and "<img" not in page and "<b>scan" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(&#x27;reason&#x27;)&lt;/script&gt;" in page
    assert "javascript:" not in page  # not a link
    assert "Content-Security-Policy" in page and "default-src &#x27;none&#x27;" in page
    assert not re.search(r"<[^>]*\ssrc=", page) and "<link" not in page  # no tag loads anything


def test_csv_neutralises_formulas_and_figures_add_up():
    built = report.build_report(
        [
            hostile_decision(),
            hostile_decision(resource_id="ok", compliance="COMPLIANT", action="none", remediation=""),
            hostile_decision(resource_id="fixed", action="remediated"),
            hostile_decision(resource_id="kept", action="exempt"),
            hostile_decision(resource_id="", reason="could not list the resources to sweep"),
        ],
        source="scan",
        source_detail="scan",
        region="us-east-1",
        rule_ids=["s3-bucket-kms-encryption", "macie-sensitive-data"],
    )
    counts = built.summary.as_dict()
    assert counts == {
        "judged": 4,
        "non_compliant": 1,
        "remediated": 1,
        "exempt": 1,
        "stopped": 0,
        "compliant": 1,
        "not_applicable": 0,
    }
    assert built.notes == ["s3-bucket-kms-encryption: could not list the resources to sweep"]
    assert built.rules_without_results == ["macie-sensitive-data"]
    assert built.by_control["S3.17"].judged == 4 and built.by_requirement["SC-28"].judged == 4
    rows = list(csv.DictReader(io.StringIO(report.render_csv(built))))
    assert rows[0]["remediation"] == '\'=HYPERLINK("http://evil")'
    assert report.csv_cell("-1+2") == "'-1+2" and report.csv_cell(["a", "b"]) == "a;b"


def test_every_subcommand_help_ends_with_an_example():
    from mlwarden.cli.main import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    for name, sub in subparsers.choices.items():
        help_text = sub.format_help()
        assert "example" in help_text and f"mlwarden {name}" in help_text.split("example", 1)[1], name
