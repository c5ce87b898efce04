"""Organization mode (DESIGN §2.8), the CDK half: the central deployment with the cdk.json ``organization`` block,
the member template its StackSet rolls out, and the StackSet itself.

Both templates are synthesized once per module (the central one writes the member template into its cloud
assembly; that file is what the StackSet's asset uploads). moto checks neither bus policies, trust policies nor
ExternalId: they are asserted here, on the templates, with the resource-policy evaluator of ``tests/infra/cfn.py``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

import mlwarden_cdk.member
from mlwarden.core import org
from mlwarden.core.patterns import Deployment, rule_patterns
from mlwarden.core.registry import all_specs, get_rule
from mlwarden.core.settings import Settings, resource_name
from mlwarden_cdk.member import (
    CENTRAL_ACCOUNT_PARAMETER,
    MAX_INLINE_POLICY_CHARS,
    QUARANTINE_BUCKET_PARAMETER,
    document_size,
    member_app,
    member_template,
    names_global_source,
)
from mlwarden_cdk.nag import add_nag
from mlwarden_cdk.organization import MEMBER_TEMPLATE_FILE, ORGANIZATIONS_ACTIONS, stack_set_regions
from tests.infra.cfn import PSEUDO, Synth, allowed, as_list, canonical, render
from tests.infra.conftest import synthesize
from tests.infra.test_nag_and_lint import CFN_LINT_IGNORED, CFN_LINT_REGIONS, nag_findings

pytestmark = pytest.mark.slow

ORG_ID = "o-a1b2c3d4e5"
OTHER_ORG_ID = "o-zzzzzzzzzz"
OUS = ["ou-ab12-cdef3456", "ou-ab12-99998888"]
# The central Region is not the global one: IAM's events and the member roles come from us-east-1 anyway.
REGIONS = ["eu-west-1", "us-east-1"]
BLOCK = {
    "organizationId": ORG_ID,
    "organizationalUnitIds": OUS,
    "regions": REGIONS,
    "centralRegion": "eu-west-1",
    "callAs": "DELEGATED_ADMIN",
}
ORGANIZATION = {"mlwarden": {"organization": BLOCK}}
CENTRAL_ACCOUNT = PSEUDO["AWS::AccountId"]
MEMBER_ACCOUNT = "210987654321"
GLOBAL_RULES = {"iam-admin-policy-attached", "ml-role-full-access-policy"}  # their patterns name aws.iam


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(ORGANIZATION, tmp_path_factory.mktemp("cdk-organization"))


@pytest.fixture(scope="module")
def member(central: Synth) -> dict[str, Any]:
    """The member template as the central synth wrote it next to its cloud assembly."""
    template: dict[str, Any] = json.loads((central.outdir / MEMBER_TEMPLATE_FILE).read_text())
    return template


def member_resources(member: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in member["Resources"].items() if r["Type"] == type_}


def member_role(member: dict[str, Any], rule_id: str) -> dict[str, Any]:
    (role,) = [
        r
        for r in member_resources(member, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == org.member_role_name(rule_id)
    ]
    return role


def forwarding_rules(member: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    """The rule's forwarding rules, in order (named as its central rules: ``resource_name(rule_id, index)``)."""
    names = [resource_name(rule_id, index) for index in range(10)]
    found = {
        r["Properties"]["Name"]: r
        for r in member_resources(member, "AWS::Events::Rule").values()
        if r["Properties"]["Name"] in names
    }
    return [found[name] for name in names if name in found]


def central_bus(central: Synth) -> str:
    (logical_id, _) = central.only("AWS::Events::EventBus")
    return logical_id


def bus_rules(central: Synth, rule_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rule's EventBridge rules: (on the default bus, on the central bus), each in order."""
    bus = {"Ref": central_bus(central)}
    props = [central.props(lid) for lid in central.event_rules_of(rule_id)]
    return [p for p in props if "EventBusName" not in p], [p for p in props if p.get("EventBusName") == bus]


def deployed_specs(central: Synth) -> list[Any]:
    return [spec for spec in all_specs() if central.settings.deployed(spec.id)]


# -- without the block -----------------------------------------------------------------------------------------
def test_without_the_block_nothing_of_the_organization_is_deployed(default: Synth) -> None:
    # The snapshot tests prove the template unchanged; this names what must be absent.
    assert default.settings.organization is None
    for type_ in ("AWS::Events::EventBus", "AWS::Events::EventBusPolicy", "AWS::CloudFormation::StackSet"):
        assert not list(default.resources(type_)), type_
    for spec in deployed_specs(default):
        assert "RoleName" not in default.props(default.role_of(spec.id))
        assert not set(default.function_env(spec.id)) & {org.ENV_ORG_ID, org.ENV_MEMBER_ROLE, org.ENV_EXTERNAL_ID}
        assert not (default.role_actions(spec.id) & {"sts:AssumeRole", *ORGANIZATIONS_ACTIONS})
    assert not (default.outdir / MEMBER_TEMPLATE_FILE).exists()


# -- the central bus -------------------------------------------------------------------------------------------
def bus_policy(central: Synth) -> list[dict[str, Any]]:
    statements = [
        r["Properties"]["Statement"]
        for _, r in central.resources("AWS::Events::EventBusPolicy")
        if r["Properties"]["EventBusName"] == {"Ref": central_bus(central)}
    ]
    return statements


def test_the_central_bus_admits_the_organization_and_nobody_else(central: Synth) -> None:
    _, bus = central.only("AWS::Events::EventBus")
    assert bus["Properties"]["Name"] == org.CENTRAL_BUS_NAME
    statements = bus_policy(central)
    anyone = {"AWS": f"arn:aws:iam::{MEMBER_ACCOUNT}:root"}
    assert allowed(statements, "events:PutEvents", anyone, {"aws:PrincipalOrgID": ORG_ID})
    # Attack: another organization, or a principal in none (no aws:PrincipalOrgID), is not let in.
    assert not allowed(statements, "events:PutEvents", anyone, {"aws:PrincipalOrgID": OTHER_ORG_ID})
    assert not allowed(statements, "events:PutEvents", anyone, {})
    # Every statement that admits "*" carries the organization condition; PutEvents is all it admits.
    for statement in statements:
        assert statement["Effect"] == "Allow" and as_list(statement["Action"]) == ["events:PutEvents"]
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}
        assert statement["Resource"] == {"Fn::GetAtt": [central_bus(central), "Arn"]}


def test_central_bus_rules_have_the_default_bus_patterns_for_findings_of_any_account(central: Synth) -> None:
    for spec in deployed_specs(central):
        default_rules, central_rules = bus_rules(central, spec.id)
        role = {"Fn::GetAtt": [central.role_of(spec.id), "Arn"]}
        assert [p["EventPattern"] for p in default_rules] == rule_patterns(spec, central.deployment_of(spec.id))
        # The same code, the same loop guard (the central role); only the findings' account filter is lifted.
        assert [p["EventPattern"] for p in central_rules] == rule_patterns(spec, Deployment(role, None))
        assert [canonical(p["EventPattern"]) for p in central_rules] == [
            canonical(without_account(p["EventPattern"])) for p in default_rules
        ], spec.id
        # Same function, same retries, same dead-letter queue.
        assert [p["Targets"] for p in central_rules] == [p["Targets"] for p in default_rules]
        assert [p["Name"] for p in central_rules] == [p["Name"] for p in default_rules]


ACCOUNT_FILTER = [{"Ref": "AWS::AccountId"}]


def without_account(pattern: Any) -> Any:
    """A pattern without its account filters (the fields whose only value is this account, and the objects left
    empty without them, e.g. the OCSF finding's ``cloud.account.uid``)."""
    if isinstance(pattern, dict):
        out = {}
        for key, value in pattern.items():
            stripped = without_account(value)
            if value == ACCOUNT_FILTER or (isinstance(value, dict) and value and stripped == {}):
                continue
            out[key] = stripped
        return out
    if isinstance(pattern, list):
        return [without_account(v) for v in pattern]
    return pattern


def test_findings_filters_are_what_the_central_bus_lifts(central: Synth) -> None:
    # The comparison above would pass vacuously if no pattern had an account filter.
    lifted = [
        spec.id
        for spec in deployed_specs(central)
        if any(
            canonical(p) != canonical(without_account(p)) for p in rule_patterns(spec, central.deployment_of(spec.id))
        )
    ]
    assert len(lifted) >= 5


def test_only_organization_members_can_reach_the_central_bus_rules_through_the_policy(central: Synth) -> None:
    # The rules on the central bus can be invoked only by events on it; the bus admits the organization only.
    bus = {"Ref": central_bus(central)}
    on_bus = [p for _, r in central.resources("AWS::Events::Rule") if (p := r["Properties"]).get("EventBusName")]
    assert on_bus and all(p["EventBusName"] == bus for p in on_bus)


# -- the central functions -------------------------------------------------------------------------------------
def test_each_central_role_has_its_fixed_name_and_the_organization_environment(central: Synth) -> None:
    for spec in deployed_specs(central):
        assert central.props(central.role_of(spec.id))["RoleName"] == org.central_role_name(spec.id)
        env = central.function_env(spec.id)
        assert env[org.ENV_ORG_ID] == ORG_ID
        assert env[org.ENV_MEMBER_ROLE] == org.member_role_name(spec.id)
        assert env[org.ENV_EXTERNAL_ID] == org.external_id(ORG_ID)
        assert env[org.ENV_ORG_REGIONS] == ",".join(REGIONS)
        assert env[org.ENV_ORG_OUS] == ",".join(OUS)


def test_a_central_role_assumes_only_its_own_member_role_inside_the_organization(central: Synth) -> None:
    specs = deployed_specs(central)
    for spec in specs:
        statements = [s for s in central.role_statements(spec.id) if "sts:AssumeRole" in as_list(s["Action"])]
        (statement,) = statements
        assert as_list(statement["Action"]) == ["sts:AssumeRole"]
        assert statement["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORG_ID}}
        resources = [render(r) for r in as_list(statement["Resource"])]
        assert resources == [f"arn:aws:iam::*:role/{org.member_role_name(spec.id)}"]
        # Attack: another rule's member role (more actions, perhaps remediation) is out of reach.
        for other in specs:
            target = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{org.member_role_name(other.id)}"
            assert any(fnmatch.fnmatchcase(target, r) for r in resources) is (other.id == spec.id)


def test_a_central_role_reads_the_organization_and_its_own_overrides_only(central: Synth) -> None:
    for spec in deployed_specs(central):
        grants = central.grants(spec.id)
        for action in ORGANIZATIONS_ACTIONS:
            assert grants[action] == {"*"}
        path = f"arn:aws:ssm:us-east-1:{CENTRAL_ACCOUNT}:parameter/mlwarden/rules/{spec.id}"
        assert grants["ssm:GetParametersByPath"] == {path, f"{path}/*"}
        assert {path, f"{path}/*"} <= grants["ssm:GetParameter"]
        overrides = f"/mlwarden/rules/{spec.id}/accounts/{MEMBER_ACCOUNT}/mode"
        assert any(
            fnmatch.fnmatchcase(f"arn:aws:ssm:us-east-1:{CENTRAL_ACCOUNT}:parameter{overrides}", r)
            for r in grants["ssm:GetParameter"]
        )
        # Another rule's overrides are not readable: the path ends with the rule id and a slash.
        assert not any(
            fnmatch.fnmatchcase(f"arn:aws:ssm:us-east-1:{CENTRAL_ACCOUNT}:parameter/mlwarden/rules/{spec.id}x/mode", r)
            for r in grants["ssm:GetParameter"] | grants["ssm:GetParametersByPath"]
        )


def test_every_rule_sweeps_on_a_schedule_in_organization_mode(central: Synth) -> None:
    targets = {
        r["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0] for _, r in central.resources("AWS::Scheduler::Schedule")
    }
    for spec in deployed_specs(central):
        assert central.function_of(spec.id) in targets, spec.id
        assert set(spec.permissions.sweep) <= central.role_actions(spec.id), spec.id


def test_a_failing_member_role_raises_each_rules_alarm_in_organization_mode_only(
    central: Synth, default: Synth
) -> None:
    from mlwarden import handler

    topic = central.output_ref("AlarmTopicArn")
    for spec in deployed_specs(central):
        dimensions = {"rule_id": spec.id, "service": handler.SERVICE}
        # the metric mlwarden.handler counts when a member role is missing or refuses the rule's function
        (alarm,) = [
            a for a in central.alarms_on(handler.NAMESPACE, dimensions) if a["MetricName"] == "MemberRoleFailures"
        ]
        assert alarm["AlarmName"] == f"mlwarden-{spec.id}-member-roles"
        assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    single = [r["Properties"] for _, r in default.resources("AWS::CloudWatch::Alarm")]
    assert not [a for a in single if a.get("MetricName") == "MemberRoleFailures"]


# -- the member template ---------------------------------------------------------------------------------------
def member_deployment(rule_id: str) -> Deployment:
    """The Deployment of a member's forwarding patterns, as the template spells it."""
    arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":iam::",
                {"Ref": "AWS::AccountId"},
                f":role/{org.member_role_name(rule_id)}",
            ],
        ]
    }
    return Deployment(role_arn=arn, account={"Ref": "AWS::AccountId"})  # type: ignore[arg-type]


def test_member_forwarding_patterns_are_the_central_ones_but_for_the_member_roles_loop_guard(
    central: Synth, member: dict[str, Any]
) -> None:
    for spec in deployed_specs(central):
        forwarded = [r["Properties"]["EventPattern"] for r in forwarding_rules(member, spec.id)]
        assert forwarded == rule_patterns(spec, member_deployment(spec.id)), spec.id
        default_rules, _ = bus_rules(central, spec.id)
        central_role = json.dumps({"Fn::GetAtt": [central.role_of(spec.id), "Arn"]})
        member_role_arn = json.dumps(member_deployment(spec.id).role_arn)
        assert [canonical(p) for p in forwarded] == [
            canonical(json.loads(json.dumps(p["EventPattern"]).replace(central_role, member_role_arn)))
            for p in default_rules
        ], spec.id
        assert central_role not in json.dumps(forwarded)


def test_member_forwarding_rules_target_the_central_bus_through_the_forwarder_role(member: dict[str, Any]) -> None:
    ((forwarder_id, forwarder),) = [
        (lid, r)
        for lid, r in member_resources(member, "AWS::IAM::Role").items()
        if render(r["Properties"]["RoleName"]) == org.forwarder_role_name("us-east-1")
    ]
    bus = f"arn:aws:events:eu-west-1:<ref:{CENTRAL_ACCOUNT_PARAMETER}>:event-bus/{org.CENTRAL_BUS_NAME}"
    rules = member_resources(member, "AWS::Events::Rule")
    assert rules
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert render(target["Arn"]) == bus  # straight to the central bus: no second hop
        assert target["RoleArn"] == {"Fn::GetAtt": [forwarder_id, "Arn"]}
        assert "EventBusName" not in rule["Properties"]  # the Region's default bus
    (policy,) = forwarder["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert as_list(statement["Action"]) == ["events:PutEvents"] and render(statement["Resource"]) == bus
    (trust,) = forwarder["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def region_render(value: Any, region: str) -> Any:
    """``render`` with the Region left as ``region`` (a member role names every Region of the organization)."""
    if isinstance(value, dict) and value == {"Ref": "AWS::Region"}:
        return region
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(region_render(part, region)) for part in parts)
    if isinstance(value, list):
        return [region_render(v, region) for v in value]
    return render(value)


RULE_ACTION_SIDS = ("RuleActions",)


def test_member_roles_hold_exactly_the_rule_actions_of_their_central_function(
    central: Synth, member: dict[str, Any]
) -> None:
    for spec in deployed_specs(central):
        expected = []
        for statement in central.role_statements(spec.id):
            if not statement["Sid"].startswith(RULE_ACTION_SIDS):
                continue  # the plumbing (logs, topic, tables, switches) stays central
            resources = sorted(
                {
                    str(region_render(r, region)).replace(CENTRAL_ACCOUNT, "<ref:AWS::AccountId>")
                    for r in as_list(statement["Resource"])
                    for region in REGIONS
                }
            )
            expected.append({**statement, "Resource": resources, "Condition": render_conditions(statement)})
        role = member_role(member, spec.id)
        (policy,) = role["Properties"]["Policies"]
        actual = [
            {
                **s,
                "Resource": sorted(
                    str(render(r)).replace(CENTRAL_ACCOUNT, "<ref:AWS::AccountId>") for r in as_list(s["Resource"])
                ),
                "Condition": render_conditions(s),
            }
            for s in policy["PolicyDocument"]["Statement"]
        ]
        assert actual == expected, spec.id
        assert expected, spec.id


def render_conditions(statement: dict[str, Any]) -> Any:
    return json.loads(
        json.dumps({op: {k: render(v) for k, v in keys.items()} for op, keys in statement.get("Condition", {}).items()})
    )


def test_member_roles_are_made_once_per_account_in_the_global_region(central: Synth, member: dict[str, Any]) -> None:
    assert member["Conditions"]["InGlobalRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, org.GLOBAL_REGION]}
    roles = member_resources(member, "AWS::IAM::Role").values()
    names = {render(r["Properties"]["RoleName"]): r.get("Condition") for r in roles}
    # One role per deployed rule, global (IAM): made in the global Region's instance only.
    expected = {org.member_role_name(spec.id): "InGlobalRegion" for spec in deployed_specs(central)}
    # The forwarder role is named per Region (rendered here for us-east-1), so instances never collide.
    expected[org.forwarder_role_name("us-east-1")] = "Forwards"
    assert names == expected


def test_iam_patterns_are_forwarded_from_the_global_region_only(central: Synth, member: dict[str, Any]) -> None:
    conditions = member["Conditions"]
    assert conditions["ForwardsGlobalEvents"] == {
        "Fn::And": [{"Condition": "Forwards"}, {"Condition": "InGlobalRegion"}]
    }
    global_rules = set()
    for spec in deployed_specs(central):
        for rule in forwarding_rules(member, spec.id):
            is_global = names_global_source(rule["Properties"]["EventPattern"])
            assert rule["Condition"] == ("ForwardsGlobalEvents" if is_global else "Forwards")
            if is_global:
                global_rules.add(spec.id)
    assert global_rules == GLOBAL_RULES


def test_the_tamper_watch_sees_the_member_accounts_through_the_central_bus(
    central: Synth, member: dict[str, Any]
) -> None:
    from mlwarden.core import tamper
    from mlwarden_cdk.watch import WATCH_HANDLER

    expected = {tamper.rule_name(key): canonical(p) for key, p in tamper.member_patterns().items()}
    # each member forwards the watch's member patterns from its default bus (IAM's from us-east-1 only) ...
    forwarded = {
        r["Properties"]["Name"]: r
        for r in member_resources(member, "AWS::Events::Rule").values()
        if r["Properties"]["Name"].startswith(tamper.WATCH_NAME)
    }
    assert {name: canonical(r["Properties"]["EventPattern"]) for name, r in forwarded.items()} == expected
    for name, rule in forwarded.items():
        is_global = names_global_source(rule["Properties"]["EventPattern"])
        assert is_global == name.startswith(tamper.rule_name("member-role")), name
        assert rule["Condition"] == ("ForwardsGlobalEvents" if is_global else "Forwards"), name
    # ... and the central bus's rules of the same patterns feed the watch function
    (watch,) = [
        lid for lid, r in central.resources("AWS::Lambda::Function") if r["Properties"]["Handler"] == WATCH_HANDLER
    ]
    bus = {"Ref": central_bus(central)}
    on_bus = {
        r["Properties"]["Name"]: r["Properties"]
        for _, r in central.resources("AWS::Events::Rule")
        if r["Properties"].get("EventBusName") == bus and r["Properties"]["Name"].startswith(tamper.WATCH_NAME)
    }
    assert {name: canonical(p["EventPattern"]) for name, p in on_bus.items()} == expected
    for props in on_bus.values():
        (target,) = props["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [watch, "Arn"]}
        assert "DeadLetterConfig" in target and "RetryPolicy" in target


def test_the_central_account_does_not_forward_to_itself_in_the_central_region(member: dict[str, Any]) -> None:
    assert member["Conditions"]["Forwards"] == {
        "Fn::Not": [
            {
                "Fn::And": [
                    {"Fn::Equals": [{"Ref": "AWS::AccountId"}, {"Ref": CENTRAL_ACCOUNT_PARAMETER}]},
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
                ]
            }
        ]
    }
    assert member["Parameters"][CENTRAL_ACCOUNT_PARAMETER]["AllowedPattern"] == r"^\d{12}$"
    assert "BootstrapVersion" not in member.get("Parameters", {}), "member accounts are not CDK-bootstrapped"


def trust_of(member: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    return list(member_role(member, rule_id)["Properties"]["AssumeRolePolicyDocument"]["Statement"])


def test_a_member_role_trusts_only_its_central_function_inside_the_organization(
    central: Synth, member: dict[str, Any]
) -> None:
    specs = deployed_specs(central)
    central_root = {"AWS": f"arn:aws:iam::<ref:{CENTRAL_ACCOUNT_PARAMETER}>:root"}
    for spec in specs:
        trust = trust_of(member, spec.id)
        (statement,) = trust
        assert render(statement["Principal"]["AWS"]) == central_root["AWS"]
        own = f"arn:aws:iam::<ref:{CENTRAL_ACCOUNT_PARAMETER}>:role/{org.central_role_name(spec.id)}"
        request = {"aws:PrincipalArn": own, "aws:PrincipalOrgID": ORG_ID, "sts:ExternalId": org.external_id(ORG_ID)}
        assert allowed(trust, "sts:AssumeRole", central_root, request)
        # Attacks: without the external id, from another organization, another rule's central role, or any
        # other principal of the central account.
        assert not allowed(trust, "sts:AssumeRole", central_root, {**request, "sts:ExternalId": "mlwarden-guess"})
        assert not allowed(
            trust, "sts:AssumeRole", central_root, {k: v for k, v in request.items() if k != "sts:ExternalId"}
        )
        assert not allowed(trust, "sts:AssumeRole", central_root, {**request, "aws:PrincipalOrgID": OTHER_ORG_ID})
        admin = f"arn:aws:iam::<ref:{CENTRAL_ACCOUNT_PARAMETER}>:role/Admin"
        assert not allowed(trust, "sts:AssumeRole", central_root, {**request, "aws:PrincipalArn": admin})
        for other in specs:
            if other.id != spec.id:
                arn = f"arn:aws:iam::<ref:{CENTRAL_ACCOUNT_PARAMETER}>:role/{org.central_role_name(other.id)}"
                assert not allowed(trust, "sts:AssumeRole", central_root, {**request, "aws:PrincipalArn": arn})
                break
        # Another account's root is not the principal at all.
        assert not allowed(trust, "sts:AssumeRole", {"AWS": f"arn:aws:iam::{MEMBER_ACCOUNT}:root"}, request)


def member_policy(stack: mlwarden_cdk.member.MemberStack, rule_id: str) -> str:
    role = stack.member_roles[rule_id].node.default_child
    return json.dumps(stack.resolve(role.policies))  # type: ignore[union-attr]


def test_member_role_policies_fit_iam_and_fall_back_to_any_region_when_many(
    central: Synth, member: dict[str, Any]
) -> None:
    # Two Regions (the module's template): each Region named, and every member role fits IAM's limit.
    for spec in deployed_specs(central):
        (policy,) = member_role(member, spec.id)["Properties"]["Policies"]
        assert document_size(policy["PolicyDocument"]) < MAX_INLINE_POLICY_CHARS, spec.id
    spec = get_rule("bedrock-custom-model-kms").spec
    _, stack = member_app(central.settings, [spec])
    assert ":bedrock:eu-west-1:" in member_policy(stack, spec.id)
    assert ":bedrock:*:" not in member_policy(stack, spec.id)
    # Seventeen Regions: one ARN per Region would not fit; the role names this account's resources in any Region.
    settings = dataclasses.replace(
        central.settings,
        organization=dataclasses.replace(central.settings.organization, regions=tuple(MANY_REGIONS)),  # type: ignore[arg-type]
    )
    _, stack = member_app(settings, [spec])
    assert ":bedrock:*:" in member_policy(stack, spec.id)
    assert ":bedrock:us-east-2:" not in member_policy(stack, spec.id)


MANY_REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
]


def test_regions_without_the_global_one_still_get_the_roles_there_and_no_regional_forwarding(
    central: Synth,
) -> None:
    organization = dataclasses.replace(central.settings.organization, regions=("eu-west-1",))  # type: ignore[arg-type]
    assert stack_set_regions(organization) == ["us-east-1", "eu-west-1"]
    settings = dataclasses.replace(central.settings, organization=organization)
    specs = [get_rule("iam-admin-policy-attached").spec, get_rule("sagemaker-endpoint-config-kms").spec]
    template = member_template(settings, specs)
    assert template["Conditions"]["ForwardsRegionalEvents"] == {
        "Fn::And": [{"Condition": "Forwards"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]}]
    }
    conditions = {
        r["Properties"]["Name"]: r["Condition"] for r in member_resources(template, "AWS::Events::Rule").values()
    }
    assert conditions == {
        "mlwarden-iam-admin-policy-attached": "ForwardsGlobalEvents",
        "mlwarden-sagemaker-endpoint-config-kms": "ForwardsRegionalEvents",
        # the tamper watch's view of the member (IAM's calls from us-east-1 only)
        "mlwarden-tamper-watch-member-control": "ForwardsRegionalEvents",
        "mlwarden-tamper-watch-member-exemption-1": "ForwardsRegionalEvents",
        "mlwarden-tamper-watch-member-exemption-2": "ForwardsRegionalEvents",
        "mlwarden-tamper-watch-member-role": "ForwardsGlobalEvents",
    }


# -- the StackSet ----------------------------------------------------------------------------------------------
def test_the_stack_set_rolls_the_member_template_out_to_the_ous_and_regions_of_cdk_json(
    central: Synth, member: dict[str, Any]
) -> None:
    _, stack_set = central.only("AWS::CloudFormation::StackSet")
    props = stack_set["Properties"]
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["CallAs"] == "DELEGATED_ADMIN"
    assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    (group,) = props["StackInstancesGroup"]
    assert group["DeploymentTargets"] == {"OrganizationalUnitIds": OUS}
    assert group["Regions"] == ["us-east-1", "eu-west-1"]  # the global Region first: the roles are made there
    assert props["OperationPreferences"]["RegionOrder"] == group["Regions"]
    assert props["OperationPreferences"]["RegionConcurrencyType"] == "SEQUENTIAL"
    assert props["Parameters"] == [
        {"ParameterKey": CENTRAL_ACCOUNT_PARAMETER, "ParameterValue": {"Ref": "AWS::AccountId"}}
    ]
    # The template comes from a file asset (it exceeds TemplateBody's 51,200 bytes): the one written at synth.
    assert "TemplateBody" not in props
    url = props["TemplateURL"]["Fn::Sub"]
    asset_hash = url.rsplit("/", 1)[1].removesuffix(".json")
    asset = json.loads((central.outdir / f"asset.{asset_hash}.json").read_text())
    assert asset == member
    assert len(json.dumps(member)) > 51_200


# -- lint and nag ----------------------------------------------------------------------------------------------
def test_cfn_lint_finds_no_problem_in_the_member_template_nor_the_central_root(
    central: Synth, member: dict[str, Any]
) -> None:
    templates = {"member": member, "central": central.templates["Mlwarden"]}
    problems = [
        f"{name}: {m.rule.id} {'/'.join(map(str, m.path))}: {m.message}"
        for name, template in templates.items()
        for m in lint(json.dumps(template), config=ManualArgs(regions=CFN_LINT_REGIONS, ignore_checks=CFN_LINT_IGNORED))
    ]
    assert problems == []


def test_cdk_nag_reports_no_unacknowledged_finding_on_the_central_deployment(tmp_path: Path) -> None:
    assert nag_findings(ORGANIZATION, tmp_path) == []


def member_nag_findings(settings: Settings, outdir: Path) -> list[str]:
    app, _ = member_app(settings, outdir=str(outdir))
    add_nag(app)
    try:
        app.synth()
    except RuntimeError as exc:
        if not str(exc).startswith("ValidationFailed"):
            raise
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        f"{v['ruleName']} at {c['constructPath']}"
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    ]


def test_cdk_nag_reports_no_unacknowledged_finding_on_the_member_template(central: Synth, tmp_path: Path) -> None:
    assert member_nag_findings(central.settings, tmp_path) == []


def test_cdk_nag_sees_the_member_roles_wildcards_when_unacknowledged(
    central: Synth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mlwarden_cdk.member, "acknowledge", lambda *args: None)
    findings = member_nag_findings(central.settings, tmp_path)
    assert findings and all(f.startswith("AwsSolutions-IAM5") and "MemberRole" in f for f in findings)


# -- the wiring, end to end, on the real sample events ---------------------------------------------------------
def concrete(value: Any, refs: dict[str, str], roles: dict[str, str]) -> Any:
    """A template value with its references filled in (``refs``: Ref name -> value; ``roles``: logical id of a
    role -> its ARN), the way CloudFormation hands the pattern to EventBridge."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return refs[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return roles[value["Fn::GetAtt"][0]]
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(concrete(part, refs, roles) for part in parts)
        return {key: concrete(item, refs, roles) for key, item in value.items()}
    if isinstance(value, list):
        return [concrete(item, refs, roles) for item in value]
    return value


def in_member_account(sample: str) -> dict[str, Any] | None:
    """The sample as delivered in the member account (its account id replaced everywhere), or None for the
    samples that are not EventBridge events (Config invocations)."""
    from mlwarden.core import events
    from tests.conftest import as_delivered, load_event

    event = as_delivered(load_event(sample))
    if events.kind_of(event) == events.CONFIG_INVOCATION or not event.get("account"):
        return None
    moved: dict[str, Any] = json.loads(json.dumps(event).replace(event["account"], MEMBER_ACCOUNT))
    return moved


def test_every_sample_event_of_a_member_reaches_exactly_the_rules_a_deployment_in_that_account_would(
    central: Synth, member: dict[str, Any]
) -> None:
    """Member default bus -> forwarding rule -> central bus -> central-bus rule: for each real sample event made
    in a member account, the rules it reaches are those a single-account deployment in that account reaches,
    and an event caused by a rule's own member role is not forwarded for that rule (the loop guard)."""
    from mlwarden.core.patterns import matches
    from tests.conftest import sample_files

    specs = deployed_specs(central)
    member_refs = {"AWS::AccountId": MEMBER_ACCOUNT, "AWS::Partition": "aws", "AWS::Region": "eu-west-1"}
    central_refs = {"AWS::AccountId": CENTRAL_ACCOUNT, "AWS::Partition": "aws", "AWS::Region": "eu-west-1"}
    central_roles = {
        central.role_of(s.id): f"arn:aws:iam::{CENTRAL_ACCOUNT}:role/{org.central_role_name(s.id)}" for s in specs
    }
    forwarding = {
        s.id: [concrete(r["Properties"]["EventPattern"], member_refs, {}) for r in forwarding_rules(member, s.id)]
        for s in specs
    }
    on_central_bus = {
        s.id: [concrete(p["EventPattern"], central_refs, central_roles) for p in bus_rules(central, s.id)[1]]
        for s in specs
    }
    single_account = {
        s.id: rule_patterns(s, Deployment(role_arn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/own", account=MEMBER_ACCOUNT))
        for s in specs
    }
    reached_any = 0
    guarded = 0
    for sample in sample_files():
        event = in_member_account(sample)
        if event is None:
            continue
        through_org = {
            s.id
            for s in specs
            if any(matches(p, event) for p in forwarding[s.id]) and any(matches(p, event) for p in on_central_bus[s.id])
        }
        in_place = {s.id for s in specs if any(matches(p, event) for p in single_account[s.id])}
        assert through_org == in_place, sample
        reached_any += bool(through_org)
        if event.get("detail-type") == "AWS API Call via CloudTrail":
            for rule_id in through_org:
                own = json.loads(json.dumps(event))
                issuer = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{org.member_role_name(rule_id)}"
                own["detail"]["userIdentity"] = {
                    "type": "AssumedRole",
                    "sessionContext": {"sessionIssuer": {"arn": issuer}},
                }
                assert not any(matches(p, own) for p in forwarding[rule_id]), (sample, rule_id)
                guarded += 1
    assert reached_any >= 30 and guarded >= 20


def test_every_feature_on_the_stack_set_passes_the_quarantine_bucket_and_nag_stays_clean(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from mlwarden_cdk.app import merge
    from tests.infra.conftest import FULL

    synth = synthesize(merge(FULL, ORGANIZATION), tmp_path_factory.mktemp("cdk-organization-full"))
    _, stack_set = synth.only("AWS::CloudFormation::StackSet")
    bucket = synth.output_ref("QuarantineBucketName")
    assert stack_set["Properties"]["Parameters"] == [
        {"ParameterKey": CENTRAL_ACCOUNT_PARAMETER, "ParameterValue": {"Ref": "AWS::AccountId"}},
        {"ParameterKey": QUARANTINE_BUCKET_PARAMETER, "ParameterValue": {"Ref": bucket}},
    ]
    template = json.loads((synth.outdir / MEMBER_TEMPLATE_FILE).read_text())
    (policy,) = member_role(template, "macie-sensitive-data")["Properties"]["Policies"]
    puts = [s for s in policy["PolicyDocument"]["Statement"] if as_list(s["Action"]) == ["s3:PutObject"]]
    assert [render(s["Resource"]) for s in puts] == [f"arn:aws:s3:::<ref:{QUARANTINE_BUCKET_PARAMETER}>/*"]
    assert member_nag_findings(synth.settings, tmp_path_factory.mktemp("nag-member-full")) == []


# ----------------------------------------------------------------------------- dashboard by account
def test_dashboard_graphs_each_account_and_filters_by_the_account_variable(central: Synth) -> None:
    from mlwarden_cdk.dashboard import ACCOUNT_METRICS, account_search
    from tests.infra.test_dashboard import dashboard_json

    body = dashboard_json(central.template)
    expressions = [
        m[0]["expression"]
        for w in body["widgets"]
        for m in w.get("properties", {}).get("metrics", [])
        if isinstance(m[0], dict) and "expression" in m[0]
    ]
    for name, _ in ACCOUNT_METRICS:
        assert account_search(name) in expressions
        assert f"SEARCH('{{mlwarden,account,service}} MetricName=\"{name}\"', 'Sum', 3600)" in expressions
    # The per-account metrics the handler emits carry exactly these dimensions (tests/unit/test_account_metrics.py).
    (variable,) = body["variables"]
    assert variable["type"] == "property" and variable["property"] == "account"
    assert variable["inputType"] == "select"
    assert variable["search"] == '{mlwarden,account,service} MetricName="Violations"'
    assert variable["populateFrom"] == "account"
    # The variable sets the account dimension of the selected-account graph: one metric per outcome.
    selected = [
        m
        for w in body["widgets"]
        for m in w.get("properties", {}).get("metrics", [])
        if isinstance(m[0], str) and "account" in m
    ]
    assert sorted(m[1] for m in selected) == sorted(name for name, _ in ACCOUNT_METRICS)
    # The per-rule graphs (and the alarms' metrics) keep their rule_id dimension.
    assert any('"rule_id"' in json.dumps(w) for w in body["widgets"])
