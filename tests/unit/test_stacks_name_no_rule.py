"""The CDK app is rule-agnostic (issue 10, item 4): it builds every rule from the registry and its spec, so
nothing under mlwarden_cdk/ names a rule, in code or in a comment. What a rule needs (permissions, triggers, options)
belongs in its spec; a rule special-cased in the stack would not follow it when the rule changes or is removed."""

from __future__ import annotations

from pathlib import Path

from mlwarden.core.registry import get_rule, rule_ids
from mlwarden_cdk.guarded_rule import construct_id

STACKS = Path(__file__).parents[2] / "mlwarden_cdk"


def names_of(rule_id: str) -> set[str]:
    """How a rule is spelled: its id, its module (``s3_bucket_ssl_only``) and its construct id."""
    return {rule_id, get_rule(rule_id).spec.module_name, construct_id(rule_id)}


def test_nothing_under_stacks_names_a_rule():
    files = [p for p in sorted(STACKS.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    assert files, f"no file under {STACKS}"
    found = [
        f"{path.relative_to(STACKS.parent)}:{number}: {name}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        for rule_id in rule_ids()
        for name in sorted(names_of(rule_id))
        if name in line
    ]
    assert found == [], "mlwarden_cdk/ names rules (build them from the registry instead):\n" + "\n".join(found)
