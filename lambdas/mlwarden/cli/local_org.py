"""A local AWS Organization on one moto server: a central account and member accounts in several Regions.

What it deploys is read from the synthesized templates, never written twice: the central template (functions,
switches, topic, the central event bus and its rules) goes into the central account through ``LocalDeployment``;
the member template (what the StackSet rolls out) goes into every member account of the OUs the StackSet
targets, in each Region it targets: its forwarding rules on that Region's default bus (targets: the central bus)
and its roles (``deploy_member_template``). A violation made in a member account then travels the way it does in
AWS: member default bus → forwarding rule → central bus → central rule → the rule's function.

One moto server holds every account: a request acts in the account its access key belongs to. The central
account is moto's default (access key ``testing``); a member account is reached the way an administrator reaches
it, by assuming its ``OrganizationAccountAccessRole``; a rule function reaches it through its member role.

moto differs from AWS in a few ways that matter here; ``aws_fidelity()`` makes it behave like AWS, only while a
local organization runs, and says so:

- EventBridge delivers an event to a bus of another account or Region with the *receiver's* account and Region
  and without ``resources``; AWS keeps the source account, Region and resources (the central functions act on the
  account and Region the event names). The fidelity patch delivers bus-to-bus events unchanged.
- The event a target (here: an SQS queue standing in for the function) receives has no ``account`` field; AWS's
  has it. The fidelity patch adds it to moto's default target input.
- ``sts:AssumeRole`` succeeds for a role that does not exist, and ignores the role's trust policy; AWS denies
  both (AccessDenied). The fidelity patch denies them too: a missing role, and a caller the trust policy does not
  admit (its principal, ``aws:PrincipalArn``, ``aws:PrincipalOrgID``, ``sts:ExternalId``; any other condition key
  fails closed). So a member account without its role, another rule's central function, or a caller without the
  external id fails locally as it fails in AWS. For that, each central function runs as its own central role
  (``CentralDeployment``), as Lambda runs it.
- Organizations makes random ids; the local organization gets the ids its cdk.json block names (``pinned_ids``),
  so the templates synthesized for that block describe this organization.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
from botocore.config import Config

from mlwarden.cli.local_account import ACCOUNT as CENTRAL_ACCOUNT
from mlwarden.cli.local_account import LocalDeployment, LocalFunction
from mlwarden.core import org

# The local organization's ids (patterns of AWS's ids; pinned in moto while the organization is created).
ORG_ID = "o-mlwarden01"
ROOT_ID = "r-ml01"
SANDBOX_OU = "ou-ml01-sandbox1"
PRODUCTION_OU = "ou-ml01-product1"
CENTRAL_REGION = org.GLOBAL_REGION  # us-east-1: IAM events arrive there
SECOND_REGION = "eu-west-1"
REGIONS = (CENTRAL_REGION, SECOND_REGION)
# Member accounts: (name, account id, OU id)
MEMBERS = (
    ("ml-sandbox", "111111111111", SANDBOX_OU),
    ("ml-production", "222222222222", PRODUCTION_OU),
)
ADMIN_ROLE = "OrganizationAccountAccessRole"  # what Organizations creates in every account it creates

ORGANIZATION_BLOCK = {
    "organizationId": ORG_ID,
    "organizationalUnitIds": [SANDBOX_OU, PRODUCTION_OU],
    "regions": list(REGIONS),
    "centralRegion": CENTRAL_REGION,
    "callAs": "SELF",
}

_CLIENT_CONFIG = Config(retries={"max_attempts": 1})


# ------------------------------------------------------------------------------------------- moto fidelity
@contextmanager
def pinned_ids(
    org_id: str = ORG_ID,
    root_id: str = ROOT_ID,
    ou_ids: tuple[str, ...] = (SANDBOX_OU, PRODUCTION_OU),
    account_ids: tuple[str, ...] = tuple(m[1] for m in MEMBERS),
) -> Iterator[None]:
    """moto's Organizations gives the next organization, root, OUs and accounts these ids (in order)."""
    from moto.organizations import utils

    # moto's root is an OU too: it draws the first OU id (and then takes the root id)
    # moto's root is an OU and its management account an account: each draws an id first (then replaced)
    ous = iter((f"ou-{root_id[2:]}-rootunit", *ou_ids))
    accounts = iter((CENTRAL_ACCOUNT, *account_ids))
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(utils, "make_random_org_id", lambda: org_id))
        stack.enter_context(mock.patch.object(utils, "make_random_root_id", lambda: root_id))
        stack.enter_context(mock.patch.object(utils, "make_random_ou_id", lambda _root: next(ous)))
        stack.enter_context(mock.patch.object(utils, "make_random_account_id", lambda: next(accounts)))
        yield


def _deliver_bus_to_bus(original: Callable[..., None]) -> Callable[..., None]:
    """``Rule.send_to_targets`` that hands an event to a target bus unchanged (source account, Region, id and
    resources kept, as EventBridge does); every other target as moto does."""

    def send_to_targets(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        buses = [t for t in self.targets if ":event-bus/" in str(t.get("Arn", ""))]
        if not buses:
            original(self, event, transform_input)
            return
        if not self.event_pattern.matches_event(event):
            return
        others = [t for t in self.targets if t not in buses]
        if others:
            saved = self.targets
            self.targets = others
            try:
                original(self, event, transform_input)
            finally:
                self.targets = saved
        from moto.events.models import events_backends
        from moto.utilities.arns import parse_arn

        for target in buses:
            arn = parse_arn(target["Arn"])
            bus = events_backends[arn.account][arn.region].describe_event_bus(arn.resource_id)
            rules: list[Any] = list(bus.rules.values())
            for rule in rules:
                rule.send_to_targets(copy.deepcopy(event))

    return send_to_targets


def _assume_role_as_aws(original: Callable[..., Any]) -> Callable[..., Any]:
    """``TokenResponse.assume_role`` that, as AWS does, denies a role that does not exist and a caller its trust
    policy does not admit (``_trusts``)."""

    def assume_role(self: Any) -> Any:
        from moto.iam.models import iam_backends
        from moto.sts.exceptions import STSClientError

        role_arn = str(self._get_param("RoleArn") or "")
        account, _, name = role_arn.removeprefix("arn:aws:iam::").partition(":role/")
        name = name.rsplit("/", 1)[-1]
        role = next((r for r in iam_backends[account]["aws"].roles.values() if r.name == name), None)
        caller_account = self.get_current_account()
        caller = _caller_arn(caller_account, self.get_access_key())
        if role is None or not _trusts(
            role.assume_role_policy_document, caller, caller_account, self._get_param("ExternalId")
        ):
            raise STSClientError(
                "AccessDenied", f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )
        return original(self)

    return assume_role


def _caller_arn(account: str, access_key: str) -> str:
    """The principal ARN of a request: the role a session key belongs to, else the account's root."""
    from moto.sts.models import sts_backends

    for assumed in sts_backends[account]["aws"].assumed_roles:
        if assumed.access_key_id == access_key:
            return str(assumed.role_arn)
    return f"arn:aws:iam::{account}:root"


def _organization_of(account: str) -> str:
    from moto.organizations.models import organizations_backends

    management = organizations_backends.master_accounts.get(account, (account, "aws"))[0]
    organization = organizations_backends[management]["aws"].org
    return str(organization.id) if organization is not None else ""


def _values(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _trusts(document: Any, caller: str, caller_account: str, external_id: str | None) -> bool:
    """Whether a trust policy lets ``caller`` assume the role: an Allow statement for sts:AssumeRole whose AWS
    principal names the caller (or its account's root, or *) and whose conditions on ``sts:ExternalId``,
    ``aws:PrincipalArn`` and ``aws:PrincipalOrgID`` hold. A condition on any other key fails closed. A statement
    trusting a service principal only is taken as met: the harness plays that service (Lambda running a
    function as its role)."""
    if isinstance(document, str):
        document = json.loads(document)
    for statement in (document or {}).get("Statement", []):
        actions = _values(statement.get("Action", []))
        if statement.get("Effect") != "Allow" or not ({"sts:AssumeRole", "sts:*", "*"} & set(actions)):
            continue
        principal = statement.get("Principal", {})
        if principal == "*":
            principal = {"AWS": "*"}
        aws = _values(principal.get("AWS", []))
        if not aws and principal.get("Service"):
            return True
        if not {"*", caller, f"arn:aws:iam::{caller_account}:root"} & set(aws):
            continue
        if all(
            _condition_holds(operator, key, _values(wanted), caller, caller_account, external_id)
            for operator, conditions in (statement.get("Condition") or {}).items()
            for key, wanted in conditions.items()
        ):
            return True
    return False


def _condition_holds(
    operator: str, key: str, wanted: list[str], caller: str, caller_account: str, external_id: str | None
) -> bool:
    import fnmatch

    if key == "sts:ExternalId" and operator == "StringEquals":
        return external_id in wanted
    if key == "aws:PrincipalArn" and operator in ("ArnEquals", "ArnLike", "StringEquals", "StringLike"):
        return any(fnmatch.fnmatchcase(caller, w) for w in wanted)
    if key == "aws:PrincipalOrgID" and operator == "StringEquals":
        return _organization_of(caller_account) in wanted
    return False


@contextmanager
def aws_fidelity() -> Iterator[None]:
    """While it lasts, moto delivers bus-to-bus events and checks AssumeRole as AWS does (module docstring)."""
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser
    from moto.sts.responses import TokenResponse

    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' not in template:
        template = template.replace('"version": "0", ', '"version": "0", "account": "<account>", ')
    with ExitStack() as stack, warnings.catch_warnings():
        # moto warns that STS's model has no AccessDenied shape; the client gets AccessDenied all the same.
        warnings.filterwarnings("ignore", message=r"Exception\(STSClientError\) with code AccessDenied")
        stack.enter_context(mock.patch.object(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", template))
        stack.enter_context(mock.patch.object(Rule, "send_to_targets", _deliver_bus_to_bus(Rule.send_to_targets)))
        stack.enter_context(
            mock.patch.object(TokenResponse, "assume_role", _assume_role_as_aws(TokenResponse.assume_role))
        )
        yield


# ------------------------------------------------------------------------------------------- sessions
def central_session(region: str = CENTRAL_REGION) -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)


def assumed_session(endpoint: str, role_arn: str, region: str, **assume: Any) -> boto3.session.Session:
    """A session acting as ``role_arn`` (in its account), from the central account's credentials."""
    sts = central_session(region).client("sts", endpoint_url=endpoint, config=_CLIENT_CONFIG)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="mlwarden-local", **assume)["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


# ------------------------------------------------------------------------------------------- the organization
@dataclass(frozen=True)
class Member:
    name: str
    account: str
    ou: str


@dataclass
class LocalOrganization:
    endpoint: str
    org_id: str
    root_id: str
    members: tuple[Member, ...]
    regions: tuple[str, ...] = REGIONS
    central_account: str = CENTRAL_ACCOUNT
    central_region: str = CENTRAL_REGION
    _sessions: dict[tuple[str, str], boto3.session.Session] = field(default_factory=dict)
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def member(self, name_or_account: str) -> Member:
        for m in self.members:
            if name_or_account in (m.name, m.account):
                return m
        raise KeyError(name_or_account)

    def client(self, account: str, service: str, region: str | None = None) -> Any:
        """A client acting in ``account`` (central: its own credentials; member: its admin role)."""
        region = region or self.central_region
        key = (account, service, region)
        if key not in self._clients:
            if account == self.central_account:
                session = central_session(region)
            else:
                if (account, region) not in self._sessions:
                    role = org.role_arn("aws", account, ADMIN_ROLE)
                    self._sessions[(account, region)] = assumed_session(self.endpoint, role, region)
                session = self._sessions[(account, region)]
            self._clients[key] = session.client(  # type: ignore[call-overload]  # service name is data
                service, endpoint_url=self.endpoint, config=_CLIENT_CONFIG
            )
        return self._clients[key]

    def accounts_in(self, ou_ids: list[str] | tuple[str, ...]) -> list[Member]:
        """The member accounts under these OUs (or the root), nested OUs included, as a service-managed StackSet
        finds them (never the management account: StackSets do not deploy there)."""
        orgs = self.client(self.central_account, "organizations")
        found: list[str] = []
        for ou in ou_ids:
            found += [a["Id"] for a in orgs.list_accounts_for_parent(ParentId=ou)["Accounts"]]
            for child in orgs.list_organizational_units_for_parent(ParentId=ou)["OrganizationalUnits"]:
                found += [m.account for m in self.accounts_in([child["Id"]])]
        return [m for m in self.members if m.account in found]


def create_local_organization(
    endpoint: str, members: tuple[tuple[str, str, str], ...] = MEMBERS, regions: tuple[str, ...] = REGIONS
) -> LocalOrganization:
    """In the central account (the management account): the organization, its OUs, the member accounts (moto,
    like Organizations, gives each its ``OrganizationAccountAccessRole``), each account moved to its OU."""
    orgs = central_session().client("organizations", endpoint_url=endpoint, config=_CLIENT_CONFIG)
    ou_ids = tuple(dict.fromkeys(ou for _, _, ou in members))
    with pinned_ids(ou_ids=ou_ids, account_ids=tuple(account for _, account, _ in members)):
        organization = orgs.create_organization(FeatureSet="ALL")["Organization"]
        root_id = orgs.list_roots()["Roots"][0]["Id"]
        names = {ou: ou.rsplit("-", 1)[-1] for ou in ou_ids}
        for ou in ou_ids:
            orgs.create_organizational_unit(ParentId=root_id, Name=names[ou])
        for name, _, ou in members:
            status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
            orgs.move_account(AccountId=status["AccountId"], SourceParentId=root_id, DestinationParentId=ou)
    return LocalOrganization(
        endpoint=endpoint,
        org_id=organization["Id"],
        root_id=root_id,
        members=tuple(Member(name, account, ou) for name, account, ou in members),
        regions=regions,
    )


# ------------------------------------------------------------------------------------------- templates
class TemplateError(ValueError):
    """The member template uses something the local deployment cannot deploy (never skipped silently)."""


class Resolver:
    """CloudFormation's intrinsics, as the member template uses them, for one account and Region."""

    def __init__(
        self, template: Mapping[str, Any], *, account: str, region: str, parameters: Mapping[str, str]
    ) -> None:
        self.template = template
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "StackSet-mlwarden-member",
            "AWS::NoValue": None,
        }
        declared = template.get("Parameters", {})
        self.parameters: dict[str, Any] = {k: v.get("Default") for k, v in declared.items()}
        self.parameters.update(parameters)
        missing = [k for k, v in self.parameters.items() if v is None]
        if missing:
            raise TemplateError(f"member template parameters without a value: {', '.join(missing)}")
        self.physical: dict[str, dict[str, str]] = {}  # logical id -> {"Ref": ..., "Arn": ...}
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def value(self, node: Any) -> Any:  # noqa: C901, PLR0911, PLR0912  (one branch per intrinsic)
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                if arg in self.pseudo:
                    return self.pseudo[arg]
                if arg in self.parameters:
                    return self.parameters[arg]
                if arg in self.physical:
                    return self.physical[arg]["Ref"]
                raise TemplateError(f"Ref {arg}: not deployed (yet)")
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                try:
                    return self.physical[logical][attribute]
                except KeyError:
                    raise TemplateError(f"Fn::GetAtt {logical}.{attribute}: not deployed (yet)") from None
            if key == "Fn::Join":
                sep, parts = arg
                return str(sep).join(str(p) for p in self.value(parts))
            if key == "Fn::Sub":
                text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names = {k: self.value(v) for k, v in names.items()}

                def sub(match: Any) -> str:
                    ref = match.group(1)
                    if ref in names:
                        return str(names[ref])
                    if "." in ref:
                        return str(self.value({"Fn::GetAtt": ref.split(".", 1)}))
                    return str(self.value({"Ref": ref}))

                import re

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if key == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = self.value(arg)
                return a == b
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.value(text)).split(sep)
            if key == "Fn::ToJsonString":
                return json.dumps(self.value(arg))
            if key.startswith("Fn::"):
                raise TemplateError(f"{key}: not supported by the local deployment")
        return {k: self.value(v) for k, v in node.items()}


@dataclass
class MemberStack:
    """What the member template made in one account and Region."""

    account: str
    region: str
    rules: list[dict[str, Any]] = field(default_factory=list)  # name, pattern, targets
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)  # role name -> trust, policies


SUPPORTED = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::Events::Rule")
IGNORED = ("AWS::CDK::Metadata",)


def deploy_member_template(
    organization: LocalOrganization,
    template: Mapping[str, Any],
    account: str,
    region: str,
    parameters: Mapping[str, str] | None = None,
) -> MemberStack:
    """Create the member template's resources in ``account``/``region`` with that account's credentials, in
    dependency order (roles, then their policies, then the rules that use the roles)."""
    resolver = Resolver(template, account=account, region=region, parameters=parameters or {})
    stack = MemberStack(account, region)
    resources: dict[str, Any] = dict(template.get("Resources", {}))
    unknown = sorted({r["Type"] for r in resources.values() if r["Type"] not in SUPPORTED + IGNORED})
    if unknown:
        raise TemplateError(f"member template resource types the local deployment cannot create: {unknown}")
    live = {
        logical: resource
        for logical, resource in resources.items()
        if resource["Type"] in SUPPORTED and ("Condition" not in resource or resolver.condition(resource["Condition"]))
    }
    iam = organization.client(account, "iam", region)
    events = organization.client(account, "events", region)
    order = {t: i for i, t in enumerate(("AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"))}
    for logical, resource in sorted(live.items(), key=lambda kv: order.get(kv[1]["Type"], len(order))):
        props = resolver.value(resource.get("Properties", {}))
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            name = props.get("RoleName") or f"member-{logical}"[:64]
            trust = props["AssumeRolePolicyDocument"]
            iam.create_role(RoleName=name, Path=props.get("Path", "/"), AssumeRolePolicyDocument=json.dumps(trust))
            policies = {}
            for policy in props.get("Policies", []):
                iam.put_role_policy(
                    RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
                )
                policies[policy["PolicyName"]] = policy["PolicyDocument"]
            for arn in props.get("ManagedPolicyArns", []):
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
            arn = f"arn:aws:iam::{account}:role{props.get('Path', '/')}{name}"
            resolver.physical[logical] = {"Ref": name, "Arn": arn}
            stack.roles[name] = {"trust": trust, "policies": policies, "arn": arn}
        elif kind == "AWS::IAM::ManagedPolicy":
            name = props.get("ManagedPolicyName") or f"member-{logical}"[:128]
            arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(props["PolicyDocument"]))["Policy"][
                "Arn"
            ]
            for role in props.get("Roles", []):
                iam.attach_role_policy(RoleName=role, PolicyArn=arn)
                stack.roles[role]["policies"][name] = props["PolicyDocument"]
            resolver.physical[logical] = {"Ref": arn}
        elif kind == "AWS::IAM::Policy":
            for role in props.get("Roles", []):
                iam.put_role_policy(
                    RoleName=role, PolicyName=props["PolicyName"], PolicyDocument=json.dumps(props["PolicyDocument"])
                )
                stack.roles[role]["policies"][props["PolicyName"]] = props["PolicyDocument"]
            resolver.physical[logical] = {"Ref": props["PolicyName"]}
    for logical, resource in live.items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        props = resolver.value(resource.get("Properties", {}))
        name = props.get("Name") or logical[:64]
        bus = props.get("EventBusName", "default")
        pattern = props["EventPattern"]
        events.put_rule(
            Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State=props.get("State", "ENABLED")
        )
        targets = [{k: t[k] for k in ("Id", "Arn", "RoleArn") if k in t} for t in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        resolver.physical[logical] = {"Ref": name, "Arn": f"arn:aws:events:{region}:{account}:rule/{name}"}
        stack.rules.append({"name": name, "bus": bus, "pattern": pattern, "targets": targets})
    return stack


def stackset_of(central_template: Mapping[str, Any]) -> dict[str, Any]:
    """The member StackSet in the central template: its targets (OUs, Regions) and the parameters it passes."""
    found = [
        props
        for r in central_template.get("Resources", {}).values()
        if r.get("Type") == "AWS::CloudFormation::StackSet"
        for props in [r.get("Properties", {})]
    ]
    if len(found) != 1:
        raise TemplateError(f"the central template has {len(found)} StackSets; expected the member StackSet")
    props = found[0]
    groups = props.get("StackInstancesGroup", [])
    ous = [ou for g in groups for ou in g.get("DeploymentTargets", {}).get("OrganizationalUnitIds", [])]
    regions = list(dict.fromkeys(r for g in groups for r in g.get("Regions", [])))
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in props.get("Parameters", [])}
    body = props.get("TemplateBody")
    return {
        "ous": list(dict.fromkeys(ous)),
        "regions": regions,
        "parameters": parameters,
        "template": json.loads(body) if isinstance(body, str) else body,
        "properties": props,
    }


def roll_out(
    organization: LocalOrganization,
    member_template: Mapping[str, Any],
    *,
    ous: list[str],
    regions: list[str],
    parameters: Mapping[str, str] | None = None,
    skip: Callable[[str, str], bool] = lambda account, region: False,
) -> list[MemberStack]:
    """What the service-managed StackSet does: one stack instance per account under ``ous`` × ``regions``."""
    stacks = []
    for member, region in itertools.product(organization.accounts_in(ous), regions):
        if not skip(member.account, region):
            stacks.append(deploy_member_template(organization, member_template, member.account, region, parameters))
    return stacks


# ------------------------------------------------------------------------------------------- the whole organization
@dataclass(frozen=True)
class OrgTemplates:
    """What ``cdk synth`` makes with an organization block: the central stack (flat, as ``LocalDeployment``
    deploys it) and the member template the StackSet rolls out (the file the StackSet's asset uploads)."""

    central: dict[str, Any]
    member: dict[str, Any]


def synthesize_org(
    context_overrides: Mapping[str, Any] | None = None, organization_block: Mapping[str, Any] = ORGANIZATION_BLOCK
) -> OrgTemplates:
    from pathlib import Path

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from mlwarden_cdk.app import build_app, flat_template, merge
    from mlwarden_cdk.organization import MEMBER_TEMPLATE_FILE

    overrides = merge(dict(context_overrides or {}), {"mlwarden": {org.CONTEXT_BLOCK: dict(organization_block)}})
    app, stack = build_app(context_overrides=overrides, nag=False)
    assembly = app.synth()
    central: dict[str, Any] = flat_template(stack, assembly.directory)
    member = json.loads((Path(assembly.directory) / MEMBER_TEMPLATE_FILE).read_text())
    return OrgTemplates(central=central, member=member)


class CentralDeployment(LocalDeployment):
    """The central template in the central account, each rule function running as its own role (the role
    ``org.central_role_name`` names, which the member roles' trust policies admit), as Lambda runs it."""

    # Each function's clients carry its own role's credentials: one shared factory would act as the first
    # function's role for all (a member role then refuses every other rule's function, as AWS would).
    share_function_clients = False

    def __init__(self, template: dict[str, Any], endpoint: str, *, quiet: bool = False) -> None:
        super().__init__(template, endpoint, quiet=quiet)
        self.function_roles: dict[str, str] = {}  # function logical id -> role ARN
        self._credentials: dict[str, dict[str, str]] = {}

    def deploy(self) -> CentralDeployment:
        super().deploy()
        iam = self.client("iam")
        for logical_id in self.functions:
            role_ref = self.resources[logical_id]["Properties"]["Role"]
            role = self.resources[role_ref["Fn::GetAtt"][0]]["Properties"]
            name = role.get("RoleName")
            if not isinstance(name, str):
                raise TemplateError(f"{logical_id}: its role has no fixed name (organization mode names it)")
            trust = self.resolve_all(role["AssumeRolePolicyDocument"])
            self.function_roles[logical_id] = iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(trust)
            )["Role"]["Arn"]
        return self

    def credentials_of(self, function: LocalFunction) -> dict[str, str]:
        """The function's role credentials (sts:AssumeRole as Lambda does it, once per function)."""
        if function.logical_id not in self._credentials:
            sts = self.client("sts")
            answer = sts.assume_role(RoleArn=self.function_roles[function.logical_id], RoleSessionName=function.rule_id)
            creds = answer["Credentials"]
            self._credentials[function.logical_id] = {
                "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": creds["SessionToken"],
            }
        return self._credentials[function.logical_id]

    @contextmanager
    def function_environment(self, function: LocalFunction) -> Iterator[None]:
        with super().function_environment(function):
            if function.logical_id in self.function_roles:
                os.environ.update(self.credentials_of(function))
            yield


class LocalOrgDeployment:
    """The central template in the central account, the member template in each member account × Region the
    StackSet targets; events are emitted on member default buses and reach the central functions through the
    deployed forwarding rules."""

    def __init__(self, templates: OrgTemplates, organization: LocalOrganization, *, quiet: bool = False) -> None:
        self.templates = templates
        self.organization = organization
        self.central = CentralDeployment(templates.central, organization.endpoint, quiet=quiet)
        self.members: list[MemberStack] = []
        self.stackset: dict[str, Any] = {}

    def deploy(self, skip: Callable[[str, str], bool] = lambda account, region: False) -> LocalOrgDeployment:
        """``skip(account, region)``: stack instances the StackSet has not (yet) made there."""
        self.central.deploy()
        self.stackset = stackset_of(self.templates.central)
        parameters = {k: str(self.central.resolve(v)) for k, v in self.stackset["parameters"].items()}
        self.members = roll_out(
            self.organization,
            self.templates.member,
            ous=self.stackset["ous"],
            regions=self.stackset["regions"],
            parameters=parameters,
            skip=skip,
        )
        return self

    def emit(self, account: str, region: str, *entries: Mapping[str, Any]) -> None:
        """Put events on ``account``'s default bus in ``region``, as AWS services there do."""
        events = self.organization.client(account, "events", region)
        batch = [
            {
                "Source": e["source"],
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
                "Resources": list(e.get("resources", [])),
            }
            for e in entries
        ]
        result = events.put_events(Entries=batch)
        if result.get("FailedEntryCount"):
            raise RuntimeError(f"put_events in {account}/{region}: {result['Entries']}")

    def deliver(self) -> list[tuple[str, dict[str, Any]]]:
        return self.central.deliver()

    def alerts(self) -> list[dict[str, Any]]:
        return self.central.alerts()
