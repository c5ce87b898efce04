"""Organization mode, central side (DESIGN §2.8; the names both sides agree on are in ``mlwarden.core.org``).

With an ``organization`` block in cdk.json the central deployment is the single-account one plus:

- the central event bus ``CENTRAL_BUS_NAME``: its resource policy lets principals of the organization
  (``aws:PrincipalOrgID``), and nobody else, put events on it. The member accounts' forwarding rules
  (``stacks/member.py``) deliver to it; an event's ``account`` is set by EventBridge (the account it came from),
  never by the sender;
- per rule, EventBridge rules on that bus with the rule's own patterns (``rule_patterns``, the same code as the
  default-bus rules), targeting the rule's function with the same retries and dead-letter queue. One difference:
  their findings patterns name no account (``Deployment.account`` ``None``), because forwarded findings name
  the member they came from; each member forwards only findings about itself, and the bus admits only the
  organization. The loop guard stays the central role (the member side excludes the member role);
- per rule, the function's role gets a fixed name (``org.central_role_name``, which member trust policies
  name), the ``org.ENV_*`` environment, ``sts:AssumeRole`` on that rule's member role in any account of the
  organization only (``aws:ResourceOrgID``), read-only Organizations calls (OU overrides, account names, the
  org-wide sweep) and its own SSM path ``/mlwarden/rules/<rule-id>`` (per-account and per-OU mode overrides);
- per rule, a periodic sweep schedule (EventBridge Scheduler, as ``SweepTrigger`` rules have), even where the
  rule's backstop is an AWS Config rule: a Config rule evaluates only the account it is deployed in, so the
  member accounts are swept through the member roles on this schedule (the Config rule stays for the central
  account; the sweep's listing permissions are granted in both places);
- the member StackSet (service-managed, auto-deployed to new accounts of the OUs, ``callAs`` from cdk.json),
  whose template (``stacks/member.py``) is written next to the cloud assembly at synth time and uploaded as a
  file asset: it exceeds the 51,200 bytes CloudFormation accepts inline (``TemplateBody``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from aws_cdk import Aws, Stack, Stage
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from mlwarden.core import org
from mlwarden.core.patterns import Deployment, rule_patterns
from mlwarden.core.settings import Settings, resource_name
from mlwarden.core.spec import RuleSpec, SweepTrigger
from stacks.nag import acknowledge

if TYPE_CHECKING:
    from stacks.guarded_rule import GuardedRule, SharedResources

STACK_SET_NAME = "mlwarden-member"
MEMBER_TEMPLATE_FILE = "mlwarden-member.template.json"
# Read-only calls of the central functions: the parents of an account (per-OU mode overrides), its name (alerts),
# the accounts and OUs under the configured OUs (the org-wide sweep). None supports narrower resources usefully:
# the accounts and OUs are whatever the organization holds at run time.
ORGANIZATIONS_ACTIONS = (
    "organizations:ListParents",
    "organizations:DescribeAccount",
    "organizations:ListAccountsForParent",
    "organizations:ListChildren",
)
OVERRIDE_ACTIONS = ("ssm:GetParameter", "ssm:GetParametersByPath")
# StackSet roll-out: every account of a Region at once (up to the tolerance), one Region after the other, the
# global Region first (the member roles are made there).
MAX_CONCURRENT_PERCENTAGE = 100
FAILURE_TOLERANCE_PERCENTAGE = 10


def rules_parameter_path(rule_id: str) -> str:
    """The SSM path of rule ``rule_id``: its mode, and the overrides ``accounts/<id>/mode``, ``ous/<id>/mode``."""
    return f"/mlwarden/rules/{rule_id}"


def stack_set_regions(organization: org.OrganizationSettings) -> list[str]:
    """The Regions the StackSet deploys to, the global Region first: the member roles (IAM is global) are made
    there, and IAM's events are forwarded from there; it is added when cdk.json does not list it."""
    return [org.GLOBAL_REGION, *(r for r in organization.regions if r != org.GLOBAL_REGION)]


# -- hooks of GuardedRule (each does nothing without the organization block) ----------------------------------
def central_role_name_of(spec: RuleSpec, settings: Settings) -> str | None:
    return org.central_role_name(spec.id) if settings.organization else None


def function_environment(spec: RuleSpec, settings: Settings) -> dict[str, str]:
    organization = settings.organization
    if organization is None:
        return {}
    return {
        org.ENV_ORG_ID: organization.organization_id,
        org.ENV_MEMBER_ROLE: org.member_role_name(spec.id),
        org.ENV_EXTERNAL_ID: organization.external_id,
        org.ENV_ORG_REGIONS: ",".join(organization.regions),
        org.ENV_ORG_OUS: ",".join(organization.organizational_unit_ids),
    }


def central_statements(spec: RuleSpec, settings: Settings) -> list[iam.PolicyStatement]:
    """What a rule's central function needs besides its single-account statements."""
    organization = settings.organization
    if organization is None:
        return []
    parameters = f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{rules_parameter_path(spec.id)}"
    return [
        iam.PolicyStatement(
            sid="AssumeMemberRole",
            actions=["sts:AssumeRole"],
            resources=[f"arn:{Aws.PARTITION}:iam::*:role/{org.member_role_name(spec.id)}"],
            conditions={"StringEquals": {"aws:ResourceOrgID": organization.organization_id}},
        ),
        iam.PolicyStatement(sid="ReadOrganization", actions=list(ORGANIZATIONS_ACTIONS), resources=["*"]),
        iam.PolicyStatement(
            sid="ReadModeOverrides", actions=list(OVERRIDE_ACTIONS), resources=[parameters, f"{parameters}/*"]
        ),
    ]


def organization_sweep(spec: RuleSpec, settings: Settings) -> SweepTrigger | None:
    """A sweep schedule for a rule that has none (organization mode only): see the module docstring."""
    if settings.organization is None or spec.sweep:
        return None
    return SweepTrigger(resource_types=spec.resource_types)


def central_bus_patterns(spec: RuleSpec, role_arn: str) -> list[dict[str, object]]:
    """The patterns of a rule's central-bus rules: its default-bus patterns, findings of any account."""
    return rule_patterns(spec, Deployment(role_arn=role_arn, account=None))


def central_bus_rules(rule: GuardedRule, shared: SharedResources) -> list[events.CfnRule]:
    """The rule's EventBridge rules on the central bus (none without the organization block)."""
    if shared.central_bus is None:
        return []
    from stacks.guarded_rule import event_rule

    spec = rule.spec
    out = []
    for index, pattern in enumerate(central_bus_patterns(spec, rule.role.role_arn)):
        cfn_rule = event_rule(
            rule,
            f"CentralBusEvent{index}",
            name=resource_name(spec.id, index),
            description=f"mlwarden {spec.id}: trigger {index + 1}, forwarded by the organization's accounts",
            pattern=pattern,
            function=rule.function,
            dead_letter_queue=rule.dead_letter_queue,
            target_id="RuleFunction",
            queue_sid=f"CentralBusTrigger{index}",
        )
        cfn_rule.event_bus_name = shared.central_bus.event_bus_name
        out.append(cfn_rule)
    return out


def acknowledge_central_wildcards(role: iam.Role, spec: RuleSpec, settings: Settings) -> None:
    """cdk-nag: why each wildcard of ``central_statements`` is as narrow as it can be."""
    if settings.organization is None:
        return
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/{org.member_role_name(spec.id)}]",
        f"{spec.id}: its own member role in whichever account of the organization (aws:ResourceOrgID) an event "
        "or the sweep names; the accounts are known only at run time.",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter"
        f"{rules_parameter_path(spec.id)}/*]",
        f"{spec.id}: its own per-account and per-OU mode overrides, named after accounts and OUs known only at "
        "run time.",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        f"{spec.id}: {', '.join(ORGANIZATIONS_ACTIONS)} read the organization's accounts and OUs, known only at "
        "run time.",
    )


# -- the stack's part -----------------------------------------------------------------------------------------
def central_bus(scope: Construct, settings: Settings) -> events.EventBus | None:
    """The central event bus, admitting the organization only (None without the organization block)."""
    organization = settings.organization
    if organization is None:
        return None
    bus = events.EventBus(
        scope,
        "CentralBus",
        event_bus_name=org.CENTRAL_BUS_NAME,
        description="mlwarden: events forwarded by the organization's member accounts",
    )
    bus.add_to_resource_policy(
        iam.PolicyStatement(
            sid="OrganizationPutsEvents",
            principals=[iam.StarPrincipal()],
            actions=["events:PutEvents"],
            resources=[bus.event_bus_arn],
            conditions={"StringEquals": {"aws:PrincipalOrgID": organization.organization_id}},
        )
    )
    return bus


def member_stack_set(
    stack: Stack, settings: Settings, specs: list[RuleSpec], quarantine_bucket_name: str | None
) -> cloudformation.CfnStackSet | None:
    """The StackSet rolling the member template out to the OUs and Regions of cdk.json (None without the block).

    The template is synthesized here (``stacks.member.member_template``), written into the cloud assembly
    directory and uploaded as a file asset of the central stack; CloudFormation reads it from the asset bucket
    with the deploying principal's credentials when it creates the StackSet.
    """
    organization = settings.organization
    if organization is None:
        return None
    from stacks.member import CENTRAL_ACCOUNT_PARAMETER, QUARANTINE_BUCKET_PARAMETER, member_template

    template = member_template(settings, specs)
    path = Path(Stage.of(stack).outdir) / MEMBER_TEMPLATE_FILE  # type: ignore[union-attr]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(template, indent=1))
    asset = s3_assets.Asset(stack, "MemberTemplate", path=str(path))
    parameters = [
        cloudformation.CfnStackSet.ParameterProperty(
            parameter_key=CENTRAL_ACCOUNT_PARAMETER, parameter_value=Aws.ACCOUNT_ID
        )
    ]
    if QUARANTINE_BUCKET_PARAMETER in template.get("Parameters", {}):
        assert quarantine_bucket_name is not None, "the member template names a quarantine bucket: pass its name"
        parameters.append(
            cloudformation.CfnStackSet.ParameterProperty(
                parameter_key=QUARANTINE_BUCKET_PARAMETER, parameter_value=quarantine_bucket_name
            )
        )
    regions = stack_set_regions(organization)
    return cloudformation.CfnStackSet(
        stack,
        "MemberStackSet",
        stack_set_name=STACK_SET_NAME,
        description="mlwarden member accounts: forwarding rules to the central bus, one role per rule",
        permission_model="SERVICE_MANAGED",
        auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
            enabled=True, retain_stacks_on_account_removal=False
        ),
        call_as=organization.call_as,
        capabilities=["CAPABILITY_NAMED_IAM"],
        template_url=asset.http_url,
        parameters=parameters,
        operation_preferences=cloudformation.CfnStackSet.OperationPreferencesProperty(
            region_concurrency_type="SEQUENTIAL",
            region_order=regions,
            concurrency_mode="SOFT_FAILURE_TOLERANCE",
            max_concurrent_percentage=MAX_CONCURRENT_PERCENTAGE,
            failure_tolerance_percentage=FAILURE_TOLERANCE_PERCENTAGE,
        ),
        stack_instances_group=[
            cloudformation.CfnStackSet.StackInstancesProperty(
                deployment_targets=cloudformation.CfnStackSet.DeploymentTargetsProperty(
                    organizational_unit_ids=list(organization.organizational_unit_ids)
                ),
                regions=regions,
            )
        ],
    )
