"""Routing of the sample events with the deployed patterns, matched by mlwarden's EventBridge matcher
(checked against moto's in test_patterns; moto's does not descend into Security Hub's array of findings).

Shared by the routing test and the registry meta-test.
"""

from __future__ import annotations

from typing import Any

from mlwarden.core import events
from mlwarden.core.patterns import event_patterns, matches
from mlwarden.core.registry import all_rules
from mlwarden.core.spec import Rule
from tests.conftest import as_delivered, load_event, sample_files


def pattern_routes(event: dict[str, Any], rules: list[Rule] | None = None) -> set[str]:
    """Ids of the rules whose EventBridge patterns (exactly as the stack deploys them) match the event."""
    rules = all_rules() if rules is None else rules
    return {rule.spec.id for rule in rules if any(matches(p, event) for p in event_patterns(rule.spec))}


def config_routes(invocation: dict[str, Any], rules: list[Rule] | None = None) -> set[str]:
    """Ids of the rules whose Config rule is change-triggered on the invocation's resource type."""
    rules = all_rules() if rules is None else rules
    invoking = events.parse_config_invocation(invocation)
    item = invoking.get("configurationItem") or invoking.get("configurationItemSummary") or {}
    resource_type = item.get("resourceType")
    return {r.spec.id for r in rules if r.spec.config and resource_type in r.spec.config.resource_types}


def routes(relative: str, rules: list[Rule] | None = None) -> set[str]:
    """Which rules the sample file reaches once delivered (EventBridge pattern or Config resource type)."""
    delivered = as_delivered(load_event(relative))
    if events.kind_of(delivered) == events.CONFIG_INVOCATION:
        return config_routes(delivered, rules)
    return pattern_routes(delivered, rules)


def samples_routing_to(rule: Rule) -> list[str]:
    return [f for f in sample_files() if rule.spec.id in routes(f, [rule])]
