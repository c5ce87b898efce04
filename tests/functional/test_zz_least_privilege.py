"""Least privilege, proven (issue 5, item 6): every AWS call each rule's function made across the
functional tests maps to an action its role is granted, and its role has no action that was never used.

Reads what the harness recorded (``RECORDED_CALLS``, filled by ``Harness.run``); the collection hook in
``tests/functional/conftest.py`` moves these tests after every other test of the session.

This proof never skips. For each rule:

- every rule has a functional test file, ``tests/functional/test_<rule module>.py`` (tests/unit/test_registry.py
  fails otherwise);
- when that file is part of the session (the whole suite, ``tests/functional``, or the file named on the command
  line), its tests ran first and must have recorded the function's AWS calls: a rule whose tests stop driving
  the function through the harness (so that nothing is recorded) fails here instead of passing unproven;
- when that file is not part of the session (another single file, or ``-k``), the proof of that rule cannot be
  made and is *deselected* by the collection hook: pytest counts it as deselected, neither passed nor skipped.

Exceptions are explicit and commented.
"""

from __future__ import annotations

import pytest

from mlwarden.core.iam import iam_actions
from mlwarden.core.members import CENTRAL_ACTIONS
from mlwarden.core.registry import all_rules, get_rule
from stacks.guarded_rule import CONFIG_ENGINE_ACTIONS, ENGINE_ACTIONS, SECURITY_HUB_ACTIONS
from tests.functional.conftest import RECORDED_CALLS, own_test_file

# Actions granted to the engine on the stack's own resources, used by every function; in organization mode also
# the central function's own calls (assume the rule's member role, ask Organizations, read mode overrides), which
# the stack grants only with the organization block (tests/functional/test_organization.py exercises them).
ENGINE = set(ENGINE_ACTIONS) | set(CONFIG_ENGINE_ACTIONS) | set(SECURITY_HUB_ACTIONS) | set(CENTRAL_ACTIONS)

# Spec actions the functional tests do not exercise, and why that is acceptable.
# iam:PassRole is not a call: IAM checks it inside UpdateAgentRuntime / UpdateGateway, whose requests name the
# resource's own execution / service role again (the full-replace update sends back everything it read).
_PASS_ROLE = {"iam:PassRole": "checked by IAM within the full-replace Update call, which names the role it read"}
UNUSED_OK: dict[str, dict[str, str]] = {
    "bedrock-agentcore-runtime-network": _PASS_ROLE,
    "bedrock-agentcore-gateway-security": _PASS_ROLE,
}


@pytest.mark.parametrize("rule_id", [r.spec.id for r in all_rules()])
def test_every_call_is_granted_and_every_grant_is_used(rule_id):
    own_tests = own_test_file(rule_id)
    calls = RECORDED_CALLS.get(rule_id)
    assert calls, (
        f"{own_tests} ran but recorded no AWS call of {rule_id}'s function: its tests must run the function "
        "through the harness (harness.run), which records every call for this proof"
    )
    spec = get_rule(rule_id).spec
    granted = set(spec.permissions.all_actions())
    if not spec.sweeps_periodically:
        granted -= set(spec.permissions.sweep) - set(spec.permissions.detect)  # not on the function's role
    used: dict[str, str] = {}
    for call in calls:
        for action in iam_actions(call.service, call.operation, call.params):
            used.setdefault(action, f"{call.service}.{call.operation}")
    ungranted = {a: op for a, op in used.items() if a not in granted and a not in ENGINE}
    assert ungranted == {}, f"{rule_id} calls APIs its role is not granted"
    unused = granted - set(used) - set(UNUSED_OK.get(rule_id, {}))
    assert unused == set(), f"{rule_id} is granted actions no test exercised: remove them or explain in UNUSED_OK"
