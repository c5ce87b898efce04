"""Organization mode: each decision is also counted per account (dimension ``account``), so the dashboard can filter
by account; a single-account deployment emits exactly the per-rule metrics it always did."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlwarden.core import org
from mlwarden.core.model import Decision
from mlwarden.core.settings import RuntimeSettings
from tests.unit.test_org_runtime import _decision as org_decision

RULE = "s3-bucket-public-access"
ORG = "o-a1b2c3d4e5"
B = "111111111111"


def _decision(**changes: Any) -> Decision:
    decision: Decision = org_decision(**{"rule_id": RULE, **changes})
    return decision


def _settings(organization: bool) -> RuntimeSettings:
    if not organization:
        return RuntimeSettings(rule_id=RULE)
    return RuntimeSettings(rule_id=RULE, organization_id=ORG, member_role=org.member_role_name(RULE))


def _emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF documents written to stdout (Powertools' single_metric flushes each one at once)."""
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def _observe(settings: RuntimeSettings, decision: Decision, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlwarden import handler

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "mlwarden")  # as in the function's environment
    engine = handler.Runtime.from_settings(settings).engine
    assert engine.observer is not None
    handler.metrics.clear_metrics()
    try:
        engine.observer(decision)
    finally:
        handler.metrics.clear_metrics()


def _per_account(documents: list[dict[str, Any]]) -> list[tuple[str, str, list[list[str]]]]:
    found = []
    for doc in documents:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.append((metric["Name"], doc.get("account", ""), directive["Dimensions"]))
    return found


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({}, ["Violations"]),
        ({"action": "remediated"}, ["Violations", "Remediations"]),
        ({"action": "failed"}, ["Violations", "Failures"]),
        ({"compliance": "COMPLIANT", "action": "none"}, []),
    ],
)
def test_org_mode_counts_each_outcome_per_account(capsys, monkeypatch, changes, names):
    from mlwarden import handler

    _observe(_settings(organization=True), _decision(**changes), monkeypatch)
    documents = _emitted(capsys)
    assert _per_account(documents) == [(name, B, [["account", "service"]]) for name in names]
    assert {d["Namespace"] for doc in documents for d in doc["_aws"]["CloudWatchMetrics"]} <= {handler.NAMESPACE}


def test_org_mode_keeps_the_per_rule_metrics(monkeypatch):
    from mlwarden import handler

    seen: list[str] = []
    original = handler.record_metrics

    def record(decision: Decision) -> None:
        original(decision)
        seen.extend(handler.metrics.metric_set)

    monkeypatch.setattr(handler, "record_metrics", record)
    _observe(_settings(organization=True), _decision(action="remediated"), monkeypatch)
    assert {"Evaluations", "Violations", "Remediations"} <= set(seen)


def test_single_account_mode_emits_no_per_account_metric(capsys, monkeypatch):
    _observe(_settings(organization=False), _decision(action="failed"), monkeypatch)
    assert _emitted(capsys) == []


def test_a_decision_without_account_is_counted_per_rule_only(capsys, monkeypatch):
    _observe(_settings(organization=True), _decision(account=""), monkeypatch)
    assert _emitted(capsys) == []
