"""The CloudWatch dashboard shows, per rule, what mlwarden found and did, and mlwarden's own health."""

from __future__ import annotations

import json

import pytest

from mlwarden.core.registry import rule_ids
from mlwarden_cdk.dashboard import DASHBOARD_NAME, RULE_METRICS

pytestmark = pytest.mark.slow


def dashboard_body(template: dict) -> str:
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    assert dashboard["Properties"]["DashboardName"] == DASHBOARD_NAME
    # The body is a Fn::Join of strings and references; the strings carry metric names and labels.
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)


def dashboard_json(template: dict) -> dict:
    """The body parsed, each reference (inside a JSON string) read as the text REF."""
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body: dict = json.loads("".join(p if isinstance(p, str) else "REF" for p in parts))
    return body


def test_single_account_dashboard_has_no_account_graphs_or_variable(default):
    body = dashboard_json(default.template)
    assert "variables" not in body
    assert "SEARCH(" not in json.dumps(body)
    assert '"account"' not in json.dumps(body)


def test_every_rule_metric_is_graphed_for_every_rule(default):
    body = dashboard_body(default.template)
    for metric, title in RULE_METRICS:
        assert f'"title":"{title}"' in body
        assert f'"mlwarden","{metric}","rule_id"' in body
    for rule_id in rule_ids():
        assert f'"rule_id","{rule_id}","service","mlwarden"' in body


def test_health_graphs_cover_dead_letters_errors_and_duration(default):
    body = dashboard_body(default.template)
    for title in ("Dead-lettered events (DLQ depth)", "Function errors", "Function duration (p90)"):
        assert f'"title":"{title}"' in body
    assert body.count("ApproximateNumberOfMessagesVisible") == len(rule_ids())
    assert body.count('"AWS/Lambda","Errors"') == len(rule_ids())


def test_every_stack_stays_clear_of_cloudformation_resource_limit(full):
    # CloudFormation allows 500 resources per stack; with every option on each stack keeps a wide margin
    # (tests/infra/test_scale.py checks the same for a 150-rule catalog).
    assert len(full.templates) > 1
    assert {path: len(t["Resources"]) for path, t in full.templates.items() if len(t["Resources"]) > 400} == {}
