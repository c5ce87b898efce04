"""CLI tables show what the account holds (resource names, tags, reasons quoting them) as plain text: no rich
markup, no terminal escape sequences, no forged rows, on a terminal (rich) and when piped (plain columns)."""

from __future__ import annotations

import io
import sys

import pytest

from mlwarden.cli import output
from mlwarden.core.model import Decision

ESCAPES = "\x1b[2J\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\\x07"
MARKUP = "[bold red]URGENT[/bold red] [link=http://evil.example]console[/link]"


def forged() -> Decision:
    return Decision(
        event_id="e-1",
        rule_id="sagemaker-notebook-direct-internet",
        resource_type="AWS::SageMaker::NotebookInstance",
        resource_id=f"nb-{MARKUP}",
        resource_arn="",
        account="123456789012",
        region="us-east-1",
        compliance="NON_COMPLIANT",
        action="would_notify",
        reason=f"tag owner={ESCAPES}\nfake-rule  fake  COMPLIANT  none  all good",
        controls=[],
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False], ids=["rich", "piped"])
def test_markup_and_terminal_escapes_in_names_and_reasons_are_shown_as_text_attack(monkeypatch, terminal):
    out = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("COLUMNS", "400")
    output.print_decisions([forged()])
    text = out.getvalue()
    assert "\x1b]8" not in text and "\x1b[2J" not in text and "\x07" not in text  # no escape from the input
    if not terminal:
        assert "\x1b" not in text
    assert "[bold red]URGENT[/bold red]" in text  # the markup is shown, not applied
    rows = [line for line in text.splitlines() if "would_notify" in line or "fake-rule" in line]
    assert len(rows) == 1 and "fake-rule" in rows[0]  # the newline did not forge a second row
