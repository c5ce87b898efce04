"""cdk.json's mlwarden block (DESIGN §2.3): what ships, and how a mistake in it is reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlwarden.core.registry import rule_ids
from mlwarden.core.settings import SettingsError
from mlwarden_cdk.app import CDK_JSON, ROOT, build_app

pytestmark = pytest.mark.slow


def test_cdk_json_lists_every_registered_rule_in_notify_mode_with_remediation_allowed() -> None:
    block = json.loads(CDK_JSON.read_text())["context"]["mlwarden"]
    assert block["rules"] == {rule_id: {"mode": "notify", "allowRemediation": True} for rule_id in rule_ids()}
    assert block["notificationEmails"] == []
    assert block["kmsKeyArn"] is None


def test_cdk_json_runs_app_py_and_pins_a_cdk_2_cli() -> None:
    assert json.loads(CDK_JSON.read_text())["app"] == "python3 app.py"
    cli = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert cli.split(".")[0] == "2"


def test_unknown_rule_id_in_context_fails_with_a_clear_message() -> None:
    with pytest.raises(SettingsError, match=r"unknown rule id\(s\) no-such-rule; known ids: "):
        build_app({"mlwarden": {"rules": {"no-such-rule": {"mode": "notify"}}}}, nag=False)


def test_invalid_mode_in_context_fails_with_a_clear_message() -> None:
    rule_id = rule_ids()[0]
    with pytest.raises(SettingsError, match=rf"mlwarden.rules.{rule_id}.mode is 'block'; use one of off, notify"):
        build_app({"mlwarden": {"rules": {rule_id: {"mode": "block"}}}}, nag=False)


def test_invalid_config_frequency_fails_with_a_clear_message() -> None:
    with pytest.raises(SettingsError, match=r"configFrequency is 'Daily'; use one of One_Hour, .*TwentyFour_Hours"):
        build_app({"mlwarden": {"configFrequency": "Daily"}}, nag=False)


def test_cdk_synth_with_an_unknown_rule_id_prints_one_line_and_fails(tmp_path: Path) -> None:
    # Given the context the CDK CLI hands to app.py, naming a rule that does not exist
    context = json.loads(CDK_JSON.read_text())["context"]
    context["mlwarden"]["rules"]["no-such-rule"] = {"mode": "notify"}
    env = dict(os.environ, CDK_CONTEXT_JSON=json.dumps(context), CDK_OUTDIR=str(tmp_path))
    # When app.py runs
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    # Then it exits non-zero with a one-line explanation, no traceback
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("mlwarden: cdk.json mlwarden.rules names unknown rule id(s) no-such-rule")


def test_misspelt_notification_emails_fails_the_synth_instead_of_alerting_nobody() -> None:
    with pytest.raises(
        SettingsError,
        match=r"cdk.json mlwarden.notificationEmail is not a known key; did you mean notificationEmails\?",
    ):
        build_app({"mlwarden": {"notificationEmail": ["secops@example.com"]}}, nag=False)


def test_a_mistyped_guardrail_baseline_fails_the_synth_instead_of_judging_nothing() -> None:
    with pytest.raises(
        SettingsError, match=r"cdk.json mlwarden.guardrailBaseline.promptAttack is 'HIHG'; use one of NONE, LOW"
    ):
        build_app({"mlwarden": {"guardrailBaseline": {"promptAttack": "HIHG"}}}, nag=False)
