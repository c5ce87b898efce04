"""Each rule's role holds exactly what its spec declares plus the engine's needs, and nothing else."""

from __future__ import annotations

import pytest

from mlwarden.core.registry import all_specs
from mlwarden.core.settings import RuleSettings, Settings
from mlwarden_cdk.guarded_rule import CONFIG_ENGINE_ACTIONS, ENGINE_ACTIONS, SECURITY_HUB_ACTIONS, GrantedActions
from tests.infra.cfn import Synth, as_list, conditions_hold, feature_actions, fill, render

pytestmark = pytest.mark.slow

SPECS = all_specs()
S3_SPECS = [s for s in SPECS if any(a.startswith("s3:") for a in s.permissions.all_actions())]
ACCOUNT = "123456789012"  # what tests.infra.cfn.render puts for AWS::AccountId
OTHER_ACCOUNT = "999999999999"
# S3 actions on the caller's own account only (no bucket in the request; no other account can let them
# through): listing one's own buckets, the account's own Block Public Access settings.
S3_OWN_ACCOUNT_ACTIONS = {"s3:ListAllMyBuckets", "s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"}


def expected_actions(spec, synth: Synth, *, remediation: bool) -> set[str]:
    perms = spec.permissions
    actions = set(perms.detect) | set(ENGINE_ACTIONS)
    if remediation:
        actions |= set(perms.remediate) | feature_actions(spec, synth.settings)
    if spec.config:
        actions |= set(CONFIG_ENGINE_ACTIONS)
    if spec.sweeps_periodically:
        actions |= set(perms.sweep)  # only a periodic Config rule or a scheduled sweep makes the function sweep
    if synth.settings.security_hub:
        actions |= set(SECURITY_HUB_ACTIONS)
    return actions


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_role_actions_are_the_spec_actions_and_the_engine_actions(default: Synth, spec) -> None:
    assert default.role_actions(spec.id) == expected_actions(spec, default, remediation=True)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_allow_remediation_false_withholds_every_remediate_action(withheld: Synth, spec) -> None:
    # Given cdk.json allowRemediation: false for the rule
    actions = withheld.role_actions(spec.id)
    # Then the role has no remediation action (unless the same action is also needed to detect)
    assert actions == expected_actions(spec, withheld, remediation=False)
    assert not (set(spec.permissions.remediate) - set(spec.permissions.detect)) & actions


@pytest.mark.parametrize("spec", [s for s in SPECS if s.permissions.features], ids=lambda spec: spec.id)
def test_feature_actions_are_granted_only_when_the_feature_is_on(default: Synth, full: Synth, spec) -> None:
    features = {a for _, actions in spec.permissions.features for a in actions}
    assert not (features - set(spec.permissions.detect) - set(spec.permissions.remediate)) & default.role_actions(
        spec.id
    )
    assert full.role_actions(spec.id) == expected_actions(spec, full, remediation=True)
    assert features <= full.role_actions(spec.id)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.permissions.features], ids=lambda spec: spec.id)
def test_allow_remediation_false_withholds_feature_actions_even_with_the_feature_on(spec) -> None:
    # Given every feature setting on (kmsKeyArn, macieQuarantine) but the rule's remediation withheld
    settings = Settings(
        rules={spec.id: RuleSettings(allow_remediation=False)},
        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        macie_quarantine=True,
    )
    granted = GrantedActions.of(spec, settings.rules[spec.id], settings)
    # Then no feature action is granted (a feature action is a remediation action)
    features = {a for _, actions in spec.permissions.features for a in actions} - set(spec.permissions.detect)
    assert not features & set(granted.scoped + granted.unscoped)
    allowed = GrantedActions.of(spec, RuleSettings(), settings)
    assert features <= set(allowed.scoped + allowed.unscoped)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_spec_actions_are_granted_only_on_the_spec_resources(full: Synth, spec) -> None:
    grants = full.grants(spec.id)
    for action in set(spec.permissions.all_actions()) & set(grants):
        scoped = {fill(resource, **full.stack_resources()) for resource in spec.permissions.resources_of(action)}
        expected = {"*"} if action in spec.permissions.unscoped else scoped
        assert grants[action] == expected, action


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_engine_actions_are_granted_on_the_stacks_own_resources_only(default: Synth, spec) -> None:
    grants = default.grants(spec.id)
    key, _ = default.only("AWS::KMS::Key")
    topic = default.output_ref("AlertTopicArn")
    idempotency = default.output_ref("IdempotencyTableName")
    audit = default.output_ref("AuditTableName")
    log_group = default.props(default.function_of(spec.id))["LoggingConfig"]["LogGroup"]["Ref"]
    queue = default.dead_letter_queue_of(spec.id)
    mode = [
        lid
        for lid, r in default.resources("AWS::SSM::Parameter")
        if r["Properties"]["Name"] == f"/mlwarden/rules/{spec.id}/mode"
    ]
    kill = [
        lid for lid, r in default.resources("AWS::SSM::Parameter") if r["Properties"]["Name"] == "/mlwarden/kill-switch"
    ]
    parameter_arn = "arn:aws:ssm:us-east-1:123456789012:parameter<ref:{}>"
    assert grants["logs:CreateLogStream"] == grants["logs:PutLogEvents"] == {f"<arn:{log_group}>"}
    assert grants["sns:Publish"] == {f"<ref:{topic}>"}
    assert grants["kms:GenerateDataKey"] == grants["kms:Decrypt"] == {f"<arn:{key}>"}
    assert grants["ssm:GetParameter"] == {parameter_arn.format(mode[0]), parameter_arn.format(kill[0])}
    assert grants["sqs:SendMessage"] == {f"<arn:{queue}>"}
    # Powertools Idempotency on its table; decisions and remediation counters written to the audit table,
    # which the function never reads (the table ARNs only: no index, no other table)
    assert grants["dynamodb:GetItem"] == grants["dynamodb:DeleteItem"] == {f"<arn:{idempotency}>"}
    assert grants["dynamodb:PutItem"] == grants["dynamodb:UpdateItem"] == {f"<arn:{idempotency}>", f"<arn:{audit}>"}
    assert {a for a in grants if a.startswith("dynamodb:")} - set(spec.permissions.all_actions()) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    for action in CONFIG_ENGINE_ACTIONS:
        # AWS Config has no resource-level permissions for these
        assert grants.get(action) == ({"*"} if spec.config else None)


def test_no_role_has_a_managed_policy(default: Synth, full: Synth) -> None:
    for synth in (default, full):
        for logical_id, role in synth.resources("AWS::IAM::Role"):
            assert "ManagedPolicyArns" not in role["Properties"], logical_id
        assert list(synth.resources("AWS::IAM::ManagedPolicy")) == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_each_rule_has_its_own_role_assumable_only_by_lambda(default: Synth, spec) -> None:
    role = default.role_of(spec.id)
    others = {default.role_of(s.id) for s in SPECS if s.id != spec.id}
    assert role not in others
    (statement,) = default.props(role)["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


def _any_accounts_bucket(resource: str) -> bool:
    """Whether a rendered resource matches buckets (or their objects) that another account may own."""
    if resource == "*":
        return True
    if not resource.startswith("arn:aws:s3:::"):
        return False
    bucket = resource.removeprefix("arn:aws:s3:::").split("/")[0]
    return "*" in bucket


def s3_grants_on_any_accounts_buckets(synth: Synth, rule_id: str) -> list[tuple[str, dict]]:
    """(action, statement) for each S3 action the rule's role is allowed on a bucket or object of any account."""
    out = []
    for statement in synth.role_statements(rule_id):
        resources = [render(r) for r in as_list(statement["Resource"])]
        if statement["Effect"] != "Allow" or not any(_any_accounts_bucket(r) for r in resources):
            continue
        for action in as_list(statement["Action"]):
            if action.startswith("s3:") and action not in S3_OWN_ACCOUNT_ACTIONS:
                out.append((action, statement))
    return out


def _is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(("Get", "List"))


@pytest.mark.parametrize("spec", S3_SPECS, ids=lambda spec: spec.id)
def test_attack_s3_writes_reach_other_accounts_buckets(full: Synth, spec) -> None:
    # Given every remediation and feature on, and another account's bucket whose policy allows this role
    writes = [(a, s) for a, s in s3_grants_on_any_accounts_buckets(full, spec.id) if not _is_read(a)]
    s3_fixes = [a for a in spec.permissions.remediate if a.startswith("s3:") and a not in S3_OWN_ACCOUNT_ACTIONS]
    if s3_fixes:
        assert writes, "the rule remediates buckets or objects: its role should grant writes on them"
    for action, statement in writes:
        # Then the role's own policy does not allow the write: s3:ResourceAccount must be this account
        assert not conditions_hold(statement, {"s3:ResourceAccount": OTHER_ACCOUNT}), action
        assert conditions_hold(statement, {"s3:ResourceAccount": ACCOUNT}), action


@pytest.mark.parametrize("spec", S3_SPECS, ids=lambda spec: spec.id)
def test_attack_s3_reads_reach_other_accounts_buckets(full: Synth, spec) -> None:
    # Given another account's bucket whose policy lets anyone read its tags, policy or objects: a forged
    # event naming it must not make the function read (and report, or copy into quarantine) what is there
    reads = [(a, s) for a, s in s3_grants_on_any_accounts_buckets(full, spec.id) if _is_read(a)]
    for action, statement in reads:
        assert not conditions_hold(statement, {"s3:ResourceAccount": OTHER_ACCOUNT}), action
        assert conditions_hold(statement, {"s3:ResourceAccount": ACCOUNT}), action


def test_attack_macie_quarantine_writes_objects_into_any_bucket(full: Synth) -> None:
    # Given macieQuarantine on: the move copies the object into the stack's quarantine bucket
    quarantine = full.output_ref("QuarantineBucketName")
    grants = full.grants("macie-sensitive-data")
    # Then the role may create objects in the quarantine bucket only: not overwrite (or plant) objects in
    # any other bucket of the account
    assert grants["s3:PutObject"] == {f"arn:aws:s3:::<ref:{quarantine}>/*"}
    # while the object being moved is still read and deleted wherever Macie found it (in this account)
    for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject"):
        assert grants[action] == {"arn:aws:s3:::*"}, action


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if "iam:PassRole" in s.permissions.all_actions()], ids=lambda spec: spec.id
)
def test_attack_pass_role_hands_roles_only_to_the_services_the_rule_names(full, spec):
    # A rule allowed iam:PassRole on the account's roles without iam:PassedToService could hand an admin role to
    # any service (e.g. a Lambda function it cannot create, but another principal could reuse its session).
    statements = [
        s
        for s in full.role_statements(spec.id)
        if "iam:PassRole" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert statements, f"{spec.id} is granted iam:PassRole in the every-feature deployment"
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert actions == ["iam:PassRole"], "PassRole has a statement of its own"
        passed_to = statement["Condition"]["StringEquals"]["iam:PassedToService"]
        assert sorted(passed_to if isinstance(passed_to, list) else [passed_to]) == sorted(spec.permissions.passed_to)
