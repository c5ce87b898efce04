"""Least privilege, proven (issue 5, item 6): every AWS call each rule's function made across the
functional tests maps to an action its role is granted, and its role has no action that was never used.

Runs last in tests/functional (file name) and reads what the harness recorded; a rule whose tests did not
run in this session is skipped. Exceptions are explicit and commented.
"""

from __future__ import annotations

import pytest

from mlwarden.core.iam import iam_actions
from mlwarden.core.registry import all_rules, get_rule
from stacks.guarded_rule import CONFIG_ENGINE_ACTIONS, ENGINE_ACTIONS, SECURITY_HUB_ACTIONS
from tests.functional.conftest import RECORDED_CALLS

# Actions granted to the engine on the stack's own resources, used by every function.
ENGINE = set(ENGINE_ACTIONS) | set(CONFIG_ENGINE_ACTIONS) | set(SECURITY_HUB_ACTIONS)

# Spec actions the functional tests do not exercise, and why that is acceptable.
UNUSED_OK: dict[str, dict[str, str]] = {}


@pytest.mark.parametrize("rule_id", [r.spec.id for r in all_rules()])
def test_every_call_is_granted_and_every_grant_is_used(rule_id, request):
    calls = RECORDED_CALLS.get(rule_id)
    if not calls:
        pytest.skip(f"no functional test of {rule_id} ran in this session")
    spec = get_rule(rule_id).spec
    granted = set(spec.permissions.all_actions())
    if not (spec.config and spec.config.periodic):
        granted -= set(spec.permissions.sweep) - set(spec.permissions.detect)  # not on the function's role
    used: dict[str, str] = {}
    for call in calls:
        for action in iam_actions(call.service, call.operation, call.params):
            used.setdefault(action, f"{call.service}.{call.operation}")
    ungranted = {a: op for a, op in used.items() if a not in granted and a not in ENGINE}
    assert ungranted == {}, f"{rule_id} calls APIs its role is not granted"
    own_tests = f"test_{spec.module_name}.py"
    if not any(item.path.name == own_tests for item in request.session.items):
        return  # only some of the rule's tests ran: "never used" cannot be judged from them
    unused = granted - set(used) - set(UNUSED_OK.get(rule_id, {}))
    assert unused == set(), f"{rule_id} is granted actions no test exercised: remove them or explain in UNUSED_OK"
