"""Tamper watch: who silenced a rule, changed mlwarden's own switches or exempted a resource (issue 9 §1.4, §1.5).

Anyone allowed ``ssm:PutParameter`` can switch a rule off or pull the kill switch; anyone allowed to tag a resource
can add ``mlwarden:exempt=all``; anyone allowed to change EventBridge rules, schedules or Config rules can cut a
rule off from its triggers without touching either. The watch function (``mlwarden.watch``) receives those
CloudTrail calls through the patterns below and reports each one to the ALARM topic, naming the caller:

- ``switch``: successful changes to a /mlwarden/ SSM parameter (a rule's mode, the kill switch);
- ``exemption``: successful tagging and tag-taking create calls on a resource some rule reads exemption tags of.
  The calls are declared per resource type (``ResourceType.tagging_calls``, mlwarden.resources) and derived here
  for every type a registered rule judges, so a new type or rule cannot drift from the watch;
- ``control``: successful changes to mlwarden's own EventBridge rules (DisableRule, DeleteRule, PutRule,
  PutTargets, RemoveTargets), sweep schedules (UpdateSchedule, DeleteSchedule) and AWS Config rules
  (DeleteConfigRule, PutConfigRule) — each named ``mlwarden-<rule id>…`` (``NAME_PREFIX``).

Everything here is pure (no AWS calls): the patterns the stack deploys, reading the CloudTrail record, and the
alarm's subject and body. Every value put into a subject or body comes from the caller's request and is
therefore cleaned (control and format characters removed, length capped).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from mlwarden.core import org
from mlwarden.core.events import detail, obj
from mlwarden.core.exemptions import EXEMPT_TAG
from mlwarden.core.patterns import CLOUDTRAIL_DETAIL_TYPE, MAX_PATTERN_CHARS
from mlwarden.core.settings import KILL_SWITCH_PARAMETER, NAME_PREFIX

# The watch function's environment: the alarm topic it publishes to.
ENV_ALARM_TOPIC_ARN = "MLWARDEN_ALARM_TOPIC_ARN"
# The watch's function, and the prefix of its own EventBridge rules ("mlwarden-tamper-watch-<pattern key>").
WATCH_NAME = f"{NAME_PREFIX}tamper-watch"

KIND_SWITCH = "switch"
KIND_EXEMPTION = "exemption"
KIND_CONTROL = "control"
KINDS = (KIND_SWITCH, KIND_EXEMPTION, KIND_CONTROL)

PARAMETER_PREFIX = "/mlwarden/"
# mlwarden:exempt, mlwarden:exempt-reason, mlwarden:exempt-until (compared without regard to case).
EXEMPT_TAG_PREFIX = EXEMPT_TAG

# SSM calls that change a parameter, its labels or its tags.
SSM_EVENT_NAMES = (
    "AddTagsToResource",
    "DeleteParameter",
    "DeleteParameters",
    "LabelParameterVersion",
    "PutParameter",
    "RemoveTagsFromResource",
    "UnlabelParameterVersion",
)
SSM_SOURCE = "ssm.amazonaws.com"
EVENTS_SOURCE = "events.amazonaws.com"
SCHEDULER_SOURCE = "scheduler.amazonaws.com"
CONFIG_SOURCE = "config.amazonaws.com"
IAM_SOURCE = "iam.amazonaws.com"
GLOBAL_SOURCE = "aws.iam"  # the EventBridge source of IAM (a global service)
# The API version CloudTrail appends to some services' event names starts with the year (CreateFunction20150331).
VERSION_MARK = "20"

# CloudTrail's placeholder for the value of PutParameter (SSM never records it).
HIDDEN_VALUE = "HIDDEN_DUE_TO_SECURITY_REASONS"

SUBJECT_LIMIT = 100
VALUE_LIMIT = 512  # characters kept of any one value taken from the event
_MAX_DEPTH = 12
_MAX_TAGS = 50


# ---------------------------------------------------------------------------------------------- calls
@dataclass(frozen=True)
class Calls:
    """CloudTrail calls of one event source."""

    event_source: str  # e.g. "sagemaker.amazonaws.com"
    names: tuple[str, ...]  # API operation names
    versioned: bool = False  # CloudTrail appends the API version to the names (Lambda): matched as prefixes

    @property
    def source(self) -> str:
        """EventBridge's ``source`` of the calls: "aws." and the event source's first label."""
        return "aws." + self.event_source.split(".", 1)[0]

    def matches(self, event_name: str) -> bool:
        if self.versioned:
            return any(event_name.startswith(name + VERSION_MARK) for name in self.names)
        return event_name in self.names

    def name_filters(self) -> list[Any]:
        if self.versioned:
            return [{"prefix": name + VERSION_MARK} for name in self.names]
        return list(self.names)

    def pattern(self, request: dict[str, Any] | None = None) -> dict[str, Any]:
        """Successful calls (no errorCode), optionally narrowed on requestParameters."""
        found: dict[str, Any] = {
            "eventSource": [self.event_source],
            "eventName": self.name_filters(),
            "errorCode": [{"exists": False}],
        }
        if request:
            found["requestParameters"] = request
        return {"source": [self.source], "detail-type": [CLOUDTRAIL_DETAIL_TYPE], "detail": found}


@cache
def tagging_calls() -> dict[str, Calls]:
    """Event source -> the calls that can set exemption tags on a resource some registered rule judges: the
    ``tagging_calls`` each type of each rule's ``resources`` declares (mlwarden.resources), merged per event
    source (bedrock-agent's and bedrock's calls both log as bedrock.amazonaws.com)."""
    from mlwarden.core.registry import all_specs  # every rule module: only the exemption patterns need them

    names: dict[str, set[str]] = {}
    versioned: dict[str, bool] = {}
    for spec in all_specs():
        for rtype in spec.resources:
            if not rtype.tagging_calls:
                continue
            source = rtype.cloudtrail_event_source
            if versioned.setdefault(source, rtype.versioned_event_names) != rtype.versioned_event_names:
                raise ValueError(f"{rtype.name}: {source} types disagree on versioned_event_names")
            names.setdefault(source, set()).update(rtype.tagging_calls)
    return {source: Calls(source, tuple(sorted(names[source])), versioned[source]) for source in sorted(names)}


# mlwarden's own EventBridge rules, sweep schedules and Config rules: the calls that silence or redirect one.
EVENTS_CALLS = Calls(EVENTS_SOURCE, ("DeleteRule", "DisableRule", "PutRule", "PutTargets", "RemoveTargets"))
SCHEDULER_CALLS = Calls(SCHEDULER_SOURCE, ("DeleteSchedule", "UpdateSchedule"))
CONFIG_DELETE_CALLS = Calls(CONFIG_SOURCE, ("DeleteConfigRule",))
CONFIG_PUT_CALLS = Calls(CONFIG_SOURCE, ("PutConfigRule",))
CONTROL_CALLS = (EVENTS_CALLS, SCHEDULER_CALLS, CONFIG_DELETE_CALLS, CONFIG_PUT_CALLS)
# Organization mode: the calls that take a member account's mlwarden roles away or change what they may do.
ROLE_CALLS = Calls(
    IAM_SOURCE,
    (
        "AttachRolePolicy",
        "DeleteRole",
        "DeleteRolePermissionsBoundary",
        "DeleteRolePolicy",
        "DetachRolePolicy",
        "PutRolePermissionsBoundary",
        "PutRolePolicy",
        "UpdateAssumeRolePolicy",
        "UpdateRole",
    ),
)
# The roles the member template makes: one per rule (the central function acts through it), one per Region
# (EventBridge forwards through it).
MEMBER_ROLE_PREFIXES = (org.member_role_name(""), org.forwarder_role_name(""))
# Pattern keys of the member accounts' forwarding rules (``member_patterns``).
MEMBER_KEY = "member"


# ---------------------------------------------------------------------------------------------- patterns
def _prefix(value: str) -> list[dict[str, str]]:
    return [{"prefix": value}]


def _exists() -> list[dict[str, bool]]:
    return [{"exists": True}]


def ssm_pattern() -> dict[str, Any]:
    """Successful SSM calls on a parameter under /mlwarden/ (``names`` is DeleteParameters' list: EventBridge
    matches each element; ``resourceId`` is the parameter of the tagging calls)."""
    return Calls(SSM_SOURCE, SSM_EVENT_NAMES).pattern(
        {
            "$or": [
                {"name": _prefix(PARAMETER_PREFIX)},
                {"names": _prefix(PARAMETER_PREFIX)},
                {"resourceId": _prefix(PARAMETER_PREFIX)},
            ]
        }
    )


def events_rule_pattern(names: list[Any]) -> dict[str, Any]:
    """Successful changes to the EventBridge rules ``names`` (values or filters): DisableRule, DeleteRule and
    PutRule name the rule in ``name``, PutTargets and RemoveTargets in ``rule`` (a name: the API takes no ARN)."""
    return EVENTS_CALLS.pattern({"$or": [{"name": names}, {"rule": names}]})


def control_alternatives() -> list[dict[str, Any]]:
    """One pattern per kind of mlwarden resource a call can silence a rule through, each narrowed to names
    starting with ``NAME_PREFIX``.

    - Scheduler's records are matched on ``Name`` and ``name`` alike (no published sample settles its casing).
    - PutConfigRule may name the rule by ``ConfigRuleArn`` or ``ConfigRuleId`` alone, and a Config rule's ARN
      and id carry no part of its name: such calls are let through and the function asks AWS Config which rule
      it was (``mlwarden.watch.resolve_config_rule``).
    """
    named = _prefix(NAME_PREFIX)
    return [
        events_rule_pattern(named),
        SCHEDULER_CALLS.pattern({"$or": [{"Name": named}, {"name": named}]}),
        CONFIG_DELETE_CALLS.pattern({"configRuleName": named}),
        CONFIG_PUT_CALLS.pattern(
            {
                "configRule": {
                    "$or": [{"configRuleName": named}, {"configRuleArn": _exists()}, {"configRuleId": _exists()}]
                }
            }
        ),
    ]


def exemption_alternatives() -> list[dict[str, Any]]:
    """One pattern per event source of ``tagging_calls()``: successful tagging and tag-taking create calls.
    Whether a tag key starts with ``mlwarden:exempt`` is decided by the function: tag shapes differ per service
    and EventBridge cannot look for a prefix among map keys."""
    return [calls.pattern() for calls in tagging_calls().values()]


def _merged(kind: str, alternatives: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The alternatives merged, in order, into as few patterns as fit ``MAX_PATTERN_CHARS`` (one EventBridge rule
    each; measured as ``json.dumps`` writes them, spaces included), keyed ``kind`` when one suffices, else
    ``kind-1``, ``kind-2`` …"""
    groups: list[list[dict[str, Any]]] = []
    for alternative in alternatives:
        if groups and _size(groups[-1] + [alternative]) <= MAX_PATTERN_CHARS:
            groups[-1].append(alternative)
        else:
            groups.append([alternative])
    merged = [group[0] if len(group) == 1 else {"$or": group} for group in groups]
    for pattern in merged:
        if len(json.dumps(pattern)) > MAX_PATTERN_CHARS:
            raise ValueError(f"tamper watch: a {kind} pattern alone exceeds {MAX_PATTERN_CHARS} characters")
    if len(merged) == 1:
        return {kind: merged[0]}
    return {f"{kind}-{number}": pattern for number, pattern in enumerate(merged, 1)}


def _size(group: list[dict[str, Any]]) -> int:
    return len(json.dumps(group[0] if len(group) == 1 else {"$or": group}))


def rule_name(key: str) -> str:
    """The name of the watch's EventBridge rule of pattern ``key`` (a key of ``patterns()``)."""
    return f"{WATCH_NAME}-{key}"


@cache
def patterns() -> dict[str, dict[str, Any]]:
    """Pattern key -> the EventBridge pattern the stack deploys as rule ``rule_name(key)`` (and
    ``mlwarden.core.patterns.matches`` routes locally). The control rule(s) watch every mlwarden rule, the watch's
    own included; should a control rule be disabled, deleted or re-targeted, its own change may no longer reach
    it, so the switch rule watches the control rules by name too."""
    control = _merged(KIND_CONTROL, control_alternatives())
    watched_by_switch = [ssm_pattern(), events_rule_pattern([rule_name(key) for key in control])]
    return {
        **_merged(KIND_SWITCH, watched_by_switch),
        **_merged(KIND_EXEMPTION, exemption_alternatives()),
        **control,
    }


def member_role_pattern() -> dict[str, Any]:
    """Successful IAM calls on a member account's mlwarden roles (IAM's events reach EventBridge in us-east-1
    only: the member template forwards this pattern from there alone)."""
    return ROLE_CALLS.pattern({"roleName": [{"prefix": prefix} for prefix in MEMBER_ROLE_PREFIXES]})


@cache
def member_patterns() -> dict[str, dict[str, Any]]:
    """Organization mode: pattern key -> what each member account forwards to the central bus for the watch, as
    rule ``rule_name(key)`` on its default bus (``stacks/member.py``), and what the central bus's watch rules
    match. The kinds that apply in a member: exemption tags set there, changes to its ``mlwarden-*`` EventBridge
    rules (the forwarding rules, the watch's own among them) and IAM changes to its member and forwarder roles.
    The switches, schedules and Config rules live in the central account only. As centrally, the exemption
    rule(s) also watch the control rule by name: disabled, its own change would no longer reach it."""
    control = {f"{MEMBER_KEY}-{KIND_CONTROL}": events_rule_pattern(_prefix(NAME_PREFIX))}
    exemptions = exemption_alternatives()
    iam = [p for p in exemptions if p["source"] == [GLOBAL_SOURCE]]
    regional = [events_rule_pattern([rule_name(key) for key in control])] + [p for p in exemptions if p not in iam]
    # IAM's calls (its roles, its tagging calls) reach EventBridge in us-east-1 only: their rule(s) are
    # forwarded from there alone, the others from every Region; a merged pattern never mixes the two.
    return {
        **_merged(f"{MEMBER_KEY}-{KIND_EXEMPTION}", regional),
        **control,
        **_merged(f"{MEMBER_KEY}-role", [member_role_pattern(), *iam]),
    }


def patterns_of(kind: str) -> list[dict[str, Any]]:
    """The deployed patterns of one kind (``kind``, or ``kind-1``, ``kind-2`` … when it needs several)."""
    return [pattern for key, pattern in patterns().items() if key.split("-", 1)[0] == kind]


def switch_pattern() -> dict[str, Any]:
    return patterns()[KIND_SWITCH]


# ---------------------------------------------------------------------------------------------- cleaning
def clean(value: Any, limit: int = VALUE_LIMIT) -> str:
    """An attacker-supplied value made safe to show: control, format and line-separator characters removed,
    at most ``limit`` characters (with "..." when cut)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs"))
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def ascii_subject(text: str, limit: int | None = SUBJECT_LIMIT) -> str:
    """SNS subjects are printable ASCII of at most 100 characters (``limit`` None: not cut)."""
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in clean(text, 10 * SUBJECT_LIMIT))
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------- the caller
@dataclass(frozen=True)
class Caller:
    """Who made the call. For a session the principal that issued it is what matters (the role of an
    assumed-role session, the IAM user of a federated one): the session name is chosen by whoever opened
    the session, so both are reported and the issuer is the one named in the subject."""

    caller_arn: str = ""
    role_arn: str = ""  # sessionContext.sessionIssuer.arn of a role session
    session_name: str = ""
    issuer_arn: str = ""  # sessionContext.sessionIssuer.arn, whatever its type
    identity_type: str = ""
    account: str = ""
    access_key_id: str = ""
    invoked_by: str = ""
    source_ip: str = ""
    user_agent: str = ""

    @classmethod
    def of(cls, record: dict[str, Any]) -> Caller:
        identity = obj(record.get("userIdentity"))
        issuer = obj(obj(identity.get("sessionContext")).get("sessionIssuer"))
        arn = clean(identity.get("arn"))
        session = ""
        if ":assumed-role/" in arn and arn.count("/") >= 2:
            session = arn.rsplit("/", 1)[-1]
        elif ":federated-user/" in arn:
            session = arn.split(":federated-user/", 1)[1]
        issuer_arn = clean(issuer.get("arn"))
        return cls(
            caller_arn=arn,
            role_arn=issuer_arn if clean(issuer.get("type")) in ("Role", "") else "",
            session_name=session,
            issuer_arn=issuer_arn,
            identity_type=clean(identity.get("type")),
            account=clean(identity.get("accountId")),
            access_key_id=clean(identity.get("accessKeyId")),
            invoked_by=clean(identity.get("invokedBy")),
            source_ip=clean(record.get("sourceIPAddress")),
            user_agent=clean(record.get("userAgent")),
        )

    @property
    def who(self) -> str:
        """The principal to name: the issuer of a session (role or user), else the caller's ARN."""
        return self.issuer_arn or self.caller_arn or self.invoked_by or self.identity_type or "an unknown caller"

    def describe(self) -> str:
        if self.issuer_arn and self.caller_arn:
            kind = "role" if self.role_arn else "issued by"
            return (
                f"{self.caller_arn} ({kind} {self.issuer_arn}; session name {self.session_name!r} "
                "is chosen by the caller)"
            )
        return self.who


# ---------------------------------------------------------------------------------------------- reports
# What each watched call did to mlwarden's own resource (control reports), for subjects and summaries.
CONTROL_CHANGES = {
    "DisableRule": "disabled",
    "DeleteRule": "deleted",
    "PutRule": "replaced",
    "PutTargets": "re-targeted",
    "RemoveTargets": "lost its targets",
    "DeleteSchedule": "deleted",
    "UpdateSchedule": "replaced",
    "DeleteConfigRule": "deleted",
    "PutConfigRule": "replaced",
    "AttachRolePolicy": "got a policy attached",
    "DeleteRole": "deleted",
    "DeleteRolePermissionsBoundary": "lost its permissions boundary",
    "DeleteRolePolicy": "lost an inline policy",
    "DetachRolePolicy": "lost a policy",
    "PutRolePermissionsBoundary": "got a permissions boundary",
    "PutRolePolicy": "got an inline policy",
    "UpdateAssumeRolePolicy": "got a new trust policy",
    "UpdateRole": "updated",
}
EVENTBRIDGE_RULE, SCHEDULE, CONFIG_RULE, IAM_ROLE = "EventBridge rule", "schedule", "Config rule", "IAM role"


@dataclass
class TamperReport:
    """One alarm: a switch parameter changed, exemption tags set on a resource, or one of mlwarden's own
    EventBridge rules, schedules or Config rules changed."""

    kind: str
    event_name: str
    target: str  # the parameter name, the resource, or mlwarden's rule / schedule / Config rule
    caller: Caller
    event_time: str
    event_id: str
    region: str = ""
    account: str = ""
    value: str | None = None  # the parameter's value now (read back), or the mlwarden:exempt value set
    value_note: str = ""  # why there is no value, or what it means
    tags: dict[str, str] = field(default_factory=dict)  # mlwarden:exempt* tags set (exemptions, SSM tags)
    labels: list[str] = field(default_factory=list)
    detected_at: str = ""
    resource_kind: str = ""  # control: EVENTBRIDGE_RULE, SCHEDULE or CONFIG_RULE
    changes: dict[str, str] = field(default_factory=dict)  # control: what the request set (state, targets …)
    # control: the ARN or id a PutConfigRule named the rule by instead of its name (the function resolves it)
    reference: str = ""
    # organization mode: the change was made in a member account (forwarded to the central bus), not here
    member: bool = False

    def verb(self) -> str:
        if self.kind == KIND_EXEMPTION:
            return "exemption tags set"
        if self.kind == KIND_CONTROL:
            return CONTROL_CHANGES.get(self.event_name, self.event_name)
        return {
            "PutParameter": "set",
            "DeleteParameter": "deleted",
            "DeleteParameters": "deleted",
            "LabelParameterVersion": "labelled",
            "UnlabelParameterVersion": "unlabelled",
            "AddTagsToResource": "tagged",
            "RemoveTagsFromResource": "untagged",
        }.get(self.event_name, self.event_name)

    def subject(self) -> str:
        """``[mlwarden] <what> by <who>`` in 100 characters. Too long, the principal is shortened first
        (``arn:aws:iam::1:role/x`` -> ``role/x``: the account is in the body), then the start of the target."""
        # (no str.format here: tag values and names are the caller's, braces included)
        before, after = "", f" {self.verb()}"
        if self.kind == KIND_EXEMPTION:
            tags = ", ".join(f"{k}={clean(v, 36)}" for k, v in self.tags.items() if k.lower() == EXEMPT_TAG)
            before, after = f"{tags or ', '.join(self.tags)} set on ", ""
        elif self.kind == KIND_CONTROL:
            before = f"{self.resource_kind} "
        elif self.event_name == "PutParameter" and self.value is not None:
            after = f" set to {clean(self.value, 20)}"
        if self.member:
            before = f"{self.account}: {before}"
        who = self.caller.who
        short_who = who.split(":", 5)[5] if who.startswith("arn:") and who.count(":") >= 5 else who
        target = self.target
        for name in (who, short_who):
            text = ascii_subject(f"[mlwarden] {before}{target}{after} by {name}", limit=None)
            if len(text) <= SUBJECT_LIMIT:
                return text
        room = SUBJECT_LIMIT - len(ascii_subject(f"[mlwarden] {before}{after} by {short_who}", limit=None))
        if room > 12:
            target = "..." + target[-(room - 3) :]
        return ascii_subject(f"[mlwarden] {before}{target}{after} by {short_who}")

    def summary(self) -> str:
        """The human line: who did what, when, from where, and what it means."""
        when = f" at {self.event_time}" if self.event_time else ""
        where = f" from {self.caller.source_ip}" if self.caller.source_ip else ""
        if self.kind == KIND_EXEMPTION:
            tags = ", ".join(f"{k}={v!r}" for k, v in self.tags.items())
            text = (
                f"{self.caller.describe()} set {tags} on {self.target} ({self.event_name}){when}{where}. "
                "mlwarden will report but never change a resource its exemption covers; remove the tags if "
                "this exemption was not agreed."
            )
        elif self.kind == KIND_CONTROL:
            changes = "; ".join(f"{k} {v}" for k, v in self.changes.items())
            text = (
                f"{self.caller.describe()} {self.event_name}: mlwarden's {self.resource_kind} {self.target} "
                f"{self.verb()}{f' ({changes})' if changes else ''}{when}{where}."
            )
            if self.value_note:
                text += f" {self.value_note[:1].upper()}{self.value_note[1:]}."
        else:
            if self.event_name == "PutParameter":
                change = f"set {self.target} (now {self.value!r})" if self.value is not None else f"set {self.target}"
            elif self.labels:
                change = f"{self.verb()} {self.target} ({', '.join(self.labels)})"
            elif self.tags:
                change = f"{self.verb()} {self.target} ({', '.join(f'{k}={v!r}' for k, v in self.tags.items())})"
            else:
                change = f"{self.verb()} {self.target}"
            text = f"{self.caller.describe()} {change}{when}{where}."
            if self.value_note:
                text += f" {self.value_note[:1].upper()}{self.value_note[1:]}."
        if self.member:
            text = f"In member account {self.account} ({self.region or 'unknown Region'}): {text}"
        return clean(text + f" CloudTrail event {self.event_id or '-'}.", 4 * VALUE_LIMIT)

    def body(self) -> dict[str, Any]:
        record: dict[str, Any] = {"kind": self.kind, "event_name": self.event_name}
        if self.kind == KIND_SWITCH:
            record["parameter"] = self.target
        else:
            record["resource"] = self.target
        if self.kind == KIND_CONTROL:
            record.update(resource_kind=self.resource_kind, change=self.verb(), changes=self.changes)
            if self.reference:
                record["named_by"] = self.reference
        record.update(
            {
                "value": self.value,
                "value_note": self.value_note,
                "tags": self.tags,
                "caller_arn": self.caller.caller_arn,
                "role_arn": self.caller.role_arn,
                "session_name": self.caller.session_name,
                "issuer_arn": self.caller.issuer_arn,
                "identity_type": self.caller.identity_type,
                "access_key_id": self.caller.access_key_id,
                "invoked_by": self.caller.invoked_by,
                "source_ip": self.caller.source_ip,
                "user_agent": self.caller.user_agent,
                "account": self.account,
                "region": self.region,
                "event_time": self.event_time,
                "event_id": self.event_id,
                "detected_at": self.detected_at,
                "summary": self.summary(),
            }
        )
        if self.labels:
            record["labels"] = self.labels
        if self.member:
            record["member_account"] = True
        return record

    def message(self) -> str:
        return json.dumps(self.body(), indent=2, sort_keys=False)

    def attributes(self) -> dict[str, dict[str, str]]:
        return {
            "kind": {"DataType": "String", "StringValue": self.kind},
            "event_name": {"DataType": "String", "StringValue": self.event_name or "unknown"},
        }


# ---------------------------------------------------------------------------------------------- parsing
def _record_basics(event: dict[str, Any]) -> tuple[dict[str, Any], Caller, str, str, str, str, str]:
    record = detail(event)
    event_id = clean(record.get("eventID")) or clean(event.get("id"))
    event_time = clean(record.get("eventTime")) or clean(event.get("time"))
    region = clean(record.get("awsRegion")) or clean(event.get("region"))
    account = clean(record.get("recipientAccountId")) or clean(event.get("account"))
    return record, Caller.of(record), clean(record.get("eventName")), event_id, event_time, region, account


def kind_of(event: dict[str, Any]) -> str | None:
    """Which of the watch's kinds the CloudTrail record belongs to (None: none)."""
    record = detail(event)
    source = str(record.get("eventSource") or "")
    name = str(record.get("eventName") or "")
    if source == SSM_SOURCE and name in SSM_EVENT_NAMES:
        return KIND_SWITCH
    if any(calls.event_source == source and calls.matches(name) for calls in (*CONTROL_CALLS, ROLE_CALLS)):
        return KIND_CONTROL
    calls = tagging_calls().get(source)
    if calls is not None and calls.matches(name):
        return KIND_EXEMPTION
    return None


def parameter_names(event: dict[str, Any]) -> list[str]:
    """The /mlwarden/ parameters an SSM call named (DeleteParameters names several)."""
    params = obj(detail(event).get("requestParameters"))
    candidates: list[Any] = [params.get("name")]
    names = params.get("names")
    if isinstance(names, list):
        candidates += names[:_MAX_TAGS]
    if params.get("resourceType", "Parameter") == "Parameter":  # the tagging calls
        candidates.append(params.get("resourceId"))
    found = [clean(c) for c in candidates if isinstance(c, str) and c.startswith(PARAMETER_PREFIX)]
    return list(dict.fromkeys(found))


def switch_reports(event: dict[str, Any]) -> list[TamperReport]:
    """One report per /mlwarden/ parameter the SSM call changed (values are read back by the function)."""
    record, caller, name, event_id, event_time, region, account = _record_basics(event)
    params = obj(record.get("requestParameters"))
    labels = [clean(label, 64) for label in params.get("labels") or [] if isinstance(label, str)][:_MAX_TAGS]
    tags = dict(_tags_in(params.get("tags"), lambda key: True))
    if name == "RemoveTagsFromResource":
        keys = params.get("tagKeys") or []
        tags = {clean(k, 128): "" for k in keys if isinstance(k, str)}
    return [
        TamperReport(
            kind=KIND_SWITCH,
            event_name=name,
            target=parameter,
            caller=caller,
            event_time=event_time,
            event_id=event_id,
            region=region,
            account=account,
            tags=tags,
            labels=labels,
        )
        for parameter in parameter_names(event)
    ]


def exemption_tags(request_parameters: Any) -> dict[str, str]:
    """Every tag in the request whose key starts with ``mlwarden:exempt`` (any case), whatever the service's
    tag shape: ``{key, value}``, ``{Key, Value}``, ``{tagKey, tagValue}``, S3's ``Tagging.TagSet.Tag`` (a list
    or one object), EC2's ``tagSet.items`` / ``tagSpecificationSet.items[].tags``, or a ``{key: value}`` map."""
    return dict(_tags_in(request_parameters, lambda key: key.lower().startswith(EXEMPT_TAG_PREFIX)))


_KEY_FIELDS = ("key", "Key", "tagKey", "TagKey")
_VALUE_FIELDS = ("value", "Value", "tagValue", "TagValue")


def _tags_in(node: Any, wanted: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, list):
        for item in node[: 10 * _MAX_TAGS]:
            yield from _tags_in(item, wanted, depth + 1)
        return
    if not isinstance(node, dict):
        return
    key_field = next((f for f in _KEY_FIELDS if isinstance(node.get(f), str)), None)
    if key_field is not None:
        key = node[key_field]
        value = next((node[f] for f in _VALUE_FIELDS if f in node), "")
        if wanted(key):
            yield clean(key, 128), clean(value, 256)
        return
    for key, value in node.items():
        if isinstance(key, str) and wanted(key) and isinstance(value, str | int | float | bool):
            yield clean(key, 128), clean(value, 256)  # a {key: value} tag map
        elif isinstance(value, dict | list):
            yield from _tags_in(value, wanted, depth + 1)


# Where a call names the resource it tags: request fields first, then the ARN or id the create call returned.
_RESOURCE_FIELDS = (
    "resourceArn",
    "resourceARN",
    "ResourceArn",
    "resource",
    "resourceId",
    "bucketName",
    "keyId",
    "policyArn",
    "roleName",
    "userName",
)


def resource_of(record: dict[str, Any]) -> str:
    """The resource a tagging or create call is about, as precisely as the record says."""
    params = obj(record.get("requestParameters"))
    for name in _RESOURCE_FIELDS:
        if isinstance(params.get(name), str) and params[name]:
            return clean(params[name])
    items = obj(params.get("resourcesSet")).get("items")  # EC2 CreateTags
    if isinstance(items, list):
        ids = [clean(obj(i).get("resourceId")) for i in items[:_MAX_TAGS] if obj(i).get("resourceId")]
        if ids:
            return clean(", ".join(ids))
    response = obj(record.get("responseElements"))
    arn = _first_arn(response)
    if arn:
        return arn
    if isinstance(response.get("groupId"), str):  # EC2 CreateSecurityGroup
        return clean(response["groupId"])
    instances = obj(response.get("instancesSet")).get("items")  # EC2 RunInstances
    if isinstance(instances, list):
        ids = [clean(obj(i).get("instanceId")) for i in instances[:_MAX_TAGS] if obj(i).get("instanceId")]
        if ids:
            return clean(", ".join(ids))
    for name, value in params.items():
        if isinstance(name, str) and name.lower().endswith("name") and isinstance(value, str) and value:
            return clean(value)
    return "an unnamed resource"


def _first_arn(node: Any, depth: int = 0) -> str:
    if depth > 2 or not isinstance(node, dict):
        return ""
    for key, value in node.items():
        if isinstance(key, str) and key.lower().endswith("arn") and isinstance(value, str) and value.startswith("arn:"):
            return clean(value)
    for value in node.values():
        found = _first_arn(value, depth + 1)
        if found:
            return found
    return ""


def exemption_report(event: dict[str, Any]) -> TamperReport | None:
    """The report for a tagging or create call that set ``mlwarden:exempt*`` tags; None when it set none."""
    record, caller, name, event_id, event_time, region, account = _record_basics(event)
    tags = exemption_tags(record.get("requestParameters"))
    if not tags:
        return None
    exempt = next((v for k, v in tags.items() if k.lower() == EXEMPT_TAG), None)
    return TamperReport(
        kind=KIND_EXEMPTION,
        event_name=name,
        target=resource_of(record),
        caller=caller,
        event_time=event_time,
        event_id=event_id,
        region=region,
        account=account,
        value=exempt,
        tags=tags,
    )


def _text(node: dict[str, Any], *names: str) -> str:
    """The first of the fields (tried as named and with the first letter lower-cased: CloudTrail's casing of a
    service's members varies) that holds a non-empty string, cleaned."""
    for name in names:
        for key in (name, name[:1].lower() + name[1:]):
            if isinstance(node.get(key), str) and node[key]:
                return clean(node[key])
    return ""


def _node(node: dict[str, Any], name: str) -> dict[str, Any]:
    return obj(node.get(name) if name in node else node.get(name[:1].lower() + name[1:]))


def _control_target(source: str, params: dict[str, Any]) -> tuple[str, str, str]:
    """(resource kind, name, the ARN or id it was named by instead) of a control call's request."""
    if source == EVENTS_SOURCE:
        return EVENTBRIDGE_RULE, _text(params, "name", "rule"), ""
    if source == SCHEDULER_SOURCE:
        return SCHEDULE, _text(params, "Name"), ""
    if source == IAM_SOURCE:
        return IAM_ROLE, _text(params, "roleName"), ""
    rule = _node(params, "ConfigRule")
    reference = _text(rule, "ConfigRuleArn", "ConfigRuleId")
    return CONFIG_RULE, _text(params, "ConfigRuleName") or _text(rule, "ConfigRuleName"), reference


def _control_changes(event_name: str, params: dict[str, Any]) -> dict[str, str]:
    """What the request set, in the words of its fields (all cleaned, each capped)."""
    found: dict[str, str] = {}
    if event_name == "PutRule":
        found["state"] = _text(params, "state") or "ENABLED (the default)"
        found["event pattern"] = clean(_text(params, "eventPattern"), 300)
        found["schedule"] = _text(params, "scheduleExpression")
        found["event bus"] = _text(params, "eventBusName")
    elif event_name == "PutTargets":
        targets = [obj(t) for t in params.get("targets") or [] if isinstance(t, dict)][:_MAX_TAGS]
        found["targets"] = clean(", ".join(f"{_text(t, 'id')}: {_text(t, 'arn')}" for t in targets), 300)
    elif event_name == "RemoveTargets":
        ids = [clean(i, 64) for i in params.get("ids") or [] if isinstance(i, str)][:_MAX_TAGS]
        found["targets removed"] = ", ".join(ids)
    elif event_name in ("DisableRule", "DeleteRule"):
        found["event bus"] = _text(params, "eventBusName")
    elif event_name in ("UpdateSchedule", "DeleteSchedule"):
        found["group"] = _text(params, "GroupName") or "default"
        if event_name == "UpdateSchedule":
            found["state"] = _text(params, "State") or "ENABLED (the default)"
            found["target"] = _text(_node(params, "Target"), "Arn")
            found["schedule"] = _text(params, "ScheduleExpression")
    elif event_name in ROLE_CALLS.names:
        found["policy"] = _text(params, "policyArn", "policyName", "permissionsBoundary")
        found["document"] = clean(_text(params, "policyDocument"), 300)
        found["max session"] = clean(params.get("maxSessionDuration"), 16) if "maxSessionDuration" in params else ""
    elif event_name == "PutConfigRule":
        rule = _node(params, "ConfigRule")
        scope = _node(rule, "Scope")
        types = [clean(t, 64) for t in scope.get("complianceResourceTypes") or [] if isinstance(t, str)]
        found["state"] = _text(rule, "ConfigRuleState") or "ACTIVE (the default)"
        found["source"] = _text(_node(rule, "Source"), "SourceIdentifier")
        found["scope"] = clean(", ".join(types[:_MAX_TAGS]), 300)
        found["frequency"] = _text(rule, "MaximumExecutionFrequency")
    return {key: value for key, value in found.items() if value}


_CONTROL_MEANINGS = {
    "DisableRule": "the events it matched no longer reach mlwarden",
    "DeleteRule": "the events it matched no longer reach mlwarden",
    "RemoveTargets": "the events it matches no longer reach mlwarden's function",
    "PutTargets": "the events it matches now go to the targets named",
    "PutRule": "it now matches what the new pattern says, in the state given",
    "DeleteSchedule": "the rule's periodic sweep no longer runs",
    "UpdateSchedule": "the sweep now runs as the new definition says (a full replace: check its state and target)",
    "DeleteConfigRule": "AWS Config no longer evaluates the rule's resources nor triggers its function",
    "PutConfigRule": "AWS Config now evaluates as the new definition says (check its state, scope and source)",
    "DeleteRole": "mlwarden can no longer act, or forward events, there",
    "DetachRolePolicy": "mlwarden may no longer be allowed what it needs there",
    "DeleteRolePolicy": "mlwarden may no longer be allowed what it needs there",
    "AttachRolePolicy": "the role may now do more than the rule needs (check the policy)",
    "PutRolePolicy": "the role may now do more, or less, than the rule needs (check the policy)",
    "PutRolePermissionsBoundary": "the boundary may deny what mlwarden needs there",
    "DeleteRolePermissionsBoundary": "the role is no longer bounded",
    "UpdateAssumeRolePolicy": "who may assume the role changed (check that only mlwarden's central function may)",
    "UpdateRole": "the role's session duration or description changed",
}


def control_meaning(report: TamperReport) -> str:
    """What the change does to mlwarden, and how to undo it."""
    text = _CONTROL_MEANINGS.get(report.event_name, "")
    if report.target.startswith(WATCH_NAME):
        text += "; it is the tamper watch's own rule: what it watched may go unreported until it is restored"
    if text and (report.member or report.resource_kind == IAM_ROLE):
        return f"{text}; update the member StackSet's instance in that account (or detect drift) to restore it"
    return f"{text}; redeploy mlwarden (cdk deploy) to restore it" if text else ""


def control_report(event: dict[str, Any]) -> TamperReport | None:
    """The report for a change to one of mlwarden's EventBridge rules, schedules or Config rules; None for
    another's. A PutConfigRule naming the rule by ARN or id only comes with ``reference`` set and the target
    still unknown: the function asks AWS Config which rule that is before it reports."""
    record, caller, name, event_id, event_time, region, account = _record_basics(event)
    params = obj(record.get("requestParameters"))
    resource_kind, target, reference = _control_target(str(record.get("eventSource") or ""), params)
    if not target.startswith(NAME_PREFIX) and not reference:
        return None
    report = TamperReport(
        kind=KIND_CONTROL,
        event_name=name,
        target=target or reference,
        caller=caller,
        event_time=event_time,
        event_id=event_id,
        region=region,
        account=account,
        resource_kind=resource_kind,
        changes=_control_changes(name, params),
        reference=reference,
    )
    report.value_note = control_meaning(report)
    return report


def mark_member(report: TamperReport, own_account: str) -> None:
    """Organization mode: a change made in another account than the watch's own (a member's, forwarded to the
    central bus) is said to be so, in the subject, the summary and what to do."""
    if not (own_account and report.account and report.account != own_account):
        return
    report.member = True
    if report.kind == KIND_CONTROL:
        report.value_note = control_meaning(report)


def meaning(parameter: str, value: str | None, deleted: bool = False) -> str:
    """What a switch's current value (or its absence) does, in words (as mlwarden.core.modes reads it)."""
    rule = ""
    if parameter.startswith(f"{PARAMETER_PREFIX}rules/") and parameter.endswith("/mode"):
        rule = parameter[len(f"{PARAMETER_PREFIX}rules/") : -len("/mode")]
    if deleted:
        if parameter == KILL_SWITCH_PARAMETER:
            return "without the parameter the kill switch counts as off: remediation resumes where rules allow it"
        return f"rule {rule} falls back to its deploy-time default mode" if rule else ""
    if value is None:
        return ""
    value = value.strip()
    if parameter == KILL_SWITCH_PARAMETER:
        return "every remediation is stopped (alerts go on)" if value.lower() == "on" else ""
    if rule:
        return {
            "off": f"rule {rule} is switched off: it neither alerts nor remediates",
            "notify": f"rule {rule} alerts but does not remediate",
            "remediate": f"rule {rule} remediates",
        }.get(value, f"rule {rule} has an invalid mode and falls back to its deploy-time default")
    return ""
