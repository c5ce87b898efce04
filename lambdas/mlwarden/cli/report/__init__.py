"""``mlwarden report``: a compliance report from a fresh scan or from the audit table.

Three formats from one ``Report``: a self-contained HTML page (inline CSS and SVG charts; no script, no
external asset, and a Content-Security-Policy that forbids both), CSV (one row per decision) and JSON
(summary + decisions). Every judged resource gets exactly one status, so the figures add up:

- ``non_compliant``: non-compliant and still open (not remediated, not exempt)
- ``stopped``: non-compliant, but the resource is stopped and tagged ``mlwarden:quarantined`` (a notebook a rule
  quarantined): not live, a person must still fix it; its reason starts "stopped (quarantined by <rule>)"
- ``remediated``: non-compliant, then fixed by mlwarden (audit table; a scan is a dry run)
- ``exempt``: non-compliant but exempt by tag or cdk.json (never changed)
- ``compliant``
- ``not_applicable``: out of scope, gone, or could not be checked (the reason says which)

By job: ``model`` (statuses, counts, ``build_report``), ``audit`` (decisions read back from the audit table),
``formats`` (JSON, CSV, ``render``) and ``html_page`` (HTML). This package exports their public names.
"""

from __future__ import annotations

from mlwarden.cli.report.audit import decisions_from_history
from mlwarden.cli.report.formats import (
    CSV_COLUMNS,
    FORMATS,
    csv_cell,
    decision_record,
    render,
    render_csv,
    render_json,
)
from mlwarden.cli.report.html_page import (
    BAR_ORDER,
    CSP,
    CSS,
    STATUS_COLORS,
    STATUS_LABELS,
    SUMMARY_FIGURES,
    anchor,
    bar_chart,
    e,
    render_html,
)
from mlwarden.cli.report.model import (
    NO_CONTROL,
    SOURCE_HISTORY,
    SOURCE_SCAN,
    STATUSES,
    STOPPED_STATES,
    Counts,
    Report,
    build_report,
    mark_quarantined,
    one_line,
    quarantined_by,
    status_of,
)

__all__ = [
    "BAR_ORDER",
    "CSP",
    "CSS",
    "CSV_COLUMNS",
    "FORMATS",
    "NO_CONTROL",
    "SOURCE_HISTORY",
    "SOURCE_SCAN",
    "STATUSES",
    "STATUS_COLORS",
    "STATUS_LABELS",
    "STOPPED_STATES",
    "SUMMARY_FIGURES",
    "Counts",
    "Report",
    "anchor",
    "bar_chart",
    "build_report",
    "csv_cell",
    "decision_record",
    "decisions_from_history",
    "e",
    "mark_quarantined",
    "one_line",
    "quarantined_by",
    "render",
    "render_csv",
    "render_html",
    "render_json",
    "status_of",
]
