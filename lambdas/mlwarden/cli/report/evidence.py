"""``mlwarden report --evidence DIR``: an evidence bundle an auditor can take away.

For a framework (the Security Hub controls mlwarden's rules declare, NIST SP 800-53 rev. 5 through AWS's
published mapping of those controls, or the AWS AI Security Best Practices standard) and a date range, every
decision the audit table recorded in the range, per control: the remediations mlwarden made, the exemptions it
honoured (where each is declared, its reason and end, and the caller of the change judged), the violations it
alerted on, and the compliant checks. A control with nothing recorded in the range is listed as such, and a
control of the standard no rule covers is listed as not covered: nothing is left out.

The folder holds ``evidence.html`` (self-contained, no script, the report's Content-Security-Policy),
``evidence.csv`` (one row per control and decision; one row for a control without evidence),
``evidence.json``, ``manifest.json`` (framework, range, generation time, account, region, audit table,
mlwarden version, and the size and SHA-256 of every other file) and ``SHA256SUMS`` (``sha256sum -c``
format, manifest included). ``--zip`` writes the same files as one zip file instead.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from mlwarden import __version__
from mlwarden.cli.frameworks import (
    CONTROL_TITLES,
    NIST_800_53_R5,
    NIST_BY_CONTROL,
    NIST_FAMILIES,
    control_sort_key,
    family_of,
    requirement_sort_key,
)
from mlwarden.cli.report.html_page import CSP, CSS, anchor, e
from mlwarden.cli.standards import AI_SECURITY_BEST_PRACTICES, coverage
from mlwarden.core.model import ACTION_EXEMPT, ACTION_REMEDIATED, COMPLIANT, NON_COMPLIANT
from mlwarden.core.spec import RuleSpec

FRAMEWORKS = {
    "fsbp": "AWS Security Hub controls (FSBP control ids) declared by mlwarden's rules",
    "nist-800-53": f"{NIST_800_53_R5} (AWS Security Hub's published mapping of those controls)",
    "ai-security": AI_SECURITY_BEST_PRACTICES.name,
}
DEFAULT_DAYS = 90
FILES = ("evidence.html", "evidence.csv", "evidence.json", "manifest.json")
SUMS = "SHA256SUMS"
DECISION_PREFIX = "decision#"

# What a recorded decision is evidence of, worst first.
KINDS = ("violation", "remediation", "exemption", "compliant", "other")
KIND_LABELS = {
    "violation": "Violations alerted on",
    "remediation": "Remediations made by mlwarden",
    "exemption": "Exemptions honoured",
    "compliant": "Compliant checks",
    "other": "Not applicable or not checked",
}
CONTROL_EVIDENCE, CONTROL_NO_EVIDENCE, CONTROL_NOT_COVERED = "evidence", "no evidence in range", "not covered"

CSV_COLUMNS = (
    "framework",
    "control",
    "control_title",
    "control_status",
    "kind",
    "detected_at",
    "rule_id",
    "resource_type",
    "resource_id",
    "resource_arn",
    "account",
    "region",
    "compliance",
    "action",
    "reason",
    "remediation",
    "principal",
    "principal_session",
    "exemption_source",
    "exemption_reason",
    "exemption_until",
    "event_id",
)
ITEM_KEYS = CSV_COLUMNS[5:]


@dataclass(frozen=True)
class Control:
    """One control (or NIST requirement) of a framework and the rules whose decisions are its evidence."""

    id: str
    title: str
    rules: tuple[str, ...]
    via: tuple[str, ...] = ()  # NIST: the Security Hub controls mapped to the requirement


@dataclass
class ControlEvidence:
    control: Control
    items: list[dict[str, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.control.rules:
            return CONTROL_NOT_COVERED
        return CONTROL_EVIDENCE if self.items else CONTROL_NO_EVIDENCE

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for item in self.items:
            counts[item["kind"]] += 1
        return counts


@dataclass
class Bundle:
    framework: str
    since: date
    until: date
    generated_at: str
    account: str
    region: str
    table: str
    controls: list[ControlEvidence]

    @property
    def with_evidence(self) -> int:
        return sum(1 for c in self.controls if c.status == CONTROL_EVIDENCE)


# ------------------------------------------------------------------------------------------ frameworks
def framework_controls(framework: str, specs: Iterable[RuleSpec]) -> list[Control]:
    """The framework's controls, each with the rules that produce its evidence."""
    specs = list(specs)

    def rules_of(controls: Iterable[str]) -> tuple[str, ...]:
        wanted = set(controls)
        return tuple(sorted(spec.id for spec in specs if wanted & set(spec.controls)))

    declared = sorted({c for spec in specs for c in spec.controls}, key=control_sort_key)
    if framework == "fsbp":
        return [Control(c, CONTROL_TITLES.get(c, ""), rules_of([c])) for c in declared]
    if framework == "nist-800-53":
        via: dict[str, list[str]] = {}
        for control in declared:
            for requirement in NIST_BY_CONTROL.get(control, ()):
                via.setdefault(requirement, []).append(control)
        return [
            Control(req, NIST_FAMILIES.get(family_of(req), ""), rules_of(controls), tuple(controls))
            for req, controls in sorted(via.items(), key=lambda kv: requirement_sort_key(kv[0]))
        ]
    if framework == "ai-security":
        return [Control(c.control, c.title, c.rules) for c in coverage(AI_SECURITY_BEST_PRACTICES, specs)]
    raise ValueError(f"unknown framework {framework!r}; use one of {', '.join(FRAMEWORKS)}")


# ---------------------------------------------------------------------------------------- audit table
def kind_of(item: dict[str, Any]) -> str:
    action, compliance = str(item.get("action", "")), str(item.get("compliance", ""))
    if action == ACTION_REMEDIATED:
        return "remediation"
    if action == ACTION_EXEMPT:
        return "exemption"
    if compliance == NON_COMPLIANT:
        return "violation"
    if compliance == COMPLIANT:
        return "compliant"
    return "other"


def read_range(dynamodb: Any, table: str, rule_ids: Sequence[str], since: date, until: date) -> list[dict[str, str]]:
    """Every decision of these rules recorded from ``since`` to ``until`` (whole UTC days, both included),
    oldest first: one query per rule on the sort key (``decision#<detected_at>#…``), no table scan."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    low, high = f"{DECISION_PREFIX}{since.isoformat()}", f"{DECISION_PREFIX}{until.isoformat()}T~"
    items: list[dict[str, str]] = []
    for rule_id in rule_ids:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="rule_id = :r AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={":r": {"S": rule_id}, ":low": {"S": low}, ":high": {"S": high}},
        )
        for page in pages:
            for raw in page.get("Items", []):
                item = {k: deserializer.deserialize(v) for k, v in raw.items()}
                detected = str(item.get("detected_at", ""))
                in_range = since.isoformat() <= detected[:10] <= until.isoformat()
                if not in_range or item.get("resource_id") in (None, "-"):
                    continue
                record = {key: "" if item.get(key) is None else str(item.get(key)) for key in ITEM_KEYS}
                record["kind"] = kind_of(item)
                items.append(record)
    items.sort(key=lambda i: (i["detected_at"], i["rule_id"], i["resource_id"]))
    return items


def build_bundle(
    items: Sequence[dict[str, str]],
    *,
    framework: str,
    since: date,
    until: date,
    account: str,
    region: str,
    table: str,
    specs: Iterable[RuleSpec],
    generated_at: str | None = None,
) -> Bundle:
    controls = [
        ControlEvidence(control, [i for i in items if i["rule_id"] in control.rules])
        for control in framework_controls(framework, specs)
    ]
    return Bundle(
        framework=framework,
        since=since,
        until=until,
        generated_at=generated_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        account=account,
        region=region,
        table=table,
        controls=controls,
    )


def evidence_rules(framework: str, specs: Iterable[RuleSpec]) -> list[str]:
    """The rules whose decisions the framework's controls need (the audit table is queried for these only)."""
    return sorted({r for control in framework_controls(framework, specs) for r in control.rules})


# ------------------------------------------------------------------------------------------ renderers
def _control_record(c: ControlEvidence) -> dict[str, Any]:
    record: dict[str, Any] = {
        "control": c.control.id,
        "title": c.control.title,
        "status": c.status,
        "rules": list(c.control.rules),
        "counts": c.counts(),
    }
    if c.control.via:
        record["security_hub_controls"] = list(c.control.via)
    record["decisions"] = c.items
    return record


def bundle_header(bundle: Bundle) -> dict[str, Any]:
    """What the bundle is: framework, range, when, where and by which version (evidence.json and the manifest)."""
    return {
        "framework": bundle.framework,
        "framework_name": FRAMEWORKS[bundle.framework],
        "since": bundle.since.isoformat(),
        "until": bundle.until.isoformat(),
        "generated_at": bundle.generated_at,
        "account": bundle.account,
        "region": bundle.region,
        "audit_table": bundle.table,
        "mlwarden_version": __version__,
        "controls_total": len(bundle.controls),
        "controls_with_evidence": bundle.with_evidence,
    }


def render_json(bundle: Bundle) -> str:
    document = {
        **bundle_header(bundle),
        "controls": [_control_record(c) for c in bundle.controls],
    }
    return json.dumps(document, indent=2) + "\n"


def render_csv(bundle: Bundle) -> str:
    from mlwarden.cli.report.formats import csv_cell

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for c in bundle.controls:
        head = {
            "framework": bundle.framework,
            "control": c.control.id,
            "control_title": c.control.title,
            "control_status": c.status,
        }
        for item in c.items or [{}]:
            row = {**head, **item}
            writer.writerow([csv_cell(row.get(column, "")) for column in CSV_COLUMNS])
    return out.getvalue()


EVIDENCE_CSS = """
section.control { border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 8px; margin: 12px 0; }
section.control[data-status="no evidence in range"],
section.control[data-status="not covered"] { background: var(--soft); }
.status { font-weight: 600; }
#summary td:first-child, #summary td:nth-child(3) { white-space: nowrap; }
"""


def _who(item: dict[str, str]) -> str:
    principal, session = item.get("principal", ""), item.get("principal_session", "")
    if not principal and not session:
        return '<span class="muted">— (sweep, Config evaluation or finding: no caller)</span>'
    out = f"<code>{e(principal or session)}</code>"
    if session and principal and session != principal:
        out += f'<br><span class="muted">session <code>{e(session)}</code></span>'
    return out


def _resource(item: dict[str, str]) -> str:
    arn = item.get("resource_arn", "")
    extra = f'<br><span class="muted">{e(arn)}</span>' if arn and arn != item.get("resource_id") else ""
    return f"<code>{e(item.get('resource_id'))}</code>{extra}"


def _table(kind: str, items: list[dict[str, str]]) -> str:
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]
    if kind == "exemption":
        head = ("When", "Rule", "Resource", "Declared in", "Reason", "Until", "Caller of the change judged")
        rows = [
            (
                e(i["detected_at"]),
                f"<code>{e(i['rule_id'])}</code>",
                _resource(i),
                e(i["exemption_source"] or "—"),
                e(i["exemption_reason"] or i["reason"]),
                e(i["exemption_until"] or "—"),
                _who(i),
            )
            for i in items
        ]
    elif kind == "remediation":
        head = ("When", "Rule", "Resource", "Why", "What mlwarden did", "Caller of the change judged")
        rows = [
            (
                e(i["detected_at"]),
                f"<code>{e(i['rule_id'])}</code>",
                _resource(i),
                e(i["reason"]),
                e(i["remediation"]),
                _who(i),
            )
            for i in items
        ]
    else:
        head = ("When", "Rule", "Resource", "Result", "Why", "Caller")
        rows = [
            (
                e(i["detected_at"]),
                f"<code>{e(i['rule_id'])}</code>",
                _resource(i),
                e(f"{i['compliance']} / {i['action']}"),
                e(i["reason"]),
                _who(i),
            )
            for i in items
        ]
    body = "".join(f'<tr data-kind="{kind}">' + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'<table data-kind="{kind}"><thead><tr>'
        + "".join(f"<th>{e(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{body}</tbody></table>"
    )


def _control_section(bundle: Bundle, c: ControlEvidence) -> str:
    heading = e(c.control.id) + (f" — {e(c.control.title)}" if c.control.title else "")
    out = [
        f'<section class="control" id="{anchor("control", c.control.id)}" data-control="{e(c.control.id)}" '
        f'data-status="{e(c.status)}">',
        f"<h3>{heading}</h3>",
    ]
    if c.control.via:
        out.append(
            '<p class="muted">Through the AWS Security Hub controls '
            + ", ".join(f"<code>{e(v)}</code>" for v in c.control.via)
            + "</p>"
        )
    rules = ", ".join(f"<code>{e(r)}</code>" for r in c.control.rules) or "none"
    out.append(f'<p class="muted">mlwarden rules: {rules}</p>')
    if c.status == CONTROL_NOT_COVERED:
        out.append('<p class="empty status">Not covered: no mlwarden rule checks this control.</p>')
    elif c.status == CONTROL_NO_EVIDENCE:
        out.append(
            f'<p class="empty status">No evidence in range: the audit table holds no decision of these rules '
            f"from {e(bundle.since)} to {e(bundle.until)}.</p>"
        )
    else:
        counts = c.counts()
        out.append(
            '<p class="status">'
            + " · ".join(f"{counts[k]} {e(KIND_LABELS[k].lower())}" for k in KINDS if counts[k])
            + "</p>"
        )
        for kind in KINDS:
            of_kind = [i for i in c.items if i["kind"] == kind]
            if of_kind:
                out += [f"<h4>{e(KIND_LABELS[kind])}</h4>", _table(kind, of_kind)]
    out.append("</section>")
    return "\n".join(out)


def render_html(bundle: Bundle) -> str:
    summary_rows = "".join(
        f'<tr data-control="{e(c.control.id)}"><td><a href="#{anchor("control", c.control.id)}">'
        f"<code>{e(c.control.id)}</code></a></td><td>{e(c.control.title)}</td><td>{e(c.status)}</td>"
        + "".join(f"<td>{c.counts()[k]}</td>" for k in KINDS)
        + "</tr>"
        for c in bundle.controls
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>mlwarden evidence — {e(bundle.framework)} {e(bundle.since)} to {e(bundle.until)}</title>",
        f"<style>{CSS}{EVIDENCE_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        "<h1>mlwarden audit evidence</h1>",
        f'<p class="meta" id="scope" data-framework="{e(bundle.framework)}">{e(FRAMEWORKS[bundle.framework])}; '
        f"decisions recorded from {e(bundle.since)} to {e(bundle.until)} (UTC, both days included); account "
        f"{e(bundle.account)}, region {e(bundle.region)}; audit table <code>{e(bundle.table)}</code>; generated "
        f"{e(bundle.generated_at)} by mlwarden {e(__version__)}.</p>",
        "</header>",
        "<main>",
        '<section id="summary">',
        "<h2>Controls</h2>",
        f'<p class="muted">{bundle.with_evidence} of {len(bundle.controls)} controls have evidence in the range. '
        "Every control is listed; one without evidence says so. The files of this bundle and their SHA-256 are "
        "in <code>manifest.json</code> and <code>SHA256SUMS</code>.</p>",
        "<table><thead><tr><th>Control</th><th>Title</th><th>Status</th>"
        + "".join(f"<th>{e(KIND_LABELS[k])}</th>" for k in KINDS)
        + f"</tr></thead><tbody>{summary_rows}</tbody></table>",
        "</section>",
        '<section id="controls">',
        "<h2>Evidence per control</h2>",
        *(_control_section(bundle, c) for c in bundle.controls),
        "</section>",
        "</main>",
        "<footer><p>Who: the caller of the change a decision judged (the CloudTrail principal and, for an assumed "
        "role, its session); remediations are made by the rule's own function. An exemption is declared by tags on "
        "the resource (<code>mlwarden:exempt</code>, <code>-reason</code>, <code>-until</code>; the tagging call and "
        "its caller are reported by the tamper watch and kept by CloudTrail) or in cdk.json (reviewed with the "
        "deployment).</p></footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------- files
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_files(bundle: Bundle) -> dict[str, bytes]:
    """The bundle's files by name: the three renderings, the manifest that hashes them, and SHA256SUMS."""
    files = {
        "evidence.html": render_html(bundle).encode(),
        "evidence.csv": render_csv(bundle).encode(),
        "evidence.json": render_json(bundle).encode(),
    }
    manifest = {
        **bundle_header(bundle),
        "files": [{"name": name, "bytes": len(data), "sha256": sha256(data)} for name, data in files.items()],
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    files[SUMS] = "".join(f"{sha256(data)}  {name}\n" for name, data in files.items()).encode()
    return files


def zip_path(target: str | Path) -> Path:
    path = Path(target)
    return path if path.suffix == ".zip" else path.with_name(path.name + ".zip")


def write_bundle(files: dict[str, bytes], target: str | Path, *, as_zip: bool, generated_at: str) -> Path:
    """The folder (created; it must not hold files already), or with ``as_zip`` one zip file whose entries sit
    in a folder named after it. Returns what was written."""
    if as_zip:
        path = zip_path(target)
        stamp = datetime.strptime(generated_at, "%Y-%m-%dT%H:%M:%SZ").timetuple()[:6]
        with zipfile.ZipFile(path, "x", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                info = zipfile.ZipInfo(f"{path.stem}/{name}", date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        return path
    folder = Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def target_problem(target: str, as_zip: bool) -> str:
    """Why the bundle cannot be written there ("" when it can): checked before any work."""
    path = zip_path(target) if as_zip else Path(target)
    parent = path.parent
    if as_zip and path.exists():
        return f"{path} exists (an evidence bundle is never overwritten)"
    if not as_zip and path.exists() and (not path.is_dir() or any(path.iterdir())):
        return f"{path} exists and is not an empty folder (an evidence bundle is never overwritten)"
    if not parent.is_dir():
        return f"the directory {parent} does not exist"
    return ""


def parse_range(since: str | None, until: str | None, today: date | None = None) -> tuple[date, date]:
    """``--since`` / ``--until`` as whole ISO dates (default: the last 90 days up to today, UTC)."""
    end = date.fromisoformat(until) if until else (today or datetime.now(UTC).date())
    start = date.fromisoformat(since) if since else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValueError(f"--since {start} is after --until {end}")
    return start, end


def cmd_evidence(args: Any) -> int:
    """The body of ``mlwarden report --evidence DIR``."""
    import sys

    from botocore.exceptions import BotoCoreError, ClientError

    from mlwarden.cli.commands import (
        EXIT_BAD_INPUT,
        EXIT_INTERNAL,
        EXIT_OK,
        NO_AUDIT_TABLE,
        audit_table_name,
        checked_account,
    )
    from mlwarden.cli.local import default_region
    from mlwarden.core.context import ClientFactory
    from mlwarden.core.errors import describe_error
    from mlwarden.core.registry import all_specs

    def refuse(message: str) -> int:
        print(f"mlwarden: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    if args.from_scan or args.rule:
        return refuse("--evidence reads the audit table for a whole framework: without --from-scan or --rule")
    try:
        since, until = parse_range(args.since, args.until)
    except ValueError as exc:
        return refuse(f"bad date range: {exc} (use YYYY-MM-DD)")
    problem = target_problem(args.evidence, args.zip)
    if problem:
        return refuse(f"cannot write the evidence bundle: {problem}")
    region = args.region or default_region()
    account = checked_account(region)
    table = audit_table_name(args.table, region)
    if not table:
        print(f"mlwarden: {NO_AUDIT_TABLE}", file=sys.stderr)
        return EXIT_INTERNAL
    specs = all_specs()
    try:
        items = read_range(
            ClientFactory().client("dynamodb", region), table, evidence_rules(args.framework, specs), since, until
        )
    except (ClientError, BotoCoreError) as exc:
        print(f"mlwarden: cannot read the audit table {table}: {describe_error(exc)}", file=sys.stderr)
        return EXIT_INTERNAL
    bundle = build_bundle(
        items,
        framework=args.framework,
        since=since,
        until=until,
        account=account,
        region=region,
        table=table,
        specs=specs,
    )
    written = write_bundle(bundle_files(bundle), args.evidence, as_zip=args.zip, generated_at=bundle.generated_at)
    print(
        f"mlwarden: evidence bundle written to {written}: {args.framework}, {since} to {until}, "
        f"{len(items)} decisions, {bundle.with_evidence} of {len(bundle.controls)} controls with evidence",
        file=sys.stderr,
    )
    return EXIT_OK
