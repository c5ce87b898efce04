"""The machine-readable renderers: JSON (summary + decisions) and CSV (one row per decision), and ``render``,
which picks a renderer by format name."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from mlwarden import __version__
from mlwarden.cli.frameworks import CONTROL_TITLES, NIST_BY_CONTROL, nist_requirements
from mlwarden.cli.report.html_page import render_html
from mlwarden.cli.report.model import Report, status_of
from mlwarden.core.model import Decision
from mlwarden.core.registry import UnknownRule, get_rule

FORMATS = ("html", "csv", "json", "ocsf")


def render(report: Report, fmt: str) -> str:
    if fmt == "html":
        return render_html(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "ocsf":
        from mlwarden.cli import ocsf

        return "".join(f"{line}\n" for line in ocsf.lines(report.decisions))
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def decision_record(decision: Decision) -> dict[str, Any]:
    """The CLI object of DESIGN §2.4 plus what a report adds."""
    record = decision.cli_record()
    record.update(
        status=status_of(decision),
        severity=decision.severity,
        title=decision.title,
        remediation=decision.remediation,
        nist_800_53_r5=nist_requirements(decision.controls),
        detected_at=decision.detected_at,
    )
    return record


def render_json(report: Report) -> str:
    document = {
        "generated_at": report.generated_at,
        "mlwarden_version": __version__,
        "source": report.source,
        "source_detail": report.source_detail,
        "region": report.region,
        "accounts": report.accounts,
        "summary": report.summary.as_dict(),
        "rules": [
            {"rule_id": rule_id, "title": _rule_title(rule_id), **counts.as_dict()}
            for rule_id, counts in report.rule.items()
        ],
        "controls": [
            {
                "control": control,
                "title": CONTROL_TITLES.get(control, ""),
                "nist_800_53_r5": list(NIST_BY_CONTROL.get(control, ())),
                **counts.as_dict(),
            }
            for control, counts in report.by_control.items()
        ],
        "standards": [
            {
                "standard": result.standard.name,
                "key": result.standard.key,
                "controls_total": len(result.controls),
                "controls_covered": result.covered,
                "controls": [
                    {
                        "control": c.coverage.control,
                        "title": c.coverage.title,
                        "rules": list(c.coverage.rules),
                        "covered": c.coverage.covered,
                        "passed": c.passed,
                        "failed": c.failed,
                        **{f"{k}": v for k, v in c.counts.as_dict().items()},
                        "failing_resources": c.failing,
                    }
                    for c in result.controls
                ],
            }
            for result in report.standards
        ],
        "rules_without_results": report.rules_without_results,
        "notes": report.notes,
        "decisions": [decision_record(d) for d in report.decisions],
    }
    return json.dumps(document, indent=2, default=str) + "\n"


CSV_COLUMNS = (
    "rule_id",
    "title",
    "severity",
    "resource_type",
    "resource_id",
    "resource_arn",
    "account",
    "region",
    "compliance",
    "action",
    "status",
    "reason",
    "remediation",
    "controls",
    "nist_800_53_r5",
    "detected_at",
    "event_id",
)


def csv_cell(value: Any) -> str:
    """Text for a CSV cell. Lists are joined with ';'. A cell that a spreadsheet would run as a formula
    (leading = + - @ tab or CR) gets a leading apostrophe (OWASP CSV injection advice): resource names and
    reasons come from the account, not from us."""
    text = ";".join(str(v) for v in value) if isinstance(value, list | tuple) else ("" if value is None else str(value))
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for decision in report.decisions:
        record = decision_record(decision)
        record["event_id"] = decision.event_id
        writer.writerow([csv_cell(record.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _rule_title(rule_id: str) -> str:
    try:
        return get_rule(rule_id).spec.title
    except UnknownRule:
        return ""
