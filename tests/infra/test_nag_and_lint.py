"""cdk-nag AwsSolutions leaves no unacknowledged finding; cfn-lint finds no error in the templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

import mlwarden_cdk.guarded_rule
from mlwarden_cdk.app import build_app
from tests.infra.cfn import Synth
from tests.infra.conftest import FULL

pytestmark = pytest.mark.slow

# W3005 "dependency already enforced by a GetAtt": CDK adds DependsOn next to references on purpose
# (function -> role, Config rule -> function); redundant and harmless.
CFN_LINT_IGNORED = ["W3005"]
CFN_LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def nag_findings(overrides: dict[str, Any] | None, outdir: Path, specs: Any = None) -> list[str]:
    """Synthesize with the cdk-nag plugin; every finding of the validation report (errors and warnings).

    cdk-nag 3 runs as a CDK policy-validation plugin: synthesis raises when it reports an error, and the
    report is written to validation-report.json either way.
    """
    app, _ = build_app(overrides, nag=True, outdir=str(outdir), specs=specs)
    try:
        app.synth()
    except RuntimeError as exc:
        if not str(exc).startswith("ValidationFailed"):
            raise
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        f"{violation['ruleName']} ({violation['severity']}) at {construct['constructPath']}"
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]


@pytest.mark.parametrize("overrides", [None, FULL], ids=["cdk.json", "every-feature-on"])
def test_cdk_nag_aws_solutions_reports_no_unacknowledged_finding(
    overrides: dict[str, Any] | None, tmp_path: Path
) -> None:
    assert nag_findings(overrides, tmp_path) == []


def test_cdk_nag_check_fails_when_an_acknowledgement_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given the rule functions lose their acknowledgement of AwsSolutions-L1 (Python 3.13 for Powertools)
    real = mlwarden_cdk.guarded_rule.acknowledge

    def acknowledge_all_but_l1(construct, finding: str, reason: str) -> None:
        if finding != "AwsSolutions-L1":
            real(construct, finding, reason)

    monkeypatch.setattr(mlwarden_cdk.guarded_rule, "acknowledge", acknowledge_all_but_l1)
    # When synthesizing with cdk-nag / Then the check above would see the finding on every function
    findings = nag_findings(None, tmp_path)
    assert findings and all(f.startswith("AwsSolutions-L1 (error) at Mlwarden/") for f in findings)
    assert all(f.endswith("/Function/Resource") for f in findings)


@pytest.mark.parametrize("name", ["default", "full", "withheld"])
def test_cfn_lint_finds_no_problem_in_any_template(name: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(name)
    problems = [
        f"{stack}: {m.rule.id} {'/'.join(map(str, m.path))}: {m.message}"
        for stack, template in synth.templates.items()
        for m in lint(
            json.dumps(template),
            config=ManualArgs(regions=CFN_LINT_REGIONS, ignore_checks=CFN_LINT_IGNORED),
        )
    ]
    assert problems == []
