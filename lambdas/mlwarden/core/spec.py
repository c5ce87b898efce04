"""How a rule declares itself: a frozen spec (data) plus evaluate / remediate (code).

The spec names the rule's resource type(s) (``mlwarden.resources``) and the attributes it judges (``reads``);
from those the ``Rule`` base class finds, lists, reads, tags and links resources, and the spec derives the IAM
read actions, so a rule lists only what its own judgement or fix adds.

The CDK side reads only the spec: EventBridge patterns, the Config rule, IAM actions and the SSM switch
are all derived from it, so no file under ``mlwarden_cdk/`` names a particular rule.
"""

from __future__ import annotations

import abc
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from mlwarden import resources
from mlwarden.core.model import MODE_NOTIFY, MODES, SEVERITIES, Evaluation, RemediationResult, ResourceRef
from mlwarden.resources import ResourceType

if TYPE_CHECKING:
    from mlwarden.core.context import RuleContext


@dataclass(frozen=True)
class CloudTrailTrigger:
    """'AWS API Call via CloudTrail' events for these API calls."""

    source: str  # e.g. "aws.s3"
    event_source: str  # e.g. "s3.amazonaws.com"
    event_names: tuple[str, ...]
    # A failed call cannot change state for most rules: exclude events with an errorCode.
    successful_only: bool = True
    # requestParameters filters in EventBridge's pattern language, where only some calls matter (an
    # AttachRolePolicy of one of a few policies): {"policyArn": [{"suffix": …}]}.
    request: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceEventTrigger:
    """A service's own EventBridge events (state changes), optionally narrowed on detail fields."""

    source: str
    detail_types: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)
    # For findings delivered as service events (Inspector): the detail field naming the resource's account.
    account_field: str | None = None


@dataclass(frozen=True)
class FindingTrigger:
    """Findings from a detector (Macie, Inspector, …) whose type starts with one of the prefixes."""

    source: str
    detail_type: str
    type_prefixes: tuple[str, ...] = ()
    type_field: str = "type"
    # Where the finding names the account of the affected resource (Macie: accountId; Inspector: awsAccountId).
    account_field: str = "accountId"


@dataclass(frozen=True)
class ConfigTrigger:
    """The custom AWS Config rule backing the rule: change-triggered on these types, and periodic."""

    # Empty: the rule's resource types (those AWS Config records).
    resource_types: tuple[str, ...] = ()
    periodic: bool = True


@dataclass(frozen=True)
class SweepTrigger:
    """A periodic sweep of every resource of the rule's types from an EventBridge Scheduler schedule (at the
    cdk.json ``configFrequency``): the backstop for types AWS Config does not record."""

    # The types the sweep lists (each with a ``Listing``); empty: every listable type of the rule. A type judged
    # only through another (a monitoring schedule, through the endpoint it monitors) is left out.
    resource_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Option:
    """A rule setting read from a top-level key of the cdk.json ``mlwarden`` block (e.g. ``trustedAccounts``).

    The stack passes the rule's option values to its function; rules read them with ``ctx.settings.option``.
    """

    key: str
    default: Any
    help: str = ""
    # Checks a value of the right JSON type further: returns what is wrong with it ("" or None when it is fine),
    # or raises ValueError saying so (a structured option's unknown keys and values fail synth instead of being
    # ignored at run time).
    validate: Callable[[Any], str | None] | None = field(default=None, compare=False)

    def check(self, value: Any) -> Any:
        """The value, or SettingsError-worthy ValueError when its JSON type differs from the default's or
        ``validate`` finds it wrong."""
        mismatch = self.default is not None and value is not None and type(value) is not type(self.default)
        if mismatch and not (isinstance(self.default, float) and isinstance(value, int)):
            raise ValueError(
                f"cdk.json mlwarden.{self.key} must be a {type(self.default).__name__} like {self.default!r}"
            )
        problem = self.validate(value) if self.validate is not None and value is not None else ""
        if problem:
            raise ValueError(f"cdk.json mlwarden.{self.key}: {problem}")
        return value


# Names of the stack's own resources that ``Permissions.action_resources`` templates may use.
STACK_RESOURCES = {
    "quarantine_bucket": "the name of the quarantine bucket (cdk.json macieQuarantine)",
}


PASS_ROLE = "iam:PassRole"


@dataclass(frozen=True)
class Permissions:
    """IAM actions beyond those the spec's resource types derive (reads, tags, listing)."""

    detect: tuple[str, ...] = ()
    remediate: tuple[str, ...] = ()
    # IAM resource ARNs the actions apply to; "{partition}", "{region}" and "{account}" are filled in by CDK.
    # Empty: the ARN patterns of the rule's resource types ("*" when they have none).
    resources: tuple[str, ...] = ()
    # Actions (among detect/remediate) that have no resource-level permissions: granted on "*".
    unscoped: tuple[str, ...] = ()
    # Remediation actions granted only when a cdk.json feature is on: ((settings attribute, actions), ...).
    features: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Actions only list_refs needs (sweeps). The function is granted them only when its periodic Config
    # rule sweeps; otherwise they are needed by `mlwarden scan` alone, which runs with the user's credentials.
    sweep: tuple[str, ...] = ()
    # Actions granted on narrower resources of their own instead of ``resources``: ((action, resource
    # templates), ...). Besides "{partition}", "{region}" and "{account}", a template may name a resource of
    # the stack (``STACK_RESOURCES``), e.g. "arn:{partition}:s3:::{quarantine_bucket}/*".
    action_resources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The services ``iam:PassRole`` may pass a role to (the ``iam:PassedToService`` condition of its grant, e.g.
    # "bedrock.amazonaws.com"): a rule that passes roles must say to whom, or it could hand any role to any service.
    passed_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if PASS_ROLE in self.all_actions() and not self.passed_to:
            raise ValueError("iam:PassRole is granted only with passed_to: the services it may pass roles to")
        for action, granted_on in self.action_resources:
            if action not in self.all_actions() or action in self.unscoped:
                raise ValueError(f"action_resources names {action!r}, not a resource-level action of the rule")
            if not granted_on:
                raise ValueError(f"action_resources gives {action!r} no resource")
        templates = self.resources + tuple(r for _, resources in self.action_resources for r in resources)
        for template in templates:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
            unknown = names - {"partition", "region", "account"} - set(STACK_RESOURCES)
            if unknown:
                raise ValueError(f"resource {template!r} names {', '.join(sorted(unknown))}: not a known placeholder")

    def all_actions(self) -> tuple[str, ...]:
        extra = tuple(a for _, actions in self.features for a in actions)
        return tuple(dict.fromkeys(self.detect + self.remediate + extra + self.sweep))

    def resources_of(self, action: str) -> tuple[str, ...]:
        """The resource templates ``action`` is granted on (``unscoped`` actions excepted: those get "*")."""
        return dict(self.action_resources).get(action, self.resources or ("*",))

    def with_types(self, types: tuple[ResourceType, ...], reads: tuple[str, ...]) -> Permissions:
        """These permissions plus what reading, tagging and listing ``types`` needs (derived, never listed
        again by the rule): reads and tags join ``detect``, listings join ``sweep``."""
        if not types:
            return self if self.resources else replace(self, resources=("*",))
        derived = tuple(a for t in types for a in t.actions(reads))
        listings = tuple(listing.action for t in types for listing in t.listings)
        unscoped = tuple(a for t in types for a in t.unscoped_actions(reads))
        patterns = tuple(dict.fromkeys(p for t in types for p in t.iam_resources))
        if "*" in patterns:
            patterns = ("*",)
        # With several types, each derived action is granted on its own type's ARNs only.
        per_type: list[tuple[str, tuple[str, ...]]] = []
        if not self.resources and len(patterns) > 1:
            for t in types:
                for action in t.actions(reads):
                    if action not in unscoped and action not in dict(per_type):
                        owners = tuple(
                            dict.fromkeys(p for o in types if action in o.actions(reads) for p in o.iam_resources)
                        )
                        per_type.append((action, owners))
        return replace(
            self,
            detect=tuple(dict.fromkeys(derived + self.detect)),
            sweep=tuple(dict.fromkeys(listings + self.sweep)),
            unscoped=tuple(dict.fromkeys(unscoped + self.unscoped)),
            resources=self.resources or patterns,
            action_resources=tuple(per_type)
            + tuple((a, r) for a, r in self.action_resources if a not in dict(per_type)),
        )


@dataclass(frozen=True, kw_only=True)
class RuleSpec:
    id: str
    title: str
    severity: str
    # The resource type(s) the rule judges (``mlwarden.resources``): naming, reading, tags and read permissions
    # come from them. A rule judging several types lists them all.
    resources: tuple[ResourceType, ...] = ()
    # The attributes of the type the rule judges (``ResourceType.reads``): its live state.
    reads: tuple[str, ...] = ("describe",)
    # The primary type's name (derived from ``resources`` when not given).
    resource_type: str = ""
    controls: tuple[str, ...] = ()
    # Actions beyond the derived ones (the fix, extra reads); the spec's value includes the derived ones.
    permissions: Permissions = field(default_factory=Permissions)
    cloudtrail: tuple[CloudTrailTrigger, ...] = ()
    service_events: tuple[ServiceEventTrigger, ...] = ()
    findings: tuple[FindingTrigger, ...] = ()
    config: ConfigTrigger | None = None
    # AWS managed Config rule identifiers (e.g. "S3_DEFAULT_ENCRYPTION_KMS") whose NON_COMPLIANT compliance
    # changes, including conformance-pack copies, are routed to this rule.
    config_managed_rules: tuple[str, ...] = ()
    # The backstop for types AWS Config does not record: a scheduled sweep (see SweepTrigger).
    sweep: SweepTrigger | None = None
    # FAILED Security Hub findings for ``controls`` are routed to this rule (its own findings excepted).
    securityhub: bool = True
    options: tuple[Option, ...] = ()
    default_mode: str = MODE_NOTIFY
    remediation_summary: str = ""
    # Appended to the type's console URL: where in it the judged setting is (e.g. "&tab=permissions").
    console_suffix: str = ""

    def __post_init__(self) -> None:
        if self.resources:
            if not self.resource_type:
                object.__setattr__(self, "resource_type", self.resources[0].name)
            for name in self.reads:
                if not any(name in t.reads for t in self.resources):
                    raise ValueError(f"{self.id}: reads {name!r}, which no resource type of the rule declares")
        if not self.resource_type:
            raise ValueError(f"{self.id}: a rule names its resource type (resources=...)")
        object.__setattr__(self, "permissions", self.permissions.with_types(self.resources, self.reads))
        if self.config is not None and not self.config.resource_types:
            object.__setattr__(self, "config", replace(self.config, resource_types=self.resource_types))
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.id}: severity {self.severity!r} is not one of {SEVERITIES}")
        if self.default_mode not in MODES:
            raise ValueError(f"{self.id}: default mode {self.default_mode!r} is not one of {MODES}")
        if self.sweep is not None:
            self._check_sweep(self.sweep)
        if not (
            self.cloudtrail
            or self.service_events
            or self.findings
            or self.config
            or self.config_managed_rules
            or self.sweep
        ):
            raise ValueError(f"{self.id}: a rule needs at least one trigger")

    def _check_sweep(self, sweep: SweepTrigger) -> None:
        if not self.resources:
            raise ValueError(f"{self.id}: a scheduled sweep lists the rule's resource types: declare resources=")
        listable = {t.name for t in self.resources if t.listing is not None or t.singleton}
        if not sweep.resource_types:
            sweep = replace(sweep, resource_types=tuple(t.name for t in self.resources if t.name in listable))
            object.__setattr__(self, "sweep", sweep)
        unlisted = [name for name in sweep.resource_types if name not in listable]
        if unlisted or not sweep.resource_types:
            raise ValueError(
                f"{self.id}: the scheduled sweep lists {', '.join(unlisted) or 'nothing'}: "
                "not a type of the rule with a listing"
            )

    @property
    def resource_types(self) -> tuple[str, ...]:
        """Every type the rule judges (its primary type first)."""
        return tuple(dict.fromkeys((self.resource_type, *(t.name for t in self.resources))))

    @property
    def module_name(self) -> str:
        return self.id.replace("-", "_")

    @property
    def sweeps_periodically(self) -> bool:
        """Whether the function itself sweeps on a schedule (periodic Config rule or scheduled sweep): then it,
        not only ``mlwarden scan``, needs the listing permissions."""
        return bool((self.config and self.config.periodic) or self.sweep)

    @property
    def can_remediate(self) -> bool:
        """The rule has a fix: always, or only with a cdk.json feature (``Permissions.features``)."""
        return bool(self.permissions.remediate or self.permissions.features)

    def trigger_summary(self) -> list[str]:
        """Human-readable trigger list (``mlwarden rules``)."""
        out = [f"cloudtrail:{t.event_source}:{name}" for t in self.cloudtrail for name in t.event_names]
        out += [f"event:{t.source}:{dt}" for t in self.service_events for dt in t.detail_types]
        out += [
            f"finding:{t.source}:{t.detail_type}:{prefix}*"
            for t in self.findings
            for prefix in (t.type_prefixes or ("",))
        ]
        if self.config:
            kinds = "change+periodic" if self.config.periodic else "change"
            out += [f"config:{rt}:{kinds}" for rt in self.config.resource_types]
        if self.controls and self.securityhub:
            out += [f"securityhub:{control}:FAILED" for control in self.controls]
        out += [f"config-managed:{identifier}:NON_COMPLIANT" for identifier in self.config_managed_rules]
        if self.sweep:
            out += [f"schedule:sweep:{name}" for name in self.sweep.resource_types]
        return out


class Rule(abc.ABC):
    """One guardrail. Subclasses set ``spec`` and implement ``evaluate`` (and ``remediate`` where they fix).

    Every other hook has a default built from the spec's resource types: which resources an input names, the
    sweep's listing, the live read (``fetch``: the spec's ``reads``; ``ResourceGone`` when it no longer exists),
    tags, ARN and console page. A rule overrides one only where its judgement needs more (a second read, a
    resource named inside a finding). ``evaluate`` is a pure function of the state; ``remediate`` acts on the
    state the engine has just read (the engine re-reads before every decision) and is idempotent.
    """

    spec: ClassVar[RuleSpec]

    def resource_type_of(self, ref: ResourceRef) -> ResourceType:
        for rtype in self.spec.resources:
            if ref.resource_type in rtype.names:
                return rtype
        raise TypeError(f"{self.spec.id} declares no resource type {ref.resource_type!r}")

    # -- which resources an input points at ---------------------------------------------------------------
    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        """Resources named by an EventBridge event already routed to this rule (may be empty)."""
        for rtype in self.spec.resources:
            refs = rtype.refs_from_event(event)
            if refs:
                return refs
        return []

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        """Resource named by an AWS Config configuration item (or item summary)."""
        for rtype in self.spec.resources:
            ref = rtype.ref_from_config_item(item)
            if ref is not None:
                return ref
        return None

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        """Resource named by an ARN (Security Hub finding resources); None when not this rule's type."""
        for rtype in self.spec.resources:
            ref = rtype.ref_from_arn(arn, region, account)
            if ref is not None:
                return ref
        return None

    def list_refs(self, ctx: RuleContext, region: str) -> Iterable[ResourceRef]:
        """Every resource of the rule's types in the region (Config periodic sweep, scheduled sweep, ``mlwarden
        scan``); with a scheduled sweep, of the types it lists."""
        swept = self.spec.sweep.resource_types if self.spec.sweep else None
        for rtype in self.spec.resources:
            if swept is None or rtype.name in swept:
                yield from resources.list_refs(ctx, rtype, region)

    # -- live state ---------------------------------------------------------------------------------------
    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> Any:
        """The resource as it is now: the answer of the spec's one read, or ``{read: answer}`` for several."""
        rtype = self.resource_type_of(ref)
        names = [name for name in self.spec.reads if name in rtype.reads]
        if len(names) == 1:
            return resources.read(ctx, rtype, ref, names[0])
        return {name: resources.read(ctx, rtype, ref, name) for name in names}

    @abc.abstractmethod
    def evaluate(self, ref: ResourceRef, state: Any, ctx: RuleContext) -> Evaluation:
        """Pure verdict on the state (``ctx`` only supplies settings, never clients)."""

    def remediate(self, ref: ResourceRef, state: Any, ctx: RuleContext) -> RemediationResult:
        raise NotImplementedError(f"{self.spec.id} has no automatic remediation")

    def unfixable(self, ref: ResourceRef, state: Any, ctx: RuleContext) -> str:
        """Why this violation cannot be remediated automatically now ("" when it can), e.g. the setting the fix
        needs is not configured: the engine then notifies (``would_notify``) and says why."""
        return ""

    def read_tags(self, ref: ResourceRef, state: Any, ctx: RuleContext) -> dict[str, str] | None:
        """Tags of the resource, for exemptions; None when the resource type has no tags."""
        if not self.spec.resources:
            return None
        return resources.read_tags(ctx, self.resource_type_of(ref), ref, self.arn(ref, state))

    def arn(self, ref: ResourceRef, state: Any) -> str:
        if not self.spec.resources:
            return ref.arn
        return resources.arn_of(self.resource_type_of(ref), ref, state)

    def is_stopped(self, state: Any) -> bool:
        """True when the resource is not running (a stopped notebook instance): with the
        ``mlwarden:quarantined`` tag, its violation is not live; the report shows it as stopped."""
        for rtype in self.spec.resources:
            if rtype.stopped and isinstance(state, dict):
                key, values = rtype.stopped
                return state.get(key) in values
        return False

    def console_url(self, ref: ResourceRef) -> str:
        for rtype in self.spec.resources:
            if ref.resource_type in rtype.names:
                url = rtype.console_url(ref)
                return url + self.spec.console_suffix if url else ""
        return ""

    def severity(self, ref: ResourceRef, state: Any) -> str:
        return self.spec.severity

    def details(self, ref: ResourceRef, state: Any) -> dict[str, Any]:
        """Extra alert fields (never secrets or sample values)."""
        return {}
