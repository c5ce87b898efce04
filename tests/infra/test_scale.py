"""A catalog of 150 rules synthesizes with every stack well within CloudFormation's limits and mlwarden's
EventBridge rules within the default bus's quota.

The catalog is the registry's rules plus generated ones (not shipped) up to 150: each generated spec is a
registered spec under a new id, cycling through the registry, so the catalog has the real one's mix of
triggers, permissions and Config rules. Every option that adds resources is on (``FULL``: remediation,
quarantine bucket, e-mails).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest

from mlwarden.core.patterns import LONGEST_DEPLOYMENT, rule_patterns
from mlwarden.core.registry import all_specs
from mlwarden.core.spec import RuleSpec
from stacks.app import build_app
from stacks.stack import RULE_STACKS
from tests.infra.cfn import Synth
from tests.infra.conftest import FULL, synthesize

pytestmark = pytest.mark.slow

CATALOG_SIZE = 150
# CloudFormation: 500 resources, 200 parameters and 200 outputs per stack. mlwarden aims for 400 resources.
MAX_RESOURCES = 400
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
# EventBridge: 300 rules per event bus (default quota); mlwarden's all go to the default bus.
EVENTBRIDGE_RULES_PER_BUS = 300


def generated_catalog(size: int = CATALOG_SIZE) -> list[RuleSpec]:
    """The registered specs, then generated ones up to ``size``: each a registered spec under a new id."""
    registered = all_specs()
    generated = [
        dataclasses.replace(spec, id=f"{spec.id}-g{i:03d}")
        for i in range(size - len(registered))
        for spec in [registered[i % len(registered)]]
    ]
    return [*registered, *generated]


def full_context(specs: list[RuleSpec]) -> dict[str, Any]:
    block = dict(FULL["mlwarden"])
    block["rules"] = {spec.id: {"mode": "remediate"} for spec in specs}
    block["exemptions"] = {"all": FULL["mlwarden"]["exemptions"]["all"]}
    return {"mlwarden": block}


@pytest.fixture(scope="module")
def catalog() -> list[RuleSpec]:
    return generated_catalog()


@pytest.fixture(scope="module")
def large(catalog: list[RuleSpec], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(full_context(catalog), tmp_path_factory.mktemp("cdk-150-rules"), specs=catalog)


def counts(synth: Synth) -> dict[str, tuple[int, int, int]]:
    """stack -> (resources, parameters, outputs)."""
    return {
        path: (len(t["Resources"]), len(t.get("Parameters", {})), len(t.get("Outputs", {})))
        for path, t in synth.templates.items()
    }


def test_every_stack_of_a_150_rule_catalog_stays_well_within_cloudformation_limits(large: Synth) -> None:
    per_stack = counts(large)
    assert len(per_stack) <= 1 + RULE_STACKS
    over = {
        path: n for path, n in per_stack.items() if n[0] > MAX_RESOURCES or n[1] > MAX_PARAMETERS or n[2] > MAX_OUTPUTS
    }
    assert over == {}, f"(resources, parameters, outputs) per stack: {per_stack}"


def test_a_150_rule_catalog_keeps_every_rule_and_stays_under_the_eventbridge_rule_quota(
    large: Synth, catalog: list[RuleSpec]
) -> None:
    # Every generated rule is deployed: its function, and EventBridge rules targeting it
    assert {spec.id for spec in catalog} <= {
        r["Properties"]["Environment"]["Variables"].get("MLWARDEN_RULE_ID")
        for _, r in large.resources("AWS::Lambda::Function")
    }
    assert all(large.event_rules_of(spec.id) for spec in catalog if spec.cloudtrail or spec.findings)
    # Counted in the templates CloudFormation receives, across every stack (the default bus is one)
    types = Counter(r["Type"] for t in large.templates.values() for r in t["Resources"].values())
    assert types["AWS::Events::Rule"] < EVENTBRIDGE_RULES_PER_BUS
    assert all("EventBusName" not in r["Properties"] for _, r in large.resources("AWS::Events::Rule"))
    # One EventBridge rule per mlwarden rule whose triggers fit one merged pattern; two for the few that do not
    # (since Security Hub v2's OCSF findings route too: the rule with eight SageMaker controls and Config rules)
    expected = sum(len(rule_patterns(spec, LONGEST_DEPLOYMENT)) for spec in catalog)
    assert sum(len(large.event_rules_of(spec.id)) for spec in catalog) == expected <= len(catalog) * 41 // 40


def test_adding_rules_moves_no_registered_rule_to_another_stack(catalog: list[RuleSpec]) -> None:
    # Given the registry's rules, then the same with the generated catalog after them
    _, registry = build_app(None, nag=False)
    _, bigger = build_app(full_context(catalog), nag=False, specs=catalog)
    # Then every registered rule is built in the same nested stack (moving it would replace its resources)
    assert {rule_id: rule.node.path for rule_id, rule in registry.rules.items()} == {
        rule_id: bigger.rules[rule_id].node.path for rule_id in registry.rules
    }


def test_a_full_rule_stack_refuses_another_rule_at_synth_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import stacks.stack

    monkeypatch.setattr(stacks.stack, "RULE_STACK_CAPACITY", 2)
    with pytest.raises(ValueError, match="already holds 2 rules; raise RULE_STACKS"):
        build_app(None, nag=False)
