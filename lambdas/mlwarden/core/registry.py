"""The rule registry: every module under ``mlwarden.rules`` that defines ``RULE``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from mlwarden.core.spec import Rule, RuleSpec


class UnknownRule(KeyError):
    def __str__(self) -> str:
        return f"unknown rule id {self.args[0]!r}; run 'mlwarden rules' for the list"


@cache
def _load() -> dict[str, Rule]:
    import mlwarden.rules as package

    rules: dict[str, Rule] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            raise TypeError(f"mlwarden.rules.{info.name} must define RULE = <Rule instance>")
        if rule.spec.module_name != info.name:
            raise ValueError(f"rule id {rule.spec.id!r} does not match its module name {info.name!r}")
        rules[rule.spec.id] = rule
    return rules


def load_rule(rule_id: str) -> Rule:
    """Import only the module of one rule (the Lambda's cold start does not import the others)."""
    module_name = rule_id.replace("-", "_")
    try:
        module = importlib.import_module(f"mlwarden.rules.{module_name}")
    except ModuleNotFoundError:
        raise UnknownRule(rule_id) from None
    rule = getattr(module, "RULE", None)
    if not isinstance(rule, Rule) or rule.spec.id != rule_id:
        raise UnknownRule(rule_id)
    return rule


def all_rules() -> list[Rule]:
    return list(_load().values())


def all_specs() -> list[RuleSpec]:
    return [rule.spec for rule in all_rules()]


def get_rule(rule_id: str) -> Rule:
    try:
        return _load()[rule_id]
    except KeyError:
        raise UnknownRule(rule_id) from None


def rule_ids() -> list[str]:
    return list(_load())
