"""Organization mode, member side: the template a service-managed StackSet puts into every account and Region
of the organizational units named in cdk.json (``mlwarden_cdk/organization.py`` creates the StackSet).

Per stack instance (one account, one Region):

- per rule, forwarding rules on the Region's default bus with exactly the central patterns (``rule_patterns``,
  the same code), except that the loop guard drops the calls of that rule's member role in this account
  (``arn:<partition>:iam::<this account>:role/mlwarden-member-<rule-id>``) and findings must name this account.
  Their target is the central bus itself, in the central account and Region: an event EventBridge has
  delivered to a bus cannot be forwarded a second hop, so nothing goes through another bus;
- the tamper watch's view of this account (``tamper.member_patterns()``: exemption tags, changes to its
  ``mlwarden-*`` EventBridge rules, IAM changes to its member and forwarder roles, those from us-east-1 only),
  forwarded as ``mlwarden-tamper-watch-member-*`` rules. The StackSet's own updates of these resources
  (CloudFormation, as the ``stacksets-exec-*`` role) are reported too: a role name is no proof of who acted,
  and each such alarm names that role;
- one role, ``forwarder_role_name(<Region>)`` (IAM is global: one per Region, so instances in several Regions
  of an account do not collide), that EventBridge assumes to put events on exactly the central bus.

Once per account, in ``org.GLOBAL_REGION`` only (a CloudFormation condition on ``AWS::Region``):

- per rule, the member role ``org.member_role_name(rule-id)``, holding exactly that rule's actions as its central
  function holds them (``rule_action_statements``, the same code; resources of this account, in every Region of
  the organization block), assumable only by that rule's central role (``aws:PrincipalArn``), inside the
  organization (``aws:PrincipalOrgID``) and with ``org.external_id``. Roles are global: made in every Region,
  they would collide;
- the forwarding of IAM's events: IAM (global) delivers its CloudTrail events to EventBridge in us-east-1
  only, so a pattern naming a global service is forwarded from that Region alone (no duplicate alerts).

The central account's own events in the central Region reach its default-bus rules directly: where the
StackSet also lands there (a delegated administrator inside a targeted OU), the forwarding rules are left out
(condition on the ``CentralAccountId`` parameter), so nothing is judged twice.

The central account id is a template parameter (``CentralAccountId``) that the StackSet fills with the central
stack's own ``AWS::AccountId``: the template itself stays account-agnostic (synthesized offline, deployable
from any account). ``member_template(settings)`` returns it as a dict (tests, ``mlwarden demo --org``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import (
    App,
    Aws,
    BootstraplessSynthesizer,
    CfnCondition,
    CfnParameter,
    CfnResource,
    Fn,
    ICfnConditionExpression,
    Stack,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlwarden.core import org, tamper
from mlwarden.core.patterns import Deployment, rule_patterns
from mlwarden.core.registry import all_specs
from mlwarden.core.settings import Settings, resource_name
from mlwarden.core.spec import STACK_RESOURCES, RuleSpec
from mlwarden_cdk.guarded_rule import GrantedActions, construct_id, rule_action_statements, scoped_groups
from mlwarden_cdk.nag import acknowledge

MEMBER_STACK_NAME = "MlwardenMember"
CENTRAL_ACCOUNT_PARAMETER = "CentralAccountId"
QUARANTINE_BUCKET_PARAMETER = "QuarantineBucketName"
# Event sources of global services: their CloudTrail events reach EventBridge in org.GLOBAL_REGION only.
GLOBAL_SOURCES = frozenset({"aws.iam"})
# EventBridge -> central bus: retried for a day (EventBridge's default), the central sweep is the backstop.
FORWARD_RETRY_ATTEMPTS = 185
FORWARD_MAX_AGE_SECONDS = 24 * 60 * 60
# IAM's limit on a role's inline policies (characters, whitespace not counted).
MAX_INLINE_POLICY_CHARS = 10_240


def member_role_arn(rule_id: str) -> str:
    """The rule's member role in the account the template is deployed in (CloudFormation pseudo parameters)."""
    return org.role_arn(Aws.PARTITION, Aws.ACCOUNT_ID, org.member_role_name(rule_id))


def names_global_source(pattern: dict[str, Any]) -> bool:
    """Whether a (possibly merged) pattern matches events of a global service."""
    alternatives = pattern.get("$or", [pattern])
    return any(set(p.get("source", ())) & GLOBAL_SOURCES for p in alternatives)


def member_patterns(spec: RuleSpec) -> list[dict[str, Any]]:
    """The rule's forwarding patterns in a member account: the central patterns, this account's loop guard."""
    return rule_patterns(spec, Deployment(role_arn=member_role_arn(spec.id), account=Aws.ACCOUNT_ID))


class MemberStack(Stack):
    """The member template. Bootstrapless: member accounts are not CDK-bootstrapped, and the template has no
    asset (no ``BootstrapVersion`` parameter nor check)."""

    def __init__(
        self, scope: Construct, id: str, *, settings: Settings, specs: Sequence[RuleSpec] | None = None
    ) -> None:
        organization = settings.organization
        if organization is None:
            raise ValueError("the member template needs the cdk.json mlwarden.organization block")
        super().__init__(
            scope,
            id,
            synthesizer=BootstraplessSynthesizer(),
            description="mlwarden member account: forwards mlwarden's events to the central bus; one role per rule",
        )
        self.settings = settings
        self.organization = organization
        self.central_account = CfnParameter(
            self,
            CENTRAL_ACCOUNT_PARAMETER,
            type="String",
            allowed_pattern=r"^\d{12}$",
            description="The account of the central mlwarden deployment (the StackSet fills it in)",
        ).value_as_string
        self.quarantine_bucket = (
            CfnParameter(
                self,
                QUARANTINE_BUCKET_PARAMETER,
                type="String",
                min_length=3,
                description="The central quarantine bucket (cdk.json macieQuarantine; the StackSet fills it in)",
            ).value_as_string
            if settings.macie_quarantine
            else None
        )
        in_global_region = Fn.condition_equals(Aws.REGION, org.GLOBAL_REGION)
        self.global_region = CfnCondition(self, "InGlobalRegion", expression=in_global_region)
        central_here = Fn.condition_and(
            Fn.condition_equals(Aws.ACCOUNT_ID, self.central_account),
            Fn.condition_equals(Aws.REGION, organization.central_region),
        )
        forwards: ICfnConditionExpression = Fn.condition_not(central_here)
        self.forwards = CfnCondition(self, "Forwards", expression=forwards)
        self.forwards_global = CfnCondition(
            self, "ForwardsGlobalEvents", expression=Fn.condition_and(self.forwards, self.global_region)
        )
        # The global Region is always a stack instance (the roles); its regional events only where cdk.json
        # lists it.
        self.forwards_regional = (
            self.forwards
            if org.GLOBAL_REGION in organization.regions
            else CfnCondition(
                self,
                "ForwardsRegionalEvents",
                expression=Fn.condition_and(self.forwards, Fn.condition_not(in_global_region)),
            )
        )
        self.central_bus_arn = (
            f"arn:{Aws.PARTITION}:events:{organization.central_region}:{self.central_account}:"
            f"event-bus/{org.CENTRAL_BUS_NAME}"
        )
        self.forwarder = self._forwarder_role()
        self.member_roles: dict[str, iam.Role] = {}
        self.forwarding_rules: dict[str, list[events.CfnRule]] = {}
        for spec in all_specs() if specs is None else specs:
            if not settings.deployed(spec.id):
                continue
            self.member_roles[spec.id] = self._member_role(spec)
            self.forwarding_rules[spec.id] = [
                self._forwarding_rule(spec, index, pattern) for index, pattern in enumerate(member_patterns(spec))
            ]
        # The tamper watch's view of this account: exemption tags, its mlwarden-* EventBridge rules, its roles.
        self.watch_forwarding_rules = {
            key: self._watch_forwarding_rule(key, pattern) for key, pattern in tamper.member_patterns().items()
        }

    def _forwarder_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "ForwarderRole",
            role_name=org.forwarder_role_name(Aws.REGION),
            description="EventBridge forwards mlwarden's events from this Region to the central bus",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            inline_policies={
                "mlwarden-forward": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="PutEventsOnTheCentralBus",
                            actions=["events:PutEvents"],
                            resources=[self.central_bus_arn],
                        )
                    ]
                )
            },
        )
        _condition(role, self.forwards)
        return role

    def _member_role(self, spec: RuleSpec) -> iam.Role:
        organization = self.organization
        rule_settings = self.settings.rule(spec.id)
        granted = GrantedActions.of(spec, rule_settings, self.settings)
        statements = rule_action_statements(spec, granted, [self._placeholders(r) for r in organization.regions])
        if policy_size(self, statements) > MAX_INLINE_POLICY_CHARS:
            # Many Regions: the resources of this account in any Region, rather than a policy IAM refuses.
            statements = rule_action_statements(spec, granted, [self._placeholders("*")])
        central_role = org.role_arn(Aws.PARTITION, self.central_account, org.central_role_name(spec.id))
        role = iam.Role(
            self,
            f"{construct_id(spec.id)}MemberRole",
            role_name=org.member_role_name(spec.id),
            description=f"mlwarden {spec.id}: "
            + ("detect and remediate" if rule_settings.allow_remediation else "detect")
            + ", for its central function only",
            assumed_by=iam.ArnPrincipal(f"arn:{Aws.PARTITION}:iam::{self.central_account}:root").with_conditions(
                {
                    "ArnEquals": {"aws:PrincipalArn": central_role},
                    "StringEquals": {
                        "aws:PrincipalOrgID": organization.organization_id,
                        "sts:ExternalId": organization.external_id,
                    },
                }
            ),
            inline_policies={"mlwarden-rule": iam.PolicyDocument(statements=statements)} if statements else None,
        )
        _condition(role, self.global_region)
        self._acknowledge_wildcards(role, spec, granted)
        return role

    def _placeholders(self, region: str) -> dict[str, str | None]:
        stack_resources = {"quarantine_bucket": self.quarantine_bucket}
        assert set(stack_resources) == set(STACK_RESOURCES), "a stack resource a spec may name is not filled in"
        return {"partition": Aws.PARTITION, "region": region, "account": Aws.ACCOUNT_ID, **stack_resources}

    def _acknowledge_wildcards(self, role: iam.Role, spec: RuleSpec, granted: GrantedActions) -> None:
        nag_placeholders = {
            "partition": "<AWS::Partition>",
            "account": "<AWS::AccountId>",
            "quarantine_bucket": f"<{QUARANTINE_BUCKET_PARAMETER}>",
        }
        reasons: dict[str, list[str]] = {}
        for _, actions, templates in scoped_groups(spec, granted):
            for template in templates:
                if "*" not in template:
                    continue
                for region in self.organization.regions:
                    resource = template.format(**{**nag_placeholders, "region": region})
                    reasons.setdefault(resource, []).append(
                        f"{', '.join(actions)} act on whichever {spec.resource_type} an event or a sweep names, "
                        "known only at run time"
                    )
        if granted.unscoped:
            reasons.setdefault("*", []).append(f"{', '.join(granted.unscoped)} support no resource-level permissions")
        for resource, why in reasons.items():
            acknowledge(role, f"AwsSolutions-IAM5[Resource::{resource}]", f"{spec.id}: " + "; ".join(why) + ".")

    def _watch_forwarding_rule(self, key: str, pattern: dict[str, Any]) -> events.CfnRule:
        return self._forward(
            f"TamperWatch{construct_id(key)}Forward",
            tamper.rule_name(key),
            f"mlwarden tamper watch: {key} changes in this account, forwarded to the central bus",
            pattern,
        )

    def _forwarding_rule(self, spec: RuleSpec, index: int, pattern: dict[str, Any]) -> events.CfnRule:
        return self._forward(
            f"{construct_id(spec.id)}Forward{index}",
            resource_name(spec.id, index),
            f"mlwarden {spec.id}: trigger {index + 1}, forwarded to the central bus",
            pattern,
        )

    def _forward(self, id: str, name: str, description: str, pattern: dict[str, Any]) -> events.CfnRule:
        rule = events.CfnRule(
            self,
            id,
            name=name,
            description=description,
            event_pattern=pattern,
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    id="CentralBus",
                    arn=self.central_bus_arn,
                    role_arn=self.forwarder.role_arn,
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_retry_attempts=FORWARD_RETRY_ATTEMPTS,
                        maximum_event_age_in_seconds=FORWARD_MAX_AGE_SECONDS,
                    ),
                )
            ],
        )
        rule.cfn_options.condition = self.forwards_global if names_global_source(pattern) else self.forwards_regional
        return rule


def policy_size(scope: Construct, statements: list[iam.PolicyStatement]) -> int:
    """The characters of the policy as IAM counts them (no whitespace), with every reference at its longest."""
    return document_size(Stack.of(scope).resolve(iam.PolicyDocument(statements=statements).to_json()))


def document_size(document: Any) -> int:
    """The characters of a policy document as the template spells it, with every reference at its longest."""
    return len(json.dumps(_longest(document), separators=(",", ":")))


def _longest(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return "aws-iso-b" if value["Ref"] == "AWS::Partition" else "x" * 63  # a bucket name at most
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(_longest(part) for part in parts)
        return {key: _longest(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_longest(item) for item in value]
    return value


def _condition(construct: iam.Role, condition: CfnCondition) -> None:
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    resource.cfn_options.condition = condition


def member_app(
    settings: Settings, specs: Sequence[RuleSpec] | None = None, *, outdir: str | None = None
) -> tuple[App, MemberStack]:
    """An app holding the member template's stack alone, with cdk.json's context (feature flags)."""
    from mlwarden_cdk.app import cdk_json_context

    app = App(context=cdk_json_context(), outdir=outdir)
    return app, MemberStack(app, MEMBER_STACK_NAME, settings=settings, specs=specs)


def member_template(settings: Settings, specs: Sequence[RuleSpec] | None = None) -> dict[str, Any]:
    """The member template (a dict) for ``settings`` (which must have the organization block)."""
    with tempfile.TemporaryDirectory(prefix="mlwarden-member-") as tmp:
        app, stack = member_app(settings, specs, outdir=tmp)
        directory = app.synth().directory
        template: dict[str, Any] = json.loads((Path(directory) / stack.template_file).read_text())
        return template
