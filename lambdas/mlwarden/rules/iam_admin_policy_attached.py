"""No user, role or group may hold full administrator access (IAM.1).

"Administrator access" is the AWS managed ``AdministratorAccess`` policy, or any ``Effect: Allow`` policy
statement that covers every action on every resource, granted as an attached managed policy or an inline
policy. Patterns are read with IAM wildcard semantics (``*`` any run, ``?`` one character, case-insensitive):

- every action: an ``Action`` pattern made only of wildcards, at most once split by ``:`` with a ``*`` on each
  side (``*``, ``*:*``, ``?*``, ``**``), or a ``NotAction`` (an Allow with NotAction grants every action but
  the few it names: admin-equivalent, unless it excludes every action itself or every IAM action — without
  IAM no grant can be widened, which is why AWS's PowerUserAccess, NotAction ``iam:*``, is not admin);
- every resource: a ``Resource`` pattern that matches every ARN (``*``, ``arn:*``, ``arn:*:*``, ``*:*``,
  ``arn:aws:*``, ``arn:aws:*:*:*:*``: wildcard-only segments after ``arn`` and the partition), or any
  ``NotResource`` (every resource but the few it names), unless it excludes every resource itself.

Conditions are not judged (a condition can always be widened later; IAM.1 ignores them too). Principals listed in
cdk.json ``adminAllowList`` (break-glass ARNs) and AWS service-linked roles are left alone. A service-linked
role is told by its path ``/aws-service-role/``, never by its name: anyone can create an ordinary role named
``AWSServiceRoleFor…``. Where the path is unknown (an event names the role without it) and the name looks
service-linked, the role is read (GetRole) to learn it.

What an event names is what is judged, re-read live:

- ``Attach{User,Role,Group}Policy``: that managed policy on that principal (still attached? default
  version grants ``*`` on ``*``?);
- ``Put{User,Role,Group}Policy``: that inline policy;
- ``CreatePolicyVersion`` with ``setAsDefault`` / ``SetDefaultPolicyVersion``: the policy (``AWS::IAM::Policy``)
  and every principal it is attached to. The engine asks a rule for an event's resources before it has
  clients, so the principals cannot be separate resources here: they are judged and fixed together under
  the policy, and the alert lists them;
- Config items, Security Hub findings and sweeps: every policy of the principal.

Remediation (remediate mode) detaches the managed policy, or deletes the inline policy: deleting an inline
admin policy removes a permission, not data, and its document is kept in the alert's ``before`` so it
can be restored.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code
from mlwarden.core.events import obj
from mlwarden.core.model import (
    COMPLIANT,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    Evaluation,
    RemediationResult,
    ResourceGone,
    ResourceRef,
)
from mlwarden.core.spec import CloudTrailTrigger, ConfigTrigger, Option, Permissions, Rule, RuleSpec

IAM_REGION = "us-east-1"  # IAM is global; its endpoint lives in us-east-1
TYPES = {"user": "AWS::IAM::User", "role": "AWS::IAM::Role", "group": "AWS::IAM::Group"}
KINDS = {v: k for k, v in TYPES.items()}
POLICY_TYPE = "AWS::IAM::Policy"
SERVICE_ROLE_PATH = "/aws-service-role/"
SERVICE_ROLE_PREFIX = "AWSServiceRoleFor"
WILDCARDS = frozenset("*?")
ATTACH_EVENTS = {"AttachUserPolicy": "user", "AttachRolePolicy": "role", "AttachGroupPolicy": "group"}
PUT_EVENTS = {"PutUserPolicy": "user", "PutRolePolicy": "role", "PutGroupPolicy": "group"}
POLICY_EVENTS = ("CreatePolicyVersion", "SetDefaultPolicyVersion")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _cap(kind: str) -> str:
    return kind.capitalize()


# ---------------------------------------------------------------------------------------- pure judgement
def policy_document(raw: Any) -> dict[str, Any]:
    """IAM returns documents URL-encoded; boto3 usually decodes them already."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        try:
            return obj(json.loads(unquote(raw)))
        except json.JSONDecodeError:
            return {}
    return {}


def _wild_segment(segment: str) -> bool:
    """A segment made only of '*' and '?' with at least one '*': it matches any run of one or more characters
    (the '?' only set a minimum length that no real service, action name or ARN segment falls under)."""
    return bool(segment) and set(segment) <= WILDCARDS and "*" in segment


def action_matches_everything(pattern: Any) -> bool:
    """True when an Action pattern matches every IAM action ('service:Name'): '*', '**', '?*', '*:*', '?*:*'."""
    segments = str(pattern).strip().lower().split(":")
    return len(segments) <= 2 and all(_wild_segment(s) for s in segments)


def resource_matches_everything(pattern: Any) -> bool:
    """True when a Resource pattern matches every ARN ('arn:partition:service:region:account:resource'):
    '*', '*:*', 'arn:*', 'arn:*:*', 'arn:aws:*', 'arn:*:*:*:*:*', 'arn:aws:*:*:*:*' — wildcard-only segments
    after an optional literal 'arn' and partition, no more segments than an ARN has (a '*' spans colons)."""
    segments = str(pattern).strip().lower().split(":")
    rest = segments
    if segments[0] == "arn":
        rest = segments[1:]
        if rest and rest[0].startswith("aws") and not set(rest[0]) & WILDCARDS:
            rest = rest[1:]  # a literal partition: every ARN of that partition, i.e. of the account
    return bool(rest) and len(segments) <= 6 and all(_wild_segment(s) for s in rest)


def excludes_all_of_iam(pattern: Any) -> bool:
    """True when a NotAction pattern names every IAM action ('iam:*', 'IAM:?*', 'i?m:*')."""
    segments = str(pattern).strip().lower().split(":")
    return len(segments) == 2 and fnmatchcase("iam", segments[0]) and _wild_segment(segments[1])


def _covers_everything(statement: dict[str, Any], key: str, matches: Any) -> bool:
    """Action/Resource: some pattern matches everything. NotAction/NotResource: everything but what is named,
    which counts as everything unless a named pattern itself matches everything (then nothing is granted) —
    or, for NotAction, names every IAM action (the rest cannot be turned into administrator access)."""
    if key in statement:
        return any(matches(p) for p in _as_list(statement.get(key)))
    if f"Not{key}" in statement:
        excluded = _as_list(statement.get(f"Not{key}"))
        if key == "Action" and any(excludes_all_of_iam(p) for p in excluded):
            return False
        return not any(matches(p) for p in excluded)
    return False


def is_admin_statement(statement: Any) -> bool:
    statement = obj(statement)
    return (
        str(statement.get("Effect", "")) == "Allow"
        and _covers_everything(statement, "Action", action_matches_everything)
        and _covers_everything(statement, "Resource", resource_matches_everything)
    )


def admin_statements(document: Any) -> list[str]:
    """Statements of the document that allow every action on every resource (described for the alert)."""
    return [
        str(obj(statement).get("Sid") or f"statement {index + 1}")
        for index, statement in enumerate(_as_list(policy_document(document).get("Statement")))
        if is_admin_statement(statement)
    ]


def is_aws_administrator_access(policy_arn: str) -> bool:
    parts = policy_arn.split(":", 5)
    return len(parts) == 6 and parts[4] == "aws" and parts[5] == "policy/AdministratorAccess"


def arn_identity(arn: str) -> tuple[str, str, str] | None:
    """(account, kind, name) of an IAM user/role/group/policy ARN; paths are dropped (names are unique)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or "/" not in parts[5]:
        return None
    kind, rest = parts[5].split("/", 1)
    return parts[4], kind, rest.rsplit("/", 1)[-1]


def allow_listed(ctx: RuleContext, account: str, kind: str, name: str) -> bool:
    for arn in ctx.settings.option("adminAllowList", []) or []:
        identity = arn_identity(str(arn))
        if identity and identity[1] == kind and identity[2] == name and identity[0] in (account, "", "*"):
            return True
    return False


def _path_of(arn_or_path: str) -> str:
    """'/aws-service-role/x/' from a role ARN ('arn:…:role/aws-service-role/x/Name') or a path itself."""
    if not arn_or_path.startswith("arn:"):
        return arn_or_path
    resource = arn_or_path.split(":", 5)[-1]
    return "/" + resource.split("/", 1)[1].rsplit("/", 1)[0] + "/" if resource.count("/") > 1 else "/"


def is_service_linked(kind: str, arn_or_path: str) -> bool:
    """Service-linked roles live under the path /aws-service-role/ (their name alone proves nothing; the path
    must start with it, as IAM reserves only that prefix)."""
    return kind == "role" and _path_of(arn_or_path).startswith(SERVICE_ROLE_PATH)


def may_be_service_linked(kind: str, name: str, arn: str) -> bool:
    """The ARN carries no service-role path but the name looks service-linked: only GetRole can tell."""
    return kind == "role" and name.startswith(SERVICE_ROLE_PREFIX) and not is_service_linked(kind, arn)


def describe_grant(grant: dict[str, Any]) -> str:
    if grant["kind"] == "managed":
        if is_aws_administrator_access(grant["policy_arn"]):
            return "AWS managed policy AdministratorAccess attached"
        return f"managed policy {grant['policy_arn']} allows * on * ({', '.join(grant['statements'])})"
    return f"inline policy {grant['policy_name']} allows * on * ({', '.join(grant['statements'])})"


def principal_ref(
    kind: str, name: str, region: str, account: str, arn: str = "", grant: dict[str, Any] | None = None
) -> ResourceRef:
    arn = arn or (f"arn:aws:iam::{account}:{kind}/{name}" if account else "")
    return ResourceRef(
        TYPES[kind], name, region, account, arn, {"kind": kind, "grant": grant} if grant else {"kind": kind}
    )


def policy_ref(policy_arn: str, region: str, account: str) -> ResourceRef:
    name = policy_arn.rsplit("/", 1)[-1]
    return ResourceRef(POLICY_TYPE, name, region, account, policy_arn, {"policy_arn": policy_arn})


class IamAdminPolicyAttached(Rule):
    spec = RuleSpec(
        id="iam-admin-policy-attached",
        title="No user, role or group may hold full administrator access",
        severity="CRITICAL",
        resource_type="AWS::IAM::User",
        controls=("IAM.1",),
        permissions=Permissions(
            detect=(
                "iam:ListAttachedUserPolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListAttachedGroupPolicies",
                "iam:ListUserPolicies",
                "iam:ListRolePolicies",
                "iam:ListGroupPolicies",
                "iam:GetUserPolicy",
                "iam:GetRolePolicy",
                "iam:GetGroupPolicy",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:ListEntitiesForPolicy",
                "iam:GetRole",  # the path of a role named AWSServiceRoleFor… (is it really service-linked?)
                "iam:ListUserTags",
                "iam:ListRoleTags",
                "iam:ListPolicyTags",
                "iam:ListUsers",
                "iam:ListRoles",
                "iam:ListGroups",
            ),
            remediate=(
                "iam:DetachUserPolicy",
                "iam:DetachRolePolicy",
                "iam:DetachGroupPolicy",
                "iam:DeleteUserPolicy",
                "iam:DeleteRolePolicy",
                "iam:DeleteGroupPolicy",
            ),
            resources=(
                "arn:{partition}:iam::{account}:user/*",
                "arn:{partition}:iam::{account}:role/*",
                "arn:{partition}:iam::{account}:group/*",
                "arn:{partition}:iam::{account}:policy/*",
                # AWS managed policies attached to principals are read too (GetPolicy/GetPolicyVersion).
                "arn:{partition}:iam::aws:policy/*",
            ),
            unscoped=("iam:ListUsers", "iam:ListRoles", "iam:ListGroups"),
        ),
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.iam",
                event_source="iam.amazonaws.com",
                event_names=(*ATTACH_EVENTS, *PUT_EVENTS, *POLICY_EVENTS),
            ),
        ),
        config=ConfigTrigger(resource_types=(*TYPES.values(), POLICY_TYPE)),
        # IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS (IAM.1's Config rule) reports policies by their id
        # (ANPA…), which IAM cannot look up without listing every policy; its Security Hub IAM.1 findings,
        # which carry the policy ARN, are routed here instead.
        options=(
            Option(
                key="adminAllowList",
                default=[],
                help="principal ARNs allowed to hold administrator access, e.g. break-glass roles "
                "(iam-admin-policy-attached)",
            ),
        ),
        remediation_summary="detach the admin managed policy / delete the admin inline policy from the principal "
        "(for a new default policy version: from every principal it is attached to)",
    )

    # ------------------------------------------------------------------------------------------ refs
    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        detail, params = events.detail(event), events.request_parameters(event)
        name, region, account = (
            str(detail.get("eventName", "")),
            events.region(event, IAM_REGION),
            events.account(event),
        )
        if name in ATTACH_EVENTS or name in PUT_EVENTS:
            kind = ATTACH_EVENTS.get(name) or PUT_EVENTS[name]
            principal = params.get(f"{kind}Name")
            if name in ATTACH_EVENTS:
                grant = {"kind": "managed", "policy_arn": params.get("policyArn")}
                target = grant["policy_arn"]
            else:
                grant = {"kind": "inline", "policy_name": params.get("policyName")}
                target = grant["policy_name"]
            if not isinstance(principal, str) or not principal or not isinstance(target, str) or not target:
                return []
            return [principal_ref(kind, principal, region, account, grant=grant)]
        if name in POLICY_EVENTS:
            policy_arn = params.get("policyArn")
            # A new version that is not made the default grants nothing yet.
            if name == "CreatePolicyVersion" and str(params.get("setAsDefault")).lower() != "true":
                return []
            if isinstance(policy_arn, str) and policy_arn:
                return [policy_ref(policy_arn, region, account)]
        return []

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        resource_type, name = str(item.get("resourceType", "")), item.get("resourceName")
        region, account = str(item.get("awsRegion") or IAM_REGION), str(item.get("awsAccountId", ""))
        arn = str(item.get("ARN") or item.get("arn") or "")
        if not name:
            return None
        if resource_type == POLICY_TYPE:
            return policy_ref(arn or f"arn:aws:iam::{account}:policy/{name}", region, account)
        if resource_type in KINDS:
            return principal_ref(KINDS[resource_type], str(name), region, account, arn)
        return None

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        identity = arn_identity(arn)
        if identity is None:
            return None
        owner, kind, name = identity
        if kind == "policy":
            return policy_ref(arn, region, owner or account)
        if kind in TYPES:
            return principal_ref(kind, name, region, owner or account, arn)
        return None

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        iam = ctx.client("iam", IAM_REGION)
        refs = []
        for kind, operation, key in (
            ("user", "list_users", "Users"),
            ("role", "list_roles", "Roles"),
            ("group", "list_groups", "Groups"),
        ):
            for page in iam.get_paginator(operation).paginate():
                for entity in page.get(key, []):
                    name, arn = entity[f"{_cap(kind)}Name"], str(entity.get("Arn", ""))
                    if not is_service_linked(kind, arn):
                        refs.append(principal_ref(kind, name, region, arn.split(":")[4] if arn else "", arn))
        return refs

    # ------------------------------------------------------------------------------------ live state
    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        iam = ctx.client("iam", IAM_REGION, ref.account)
        if ref.resource_type == POLICY_TYPE:
            return self._fetch_policy(iam, ref, ctx)
        kind, name = ref.context["kind"], ref.resource_id
        path = ref.arn
        if may_be_service_linked(kind, name, ref.arn):
            try:
                path = str(iam.get_role(RoleName=name)["Role"].get("Path", ""))
            except ClientError as exc:
                if error_code(exc) == "NoSuchEntity":
                    raise ResourceGone(f"{kind} {name}") from exc
                raise
        if is_service_linked(kind, path):
            return {"excluded": "AWS service-linked role (its policies are managed by AWS)"}
        if allow_listed(ctx, ref.account, kind, name):
            return {"excluded": "listed in adminAllowList (break-glass)"}
        grant = ref.context.get("grant")
        try:
            if grant and grant["kind"] == "managed":
                attached = self._attached(iam, kind, name)
                if grant["policy_arn"] not in attached:
                    return {"grants": [], "scope": f"managed policy {grant['policy_arn']}", "detached": True}
                return {
                    "grants": [self._managed(iam, grant["policy_arn"])],
                    "scope": f"managed policy {grant['policy_arn']}",
                }
            if grant:
                return {
                    "grants": [self._inline(iam, kind, name, grant["policy_name"])],
                    "scope": f"inline policy {grant['policy_name']}",
                }
            grants = [self._managed(iam, arn) for arn in self._attached(iam, kind, name)]
            for page in iam.get_paginator(f"list_{kind}_policies").paginate(**{f"{_cap(kind)}Name": name}):
                grants += [self._inline(iam, kind, name, policy) for policy in page.get("PolicyNames", [])]
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                raise ResourceGone(f"{kind} {name} or the policy named") from exc
            raise
        return {"grants": grants, "scope": "every policy"}

    @staticmethod
    def _attached(iam: Any, kind: str, name: str) -> list[str]:
        paginator = iam.get_paginator(f"list_attached_{kind}_policies")
        return [
            p["PolicyArn"]
            for page in paginator.paginate(**{f"{_cap(kind)}Name": name})
            for p in page.get("AttachedPolicies", [])
        ]

    @staticmethod
    def _default_document(iam: Any, policy_arn: str) -> tuple[str, dict[str, Any]]:
        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
        return version, policy_document(document)

    def _managed(self, iam: Any, policy_arn: str) -> dict[str, Any]:
        grant: dict[str, Any] = {"kind": "managed", "policy_arn": policy_arn}
        if is_aws_administrator_access(policy_arn):
            return {**grant, "admin": True, "statements": ["AdministratorAccess"]}
        version, document = self._default_document(iam, policy_arn)
        statements = admin_statements(document)
        return {**grant, "admin": bool(statements), "statements": statements, "version": version}

    @staticmethod
    def _inline(iam: Any, kind: str, name: str, policy_name: str) -> dict[str, Any]:
        answer = getattr(iam, f"get_{kind}_policy")(**{f"{_cap(kind)}Name": name, "PolicyName": policy_name})
        document = policy_document(answer.get("PolicyDocument"))
        statements = admin_statements(document)
        grant = {"kind": "inline", "policy_name": policy_name, "admin": bool(statements), "statements": statements}
        if statements:
            grant["document"] = document  # kept for the alert, so a human can restore it
        return grant

    def _fetch_policy(self, iam: Any, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        policy_arn = ref.context.get("policy_arn") or ref.arn
        try:
            version, document = self._default_document(iam, policy_arn)
            statements = admin_statements(document) or (
                ["AdministratorAccess"] if is_aws_administrator_access(policy_arn) else []
            )
            state: dict[str, Any] = {
                "policy_arn": policy_arn,
                "version": version,
                "statements": statements,
                "principals": [],
            }
            if not statements:
                return state
            excluded = []
            paginator = iam.get_paginator("list_entities_for_policy")
            entities = [(k, e) for page in paginator.paginate(PolicyArn=policy_arn) for k, e in self._entities(page)]
            # ListEntitiesForPolicy gives no path: service-linked roles are the roles listed under their path
            # (never told by name). Asked only when a role holds the policy.
            service_linked: set[str] = set()
            if any(kind == "role" for kind, _ in entities):
                for page in paginator.paginate(PolicyArn=policy_arn, EntityFilter="Role", PathPrefix=SERVICE_ROLE_PATH):
                    service_linked |= {e["RoleName"] for e in page.get("PolicyRoles", [])}
            for kind, entity in entities:
                name = entity[f"{_cap(kind)}Name"]
                linked = kind == "role" and name in service_linked
                if linked or allow_listed(ctx, ref.account, kind, name):
                    excluded.append(f"{kind} {name}")
                else:
                    state["principals"].append({"kind": kind, "name": name})
            state["excluded"] = excluded
            return state
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                raise ResourceGone(f"policy {policy_arn}") from exc
            raise

    @staticmethod
    def _entities(page: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [
            (kind, entity)
            for kind, key in (("user", "PolicyUsers"), ("role", "PolicyRoles"), ("group", "PolicyGroups"))
            for entity in page.get(key, [])
        ]

    # -------------------------------------------------------------------------------------- verdict
    def evaluate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> Evaluation:
        if ref.resource_type == POLICY_TYPE:
            return self._evaluate_policy(ref, state)
        kind, name = ref.context["kind"], ref.resource_id
        who = f"{kind} {name}"
        if state.get("excluded"):
            return Evaluation(NOT_APPLICABLE, f"{who}: {state['excluded']}")
        if state.get("detached"):
            return Evaluation(COMPLIANT, f"{state['scope']} is no longer attached to {who}")
        admin = [g for g in state["grants"] if g["admin"]]
        if not admin:
            return Evaluation(COMPLIANT, f"{who}: {state['scope']} grants no administrator access")
        fixes = [
            f"detach {g['policy_arn']}" if g["kind"] == "managed" else f"delete inline policy {g['policy_name']}"
            for g in admin
        ]
        return Evaluation(
            NON_COMPLIANT,
            f"{who} has administrator access: " + "; ".join(describe_grant(g) for g in admin),
            f"{' and '.join(fixes)} from {who} (removes a permission, no data; the inline document is kept in "
            "'before'), then grant least-privilege permissions or add the principal to adminAllowList",
            {"admin_grants": admin},
        )

    @staticmethod
    def _evaluate_policy(ref: ResourceRef, state: dict[str, Any]) -> Evaluation:
        policy, version = state["policy_arn"], state["version"]
        if not state["statements"]:
            return Evaluation(COMPLIANT, f"policy {policy} (default version {version}) does not allow * on *")
        principals = ", ".join(f"{p['kind']} {p['name']}" for p in state["principals"])
        if not principals:
            return Evaluation(
                COMPLIANT,
                f"policy {policy} (default version {version}) allows * on * but is attached to no principal "
                "outside adminAllowList",
            )
        return Evaluation(
            NON_COMPLIANT,
            f"policy {policy} (default version {version}) allows * on * and is attached to {principals}",
            f"detach {policy} from {principals} (removes a permission, no data), or make a least-privilege "
            "version the default",
            {"statements": state["statements"], "principals": state["principals"], "version": version},
        )

    # ---------------------------------------------------------------------------------- remediation
    def remediate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> RemediationResult:
        current = self.fetch(ref, ctx)
        if self.evaluate(ref, current, ctx).compliance != NON_COMPLIANT:
            return RemediationResult("already compliant: nothing changed", {"removed": []})
        iam = ctx.client("iam", IAM_REGION, ref.account)
        removed: list[str] = []
        try:
            if ref.resource_type == POLICY_TYPE:
                for p in current["principals"]:
                    kind = p["kind"]
                    getattr(iam, f"detach_{kind}_policy")(
                        **{f"{_cap(kind)}Name": p["name"], "PolicyArn": current["policy_arn"]}
                    )
                    removed.append(f"detached from {kind} {p['name']}")
                return RemediationResult(f"{current['policy_arn']} " + "; ".join(removed), {"removed": removed})
            kind, name = ref.context["kind"], ref.resource_id
            for grant in (g for g in current["grants"] if g["admin"]):
                if grant["kind"] == "managed":
                    getattr(iam, f"detach_{kind}_policy")(
                        **{f"{_cap(kind)}Name": name, "PolicyArn": grant["policy_arn"]}
                    )
                    removed.append(f"detached {grant['policy_arn']}")
                else:
                    # Deleting an inline policy removes a permission, not data; 'before' keeps its document.
                    getattr(iam, f"delete_{kind}_policy")(
                        **{f"{_cap(kind)}Name": name, "PolicyName": grant["policy_name"]}
                    )
                    removed.append(f"deleted inline policy {grant['policy_name']}")
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                raise ResourceGone(f"{ref.resource_type} {ref.resource_id}") from exc
            raise
        return RemediationResult(f"{'; '.join(removed)} from {kind} {name}", {"removed": removed})

    # ----------------------------------------------------------------------------------- exemptions
    def read_tags(self, ref: ResourceRef, state: Any, ctx: RuleContext) -> dict[str, str] | None:
        iam = ctx.client("iam", IAM_REGION, ref.account)
        try:
            if ref.resource_type == POLICY_TYPE:
                tags = iam.list_policy_tags(PolicyArn=ref.context.get("policy_arn") or ref.arn).get("Tags", [])
            elif ref.context["kind"] == "user":
                tags = iam.list_user_tags(UserName=ref.resource_id).get("Tags", [])
            elif ref.context["kind"] == "role":
                tags = iam.list_role_tags(RoleName=ref.resource_id).get("Tags", [])
            else:
                return None  # IAM groups have no tags
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                raise ResourceGone(f"{ref.resource_type} {ref.resource_id}") from exc
            raise
        return {t["Key"]: t["Value"] for t in tags}

    def console_url(self, ref: ResourceRef) -> str:
        base = "https://us-east-1.console.aws.amazon.com/iam/home#"
        if ref.resource_type == POLICY_TYPE:
            return f"{base}/policies/details/{ref.arn.replace(':', '%3A').replace('/', '%2F')}"
        return f"{base}/{ref.context.get('kind', 'user')}s/details/{ref.resource_id}"


RULE = IamAdminPolicyAttached()
