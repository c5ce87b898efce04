"""What the commands print: tables (rich on a terminal, plain columns when piped) and decisions as a table,
JSON lines or CSV; with ``--apply`` and no topic, the honest account of the alerts not sent."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mlwarden.core.model import ACTION_NONE, ACTION_NOTIFIED, Decision
from mlwarden.core.text import clean_text

if TYPE_CHECKING:
    from mlwarden.cli.local import LocalRunner

NO_TOPIC_NOTE = "no alert sent: no topic configured (pass --topic-arn)"


def print_table(rows: list[list[str]], headers: list[str], title: str = "") -> None:
    """Cells hold resource names, tags and reasons that whoever owns the resource chose: control characters
    are collapsed (no terminal escape sequences, no forged rows) and rich gets plain ``Text`` (no markup)."""
    rows = [[clean_text(cell) for cell in row] for row in rows]
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
            from rich.text import Text

            table = Table(*headers, title=title or None)
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))
            Console().print(table)
            return
        except ImportError:
            pass
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_decisions(decisions: Iterable[Decision], as_json: bool = False, *, fmt: str = "") -> None:
    """``table`` (rich on a terminal, plain columns when piped), ``json`` (one object per line, DESIGN §2.4),
    ``csv`` (a header, then one row per decision with the same keys as the JSON object) or ``ocsf`` (one OCSF
    Compliance Finding per line, cli/ocsf.py)."""
    fmt = "json" if as_json else (fmt or "table")
    if fmt == "ocsf":
        from mlwarden.cli import ocsf

        for line in ocsf.lines(decisions):
            print(line, flush=True)
        return
    if fmt == "json":
        for decision in decisions:
            print(json.dumps(decision.cli_record()), flush=True)
        return
    if fmt == "csv":
        import csv

        from mlwarden.cli.report import csv_cell

        writer = csv.writer(sys.stdout)
        writer.writerow(Decision.CLI_KEYS)
        for decision in decisions:
            record = decision.cli_record()
            writer.writerow([csv_cell(record[key]) for key in Decision.CLI_KEYS])
        return
    rows = [
        [d.rule_id or "-", d.severity or "-", d.resource_id or "-", d.compliance, d.action, d.reason] for d in decisions
    ]
    print_table(rows, ["rule", "severity", "resource", "compliance", "action", "reason"])


def honest_delivery(decisions: Iterable[Decision]) -> int:
    """With ``--apply`` and no topic the engine sends nothing (``details["not_sent"]``): a violation only
    alerted is then reported ``none``, not ``notified``, and every such reason says no alert was sent.
    Returns how many decisions had an alert that was not sent."""
    unsent = 0
    for decision in decisions:
        if not decision.details.get("not_sent"):
            continue
        unsent += 1
        if decision.action == ACTION_NOTIFIED:
            decision.action = ACTION_NONE
        decision.reason = f"{decision.reason}; {NO_TOPIC_NOTE}" if decision.reason else NO_TOPIC_NOTE
    return unsent


def report_unsent(runner: LocalRunner, unsent: int) -> None:
    """One line per run when ``--apply`` had no topic to publish to."""
    if runner.apply and runner.publisher is None:
        print(
            f"mlwarden: --apply without an alert topic: {unsent} alert(s) not sent "
            "(pass --topic-arn or set MLWARDEN_TOPIC_ARN)",
            file=sys.stderr,
        )


def output_format(args: argparse.Namespace) -> str:
    """``--json`` (the contract) is kept as a shorthand of ``--format json``."""
    return "json" if getattr(args, "json", False) else (getattr(args, "format", None) or "table")
