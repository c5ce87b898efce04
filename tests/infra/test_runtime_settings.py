"""One source of runtime settings: what `mlwarden evaluate` / `scan` run a rule with is what that rule's deployed
function runs with (its environment in the synthesized template), for every rule and configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlwarden.cli.local import LocalRunner, load_settings
from mlwarden.core.registry import all_rules
from mlwarden.core.settings import (
    CONTEXT_KEY,
    ENV_ACCOUNT,
    ENV_AUDIT_TABLE,
    ENV_IDEMPOTENCY_TABLE,
    ENV_QUARANTINE_BUCKET,
    ENV_ROLE_ARN,
    ENV_TOPIC_ARN,
)
from mlwarden_cdk.app import merge
from tests.infra.cfn import Synth
from tests.infra.conftest import EXEMPT_RULE, FULL, synthesize

pytestmark = pytest.mark.slow

RULES = all_rules()
# Everything cdk.json can set that reaches a function's environment: FULL plus the ecosystem switches, a
# rule option and one rule's remediation withheld.
EVERYTHING = merge(
    FULL,
    {
        CONTEXT_KEY: {
            "securityHub": True,
            "chatbotNotifications": True,
            "allowedPublicPorts": [443, 8443],
            "rules": {EXEMPT_RULE: {"mode": "off", "allowRemediation": False}},
        }
    },
)
# The stack's own resources: only the deployment knows them; the CLI runs without them.
STACK_ONLY = {ENV_IDEMPOTENCY_TABLE, ENV_AUDIT_TABLE, ENV_ROLE_ARN}
# Resources the CLI is told about (--topic-arn, the environment) instead of reading them from cdk.json.
GIVEN_TO_CLI = {ENV_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:given", ENV_QUARANTINE_BUCKET: "given-quarantine"}
# The account: the function's from the stack, the CLI's from the caller's credentials (STS).
CALLER_ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(EVERYTHING, tmp_path_factory.mktemp("cdk-everything"))


def cli_environments(synth: Synth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """Per rule: the runtime settings the CLI builds (as the function environment they stand for), run in a
    directory whose cdk.json holds the same mlwarden block the stack was synthesized from."""
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {CONTEXT_KEY: dict(synth.settings.raw)}}))
    monkeypatch.setenv(ENV_QUARANTINE_BUCKET, GIVEN_TO_CLI[ENV_QUARANTINE_BUCKET])
    runner = LocalRunner(
        apply=True,
        settings=load_settings(tmp_path / "cdk.json"),
        topic_arn=GIVEN_TO_CLI[ENV_TOPIC_ARN],
        region="us-east-1",
        account=CALLER_ACCOUNT,
    )
    return {rule.spec.id: runner.runtime_settings(rule).to_env() for rule in RULES}


@pytest.mark.parametrize("name", ["default", "withheld", "everything"])
def test_the_cli_runs_each_rule_with_its_deployed_functions_settings(
    name: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synth: Synth = request.getfixturevalue(name)
    cli = cli_environments(synth, tmp_path, monkeypatch)
    for rule in RULES:
        rule_id = rule.spec.id
        deployed: dict[str, Any] = {
            k: v for k, v in synth.function_env(rule_id).items() if not k.startswith("POWERTOOLS_")
        }
        local = cli[rule_id]
        # The stack's tables: in every function's environment, never in the CLI's (it keeps no audit trail)
        assert set(deployed) >= STACK_ONLY, rule_id
        assert not STACK_ONLY & set(local), rule_id
        # The topic and the quarantine bucket: wherever the function has them, the CLI has what it was given
        for key, given in GIVEN_TO_CLI.items():
            assert (key in deployed) == (key in local), f"{rule_id}: {key}"
            if key in local:
                assert local[key] == given, f"{rule_id}: {key}"
        assert deployed[ENV_ACCOUNT] == {"Ref": "AWS::AccountId"} and local[ENV_ACCOUNT] == CALLER_ACCOUNT, rule_id
        # Everything else (mode, remediation allowed, key, options, exemptions, safety limits, ecosystem
        # switches) is equal
        same = set(deployed) | set(local)
        same -= STACK_ONLY | set(GIVEN_TO_CLI) | {ENV_ACCOUNT}
        assert {k: local.get(k) for k in same} == {k: deployed.get(k) for k in same}, rule_id
