"""AWS resource types as declared data: where each type lives, once, for every rule that judges it.

A ``ResourceType`` says how CloudTrail events, AWS Config items, Security Hub findings and ARNs name a resource
of the type; which calls list it, read it (``reads``: "describe" and any other attribute a rule judges) and read
its tags; which error codes mean it is gone; its console page; and — derived from all that, never listed again —
the IAM read actions and resource ARNs those calls need (``ResourceType.permissions``).

A rule declares its type(s) in its spec (``RuleSpec.resources``) and the reads it judges (``RuleSpec.reads``);
``mlwarden.core.spec.Rule`` turns the declarations into the hooks the engine calls. The functions below are the
only code that interprets the declarations.

The types themselves are in one module per service (``mlwarden.resources.sagemaker`` …); ``by_name`` finds
one by its CloudFormation/Config name.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.errors import error_code, error_message
from mlwarden.core.model import ResourceGone, ResourceRef
from mlwarden.core.reads import freeze

if TYPE_CHECKING:
    from mlwarden.core.context import RuleContext

# Placeholders a call's parameters may use (at any depth): the resource's id (name), its ARN, account and region.
ID, ARN, ACCOUNT, REGION = "{id}", "{arn}", "{account}", "{region}"
ACCOUNT_ID = re.compile(r"^\d{12}$")
# How Security Hub names the account in account-level findings ("AWS::::Account:<account id>").
ACCOUNT_RESOURCE_PREFIX = "AWS::::Account:"


@dataclass(frozen=True)
class Read:
    """One call that reads an attribute of a resource (``describe`` is the main one)."""

    operation: str  # boto3 method (or paginator), e.g. "describe_notebook_instance"
    action: str  # IAM action, e.g. "sagemaker:DescribeNotebookInstance"
    params: Mapping[str, Any]  # e.g. {"NotebookInstanceName": ID}; a caller may add more (``read(..., **params)``)
    result_key: str = ""  # the answer's field holding the attribute ("" = the whole answer)
    # A paginated List* call (``operation`` names its paginator): the read answers every page's ``result_key``
    # items, in one list.
    paginated: bool = False
    # Error codes meaning "the resource exists but has no such setting": the read answers ``absent``.
    absent_codes: frozenset[str] = frozenset()
    # (error code, message fragment) answers that also mean "absent" where the code alone is ambiguous
    # (Macie answers AccessDeniedException "Macie is not enabled." for an account without a session).
    absent_messages: tuple[tuple[str, str], ...] = ()
    absent: Any = None  # answered as a copy: a rule may change its state
    # Where the action has no resource-level permission (e.g. account settings): granted on "*".
    unscoped: bool = False
    # The attribute is a JSON document in a string (a policy): answered parsed; it must be a JSON object.
    json_document: bool = False

    def __post_init__(self) -> None:
        if self.paginated and not self.result_key:
            raise ValueError(f"{self.operation}: a paginated read names the result_key whose items it collects")


@dataclass(frozen=True)
class Listing:
    """The List* call of a type (sweeps): each item names one resource."""

    paginator: str  # the boto3 paginator (or, not ``paginated``, method), e.g. "list_notebook_instances"
    action: str  # e.g. "sagemaker:ListNotebookInstances"
    items_key: str  # e.g. "NotebookInstances"
    id_key: str  # e.g. "NotebookInstanceName"
    arn_key: str = ""  # e.g. "NotebookInstanceArn"
    params: Mapping[str, Any] = field(default_factory=dict)  # server-side filters, with REGION placeholders
    # Item field naming the resource's region; items of other regions are skipped (S3 ListBuckets).
    region_key: str = ""
    # The ref is read from the item's ARN (``arn_key``) instead of ``id_key``: for types whose id is more than
    # the listed name (a versioned model package is "<group>/<version>", its listed name the group's).
    id_from_arn: bool = False
    # Item field naming the owner account (EC2 OwnerId): the ref gets it, and its ARN when the item has none.
    account_key: str = ""
    # False: one call answers every resource of the region (Config's recorders: at most a few, no paginator).
    paginated: bool = True


@dataclass(frozen=True)
class Tags:
    """How a resource's tags are read (for exemptions: only for violators)."""

    operation: str  # boto3 method or paginator, e.g. "list_tags"
    action: str  # e.g. "sagemaker:ListTags"
    params: Mapping[str, Any]  # e.g. {"ResourceArn": ARN}
    items_key: str = "Tags"  # a dotted path where the tags are nested, e.g. "SecurityGroups.0.Tags"
    key_field: str = "Key"
    value_field: str = "Value"
    paginated: bool = False
    absent_codes: frozenset[str] = frozenset()  # e.g. S3's NoSuchTagSet: no tags
    # The answer's ``items_key`` holds a {key: value} map instead of a list of key/value objects (AgentCore).
    as_map: bool = False
    unscoped: bool = False  # the action has no resource-level permission (EC2 Describe*)


@dataclass(frozen=True)
class ResourceType:
    name: str  # CloudFormation / AWS Config name, e.g. "AWS::SageMaker::NotebookInstance"
    service: str  # boto3 client name
    noun: str  # for messages: "notebook instance"
    # ARN template with {partition}, {region}, {account} and {id}; "" when the type has none (account settings).
    # {path} (IAM: "/" or "/division/team/") may precede {id}: it is not part of the id, names are built with "/".
    arn: str = ""
    # The form of an id: what {id} matches in an ARN (one path segment, unless the type's ids have more:
    # model-package/<group>/<n>), and, for ids the service assigns (``DomainId`` "d-…"), what a value must look
    # like to be taken for an id: a value of another form (a name) never is, whichever event, Config item or
    # ARN carries it.
    id_pattern: str = r"[^/:]+"
    arn_lowercase: bool = False  # SageMaker lower-cases names in ARNs
    # Accounts besides the caller's that own resources of the type (AWS managed IAM policies: "aws"): their ARNs
    # are of the type and its read permissions cover them.
    other_owners: tuple[str, ...] = ()
    # Fields of CloudTrail requestParameters / service-event detail naming the resource (by name or ARN); a
    # dotted path reaches into a nested field ("ModifySecurityGroupRulesRequest.GroupId").
    event_keys: tuple[str, ...] = ()
    # Fields of CloudTrail responseElements naming it (id or ARN), read when the request names it by no key
    # above: a Create call whose id the service assigns (CreateDomain sends a name, answers domainId/domainArn).
    # A dotted key reaches into an object of the answer ("memory.id": CreateMemory answers {"memory": {…}}).
    # For a type with id_parts: the objects holding the parts the request does not name (CreateDataSource
    # answers "dataSource").
    response_keys: tuple[str, ...] = ()
    # Fields of an AWS Config item naming the resource, in order, before its ARN (EC2 items name a group's
    # name in resourceName, IAM items IAM's unique id in resourceId: neither is what the calls take).
    config_keys: tuple[str, ...] = ("resourceName", "resourceId")
    # Attribute reads by name; "describe" is what a rule judges unless it declares other reads.
    reads: Mapping[str, Read] = field(default_factory=dict)
    listing: Listing | None = None
    tags: Tags | None = None
    state_arn_key: str = ""  # the describe answer's field holding the ARN (a dotted path: "Group.Arn")
    gone_codes: frozenset[str] = frozenset()
    gone_messages: tuple[str, ...] = ()  # with a ValidationException (SageMaker says "not found" that way)
    console: str = ""  # URL template with {region} and {id}
    # (describe field, values): the resource is not running (a stopped notebook), see Rule.is_stopped.
    stopped: tuple[str, tuple[str, ...]] | None = None
    # One resource per account and region (account settings): its id is the account, which ``event_keys``
    # name when an event names it (else the event's account).
    singleton: bool = False
    # Other names inputs give the resource (AWS Config evaluates account settings as "AWS::::Account"). A Config
    # item of an alias type is answered under the alias (Config reports on the type it evaluated); for a
    # singleton, "<name or alias>:<account>" (Security Hub's AwsAccount resource id) names the resource.
    aliases: tuple[str, ...] = ()
    # A resource named by several ids (a knowledge base's data source: knowledgeBaseId, dataSourceId): its
    # resource id joins them with "|", as CloudFormation and AWS Config do; a call's params name each part as
    # "{<part>}", and events and Config items name each part by the same key.
    id_parts: tuple[str, ...] = ()
    # The type a resource of this one lives in (a data source in its knowledge base, named by id_parts[0]): it
    # is listed per parent resource, authorized on the parent's ARNs and exempted by the parent's tags (a data
    # source has none of its own).
    parent: ResourceType | None = None
    # The IAM resource pattern, where the ARN cannot be built from the id (a custom model's ARN embeds its base
    # model; the ARN is then read from the resource, ``state_arn_key``).
    iam_arn: str = ""
    # Only these CloudTrail calls (eventName) and service events (detail-type) name a resource of the type, where
    # several types' events share their keys (Bedrock's Create*Job calls all carry jobName); empty: any event.
    events: tuple[str, ...] = ()
    # A global service's (IAM): every call goes to this region's endpoint; Config items without a region get it.
    home_region: str = ""
    # -- what the tamper watch (mlwarden.core.tamper) reads of the type
    # CloudTrail's eventSource of the type's calls where it is not "<service>.amazonaws.com": botocore's
    # bedrock-agent logs as bedrock.amazonaws.com, bedrock-agentcore-control as bedrock-agentcore.amazonaws.com,
    # s3control as s3.amazonaws.com (tests/unit/test_tamper_calls.py checks it against botocore's signing name).
    event_source: str = ""
    # The calls (API operation names, as botocore names them) that can set the tags exempting a resource of this
    # kind — the service's tagging call(s) and every create call whose request takes tags — or, for a type
    # exempted by another resource's tags (an S3 object by its bucket's), that resource's calls. The tamper
    # watch reports an ``mlwarden:exempt*`` tag set by any of them; tests/unit/test_tamper_calls.py fails when a
    # type a rule reads tags of declares none, or when botocore knows a create call taking tags not listed.
    tagging_calls: tuple[str, ...] = ()
    # CloudTrail appends the API version to the type's event names (Lambda: CreateFunction20150331,
    # TagResource20170331v2): the watch matches ``tagging_calls`` followed by a version.
    versioned_event_names: bool = False

    @property
    def cloudtrail_event_source(self) -> str:
        """The eventSource of the type's calls in CloudTrail (and "aws.<its first label>" on EventBridge)."""
        return self.event_source or f"{self.service}.amazonaws.com"

    # ----------------------------------------------------------------------------------------- naming
    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def arn_for(self, resource_id: str, region: str, account: str, partition: str = "aws") -> str:
        if not self.arn or ("{account}" in self.arn and not account) or ("{region}" in self.arn and not region):
            return ""
        name = resource_id.lower() if self.arn_lowercase else resource_id
        return self.arn.format(partition=partition, region=region, account=account, id=name, path="/")

    def ref(self, resource_id: str, region: str, account: str = "", arn: str = "") -> ResourceRef:
        return ResourceRef(self.name, resource_id, region, account, arn or self.arn_for(resource_id, region, account))

    @property
    def _arn_pattern(self) -> re.Pattern[str] | None:
        if not self.arn:
            return None
        return _arn_regex(self.arn, self.id_pattern, self.other_owners)

    def is_id(self, value: str) -> bool:
        """Whether ``value`` has the form of this type's ids (any non-empty name when ids are names)."""
        return bool(value) and (not self.id_pattern or re.fullmatch(self.id_pattern, value) is not None)

    def ref_from_arn(self, arn: str, region: str = "", account: str = "") -> ResourceRef | None:
        """A ref for an ARN of this type; None for any other ARN. A type with ``id_parts`` has no ARN: it takes
        its composite id ("kb-id|ds-id", as AWS Config and Security Hub name such a resource)."""
        if self.singleton and isinstance(arn, str):
            name, _, named = arn.rpartition(":")
            if name in self.names and ACCOUNT_ID.match(named):
                return self.ref(named, region, named)
        if self.id_parts:
            ids = arn.split("|") if isinstance(arn, str) else []
            if len(ids) == len(self.id_parts) and all(p and ":" not in p and "/" not in p for p in ids):
                return self.ref(arn, region, account)
            return None
        pattern = self._arn_pattern
        match = pattern.match(arn) if pattern is not None and isinstance(arn, str) else None
        if match is None or not self.is_id(match["id"]):
            return None
        parts = match.groupdict()
        return ResourceRef(self.name, parts["id"], parts.get("region") or region, parts.get("account") or account, arn)

    def ref_from_name(self, value: str, region: str, account: str) -> ResourceRef | None:
        """A ref for a name or an ARN of this type (an ARN's own region and account win)."""
        if value.startswith("arn:"):
            return self.ref_from_arn(value, region, account)
        return self.ref(value, region, account) if self.is_id(value) else None

    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        """The resource a CloudTrail event (requestParameters, then ``event_keys`` paths in the record, then
        ``response_keys``, then resources[]) or a service event names."""
        region, account = events.region(event, self.home_region or "us-east-1"), events.account(event)
        params, detail = events.request_parameters(event), events.detail(event)
        if self.singleton:
            named = str(next((params[key] for key in self.event_keys if params.get(key)), account))
            return [self.ref(named, region, named)] if ACCOUNT_ID.match(named) else []
        if self.events and detail.get("eventName") not in self.events and event.get("detail-type") not in self.events:
            return []
        if self.id_parts:
            # Each part in requestParameters or in an object a response key reaches (the created resource).
            response = events.response_elements(event)
            holders = [params, *(_dig(response, key) for key in self.response_keys)]
            parts = [
                next((h[p] for h in holders if isinstance(h, dict) and _text(h.get(p))), "") for p in self.id_parts
            ]
            return [self.ref("|".join(parts), region, account)] if all(parts) else []
        for key in self.event_keys:
            value = _dig(params, key) or _dig(detail, key)
            if isinstance(value, str) and value:
                ref = self.ref_from_name(value, region, account)
                return [ref] if ref is not None else []
        response = events.response_elements(event)
        for key in self.response_keys:
            value = _dig(response, key)
            if isinstance(value, str) and value:
                ref = self.ref_from_name(value, region, account)
                return [ref] if ref is not None else []
        for resource in detail.get("resources") or []:
            if isinstance(resource, dict) and resource.get("type") == self.name and resource.get("ARN"):
                ref = self.ref_from_arn(str(resource["ARN"]), region, account)
                if ref is not None:
                    return [ref]
        return []

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        """The resource an AWS Config item (or compliance result) names; None when it is another type's."""
        named_type = item.get("resourceType")
        if named_type not in (None, "", *self.names):
            return None
        region, account = str(item.get("awsRegion") or self.home_region), str(item.get("awsAccountId", ""))
        if self.singleton:
            account = account or str(item.get("resourceId") or "")
            if not ACCOUNT_ID.match(account):
                return None
            own = self.ref(account, region or "us-east-1", account)
            return replace(own, resource_type=str(named_type)) if named_type in self.aliases else own
        if self.id_parts:
            configuration = events.obj(item.get("configuration"))
            parts = [configuration.get(p) or configuration.get(p[0].upper() + p[1:]) for p in self.id_parts]
            if all(isinstance(part, str) and part for part in parts):
                return self.ref("|".join(str(part) for part in parts), region, account)
            return self.ref_from_arn(str(item.get("resourceId") or ""), region, account)
        arn = str(item.get("ARN") or item.get("arn") or "")
        names = [*(item.get(key) for key in self.config_keys), arn]
        # The first that is an ARN or has the form of an id (a domain's name is not its id: the item's
        # resourceId or ARN is then used).
        name = next((n for n in names if isinstance(n, str) and (n.startswith("arn:") or self.is_id(n))), None)
        if not name:
            return None
        if name.startswith("arn:"):
            ref = self.ref_from_arn(name, region, account)
            return (
                ref
                if ref is None or not arn
                else ResourceRef(ref.resource_type, ref.resource_id, ref.region, ref.account, arn)
            )
        return self.ref(name, region, account, arn)

    def console_url(self, ref: ResourceRef) -> str:
        """The console page; its template may use {region}, {id}, {account} and {arn} (percent-encoded: a
        path segment)."""
        region = ref.region or self.home_region
        if not self.console or not region:
            return ""
        arn = ref.arn.replace(":", "%3A").replace("/", "%2F")
        return self.console.format(region=region, id=ref.resource_id, account=ref.account, arn=arn)

    # ---------------------------------------------------------------------------------- permissions
    @property
    def iam_resource(self) -> str:
        """The IAM resource pattern of every resource of the type ("*" when it has no ARN)."""
        if self.iam_arn:
            return self.iam_arn
        if self.parent is not None:
            return self.parent.iam_resource
        if not self.arn:
            return "*"
        return self.arn.replace("{path}", "/").replace("{id}", "*")

    @property
    def iam_resources(self) -> tuple[str, ...]:
        """The IAM resource patterns of the type: the caller's resources, then those of ``other_owners``."""
        pattern = self.iam_resource
        return (pattern, *(pattern.replace("{account}", owner) for owner in self.other_owners if pattern != "*"))

    @property
    def tags_type(self) -> ResourceType | None:
        """The type whose tags exempt a resource of this one: its own, else its parent's."""
        if self.tags is not None:
            return self
        return self.parent.tags_type if self.parent is not None else None

    @property
    def listings(self) -> tuple[Listing, ...]:
        """The listings a sweep of the type calls: the parent's, then its own."""
        own = (self.listing,) if self.listing is not None else ()
        return (self.parent.listings if self.parent is not None else ()) + own

    def actions(self, reads: tuple[str, ...] = ("describe",), *, tags: bool = True) -> tuple[str, ...]:
        """The IAM actions of the named reads (and of reading tags)."""
        found = [self.reads[name].action for name in reads if name in self.reads]
        tagged = self.tags_type
        if tags and tagged is not None and tagged.tags is not None:
            found.append(tagged.tags.action)
        return tuple(dict.fromkeys(found))

    def unscoped_actions(self, reads: tuple[str, ...] = ("describe",)) -> tuple[str, ...]:
        out = [self.reads[name].action for name in reads if name in self.reads and self.reads[name].unscoped]
        if self.tags is not None and self.tags.unscoped:
            out.append(self.tags.action)
        out += [listing.action for listing in self.listings]  # List* calls: granted on "*"
        if self.iam_resource == "*":
            out += list(self.actions(reads))
        return tuple(dict.fromkeys(out))

    # -------------------------------------------------------------------------------------- errors
    def is_gone(self, exc: BaseException) -> bool:
        code = error_code(exc)
        if code in self.gone_codes:
            return True
        message = error_message(exc).lower()
        return code == "ValidationException" and any(m in message for m in self.gone_messages)

    def gone(self, ref: ResourceRef) -> ResourceGone:
        return ResourceGone(f"{self.noun} {ref.resource_id}")


@cache  # a type's ARN pattern is built once, not on every ARN an event or listing names
def _arn_regex(template: str, id_pattern: str, other_owners: tuple[str, ...] = ()) -> re.Pattern[str]:
    owners = "".join(f"|{re.escape(owner)}" for owner in other_owners)
    groups = {
        "partition": r"(?P<partition>aws[a-z-]*)",
        "region": r"(?P<region>[a-z0-9-]*)",
        "account": rf"(?P<account>\d{{12}}{owners}|)",
        "path": r"(?P<path>/(?:[^:]*/)?)",  # "/" or "/a/b/": greedy, so the id is the last segment
        "id": f"(?P<id>{id_pattern})",
    }
    pattern, last = "", 0
    for match in re.finditer(r"\{(partition|region|account|path|id)\}", template):
        pattern += re.escape(template[last : match.start()]) + groups[match.group(1)]
        last = match.end()
    return re.compile("^" + pattern + re.escape(template[last:]) + "$")


def _dig(value: Any, path: str) -> Any:
    """The field at a dotted path ("a.b", "items.0.c"); None where there is none."""
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


# ------------------------------------------------------------------------------------------ calls
def _fill(
    params: Mapping[str, Any], ref: ResourceRef, arn: str = "", rtype: ResourceType | None = None
) -> dict[str, Any]:
    values = {ID: ref.resource_id, ARN: arn or ref.arn or ref.resource_id, ACCOUNT: ref.account, REGION: ref.region}
    if rtype is not None and rtype.id_parts:
        values.update(zip((f"{{{part}}}" for part in rtype.id_parts), ref.resource_id.split("|"), strict=False))

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return values.get(value, value)
        if isinstance(value, Mapping):
            return {key: fill(inner) for key, inner in value.items()}
        if isinstance(value, list | tuple):
            return [fill(inner) for inner in value]
        return value

    return {key: fill(value) for key, value in params.items()}


def _client(ctx: RuleContext, rtype: ResourceType, region: str, account: str = "") -> Any:
    return ctx.client(rtype.service, rtype.home_region or region, account)


def read(ctx: RuleContext, rtype: ResourceType, ref: ResourceRef, name: str = "describe", **params: Any) -> Any:
    """One attribute of the resource as it is now: ``ResourceGone`` when the resource is gone, the read's
    ``absent`` value when the resource has no such setting. ``params`` add to the read's own (e.g. the
    version of a policy to read). Within one CLI run (``ctx.reads``), each read is made once for every rule."""
    if name not in rtype.reads:
        raise KeyError(name)
    shared = getattr(ctx, "reads", None)  # a RuleContext; test doubles may have none
    if shared is None:
        return _read(ctx, rtype, ref, name, params)
    key = ("read", name, freeze(params))
    return shared.get(shared.resource_key(ref, rtype.name), key, lambda: _read(ctx, rtype, ref, name, params))


def _read(ctx: RuleContext, rtype: ResourceType, ref: ResourceRef, name: str, params: dict[str, Any]) -> Any:
    spec = rtype.reads[name]
    client = _client(ctx, rtype, ref.region, ref.account)
    call = {**_fill(spec.params, ref, rtype=rtype), **params}
    try:
        if spec.paginated:
            pages = client.get_paginator(spec.operation).paginate(**call)
            return [item for page in pages for item in page.get(spec.result_key) or []]
        response = getattr(client, spec.operation)(**call)
    except ClientError as exc:
        code, message = error_code(exc), error_message(exc).lower()
        if code in spec.absent_codes or any(code == c and m.lower() in message for c, m in spec.absent_messages):
            return copy.deepcopy(spec.absent)
        if rtype.is_gone(exc):
            raise rtype.gone(ref) from exc
        raise
    if spec.result_key:
        value = response.get(spec.result_key)
        if value is None:
            return copy.deepcopy(spec.absent)
        if spec.json_document and isinstance(value, str):
            value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError(f"the {name} of {rtype.noun} {ref.resource_id} is not a JSON object")
        return value
    answer = dict(response)
    answer.pop("ResponseMetadata", None)
    return answer


def list_refs(ctx: RuleContext, rtype: ResourceType, region: str) -> Iterator[ResourceRef]:
    """Every resource of the type in the region (the listing's paginator, with its server-side filters; a child
    type's listing once per parent resource). A singleton is the one of the deployment's account, else of the
    caller's (``sts:GetCallerIdentity``, which needs no permission; a failure is the sweep's failure to list,
    said so by the engine)."""
    if rtype.singleton:
        # The account a sweep of a member account lists in (organization mode), else the deployment's, else the
        # caller's (GetCallerIdentity needs no permission).
        account = (
            getattr(ctx, "account", "")
            or ctx.own_account()
            or str(ctx.client("sts", region).get_caller_identity()["Account"])
        )
        if account:
            yield rtype.ref(account, region, account)
        return
    listing = rtype.listing
    if listing is None:
        return
    parents: Iterable[ResourceRef | None] = [None]
    if rtype.parent is not None:
        parents = list_refs(ctx, rtype.parent, region)
    client = _client(ctx, rtype, region)
    for parent in parents:
        params = {key: (region if value == REGION else value) for key, value in listing.params.items()}
        prefix = ""
        if parent is not None:
            params = _fill(params, parent, rtype=rtype)
            prefix = parent.resource_id + "|"
        if listing.paginated:
            pages = client.get_paginator(listing.paginator).paginate(**params)
        else:
            pages = [getattr(client, listing.paginator)(**params)]
        for page in pages:
            for item in page.get(listing.items_key, []):
                if listing.region_key and (item.get(listing.region_key) or region) != region:
                    continue
                if listing.id_from_arn:
                    ref = rtype.ref_from_arn(str(item.get(listing.arn_key) or ""), region)
                    if ref is not None:
                        yield ref
                    continue
                resource_id = prefix + str(item[listing.id_key])
                account = str(item.get(listing.account_key) or "") if listing.account_key else ""
                arn = str(item.get(listing.arn_key) or "")  # else built from the type's template
                yield ResourceRef(
                    rtype.name, resource_id, region, account, arn or rtype.arn_for(resource_id, region, account)
                )


def read_tags(ctx: RuleContext, rtype: ResourceType, ref: ResourceRef, arn: str = "") -> dict[str, str] | None:
    """The resource's tags (a child type's: its parent's); None when the type has none; ``ResourceGone`` when it
    disappeared meanwhile."""
    if rtype.tags is None and rtype.parent is not None:
        parent_id = ref.resource_id.split("|", 1)[0]
        return read_tags(ctx, rtype.parent, rtype.parent.ref(parent_id, ref.region, ref.account))
    if rtype.tags is None:
        return None
    shared = getattr(ctx, "reads", None)  # a RuleContext; test doubles may have none
    if shared is None:
        return _read_tags(ctx, rtype, ref, arn)
    found: dict[str, str] = shared.get(
        shared.resource_key(ref, rtype.name), ("tags", arn), lambda: _read_tags(ctx, rtype, ref, arn)
    )
    return found


def _read_tags(ctx: RuleContext, rtype: ResourceType, ref: ResourceRef, arn: str) -> dict[str, str]:
    spec = rtype.tags
    assert spec is not None
    client = _client(ctx, rtype, ref.region, ref.account)
    params = _fill(spec.params, ref, arn, rtype)
    found: dict[str, str] = {}
    try:
        if spec.paginated:
            pages = client.get_paginator(spec.operation).paginate(**params)
        else:
            pages = [getattr(client, spec.operation)(**params)]
        for page in pages:
            items = _dig(page, spec.items_key) or {}
            if spec.as_map:
                found.update({str(key): str(value) for key, value in dict(items).items()})
                continue
            for tag in items:
                found[str(tag[spec.key_field])] = str(tag[spec.value_field])
    except ClientError as exc:
        if error_code(exc) in spec.absent_codes:
            return {}
        if rtype.is_gone(exc):
            raise rtype.gone(ref) from exc
        raise
    return found


@contextmanager
def gone_guard(rtype: ResourceType, ref: ResourceRef) -> Iterator[None]:
    """Calls inside (a fix's writes) raise ``ResourceGone`` when the type's gone codes answer: the resource was
    deleted between the read and the write."""
    try:
        yield
    except ClientError as exc:
        if rtype.is_gone(exc):
            raise rtype.gone(ref) from exc
        raise


def arn_of(rtype: ResourceType, ref: ResourceRef, state: Any) -> str:
    """The resource's ARN: from its described state when the type says where, else the ref's. The state is the
    describe answer itself, the reads by name (``{"describe": …}``), or the answer as AWS sends it (the
    describe read's ``result_key`` wrapping it, e.g. ``{"KeyMetadata": …}``); the key may be a dotted path."""
    key = rtype.state_arn_key
    if key and isinstance(state, dict):
        describe = rtype.reads.get("describe")
        wrapped = state.get(describe.result_key) if describe is not None and describe.result_key else None
        for found in (state, state.get("describe"), wrapped):
            arn = _dig(found, key) if isinstance(found, dict) else None
            if isinstance(arn, str) and arn:
                return arn
    return ref.arn


# ---------------------------------------------------------------------------------------- catalog
def by_name(name: str) -> ResourceType:
    """The declared type of a CloudFormation/Config name (e.g. "AWS::S3::Bucket")."""
    from mlwarden.resources.catalog import TYPES

    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"no resource type {name!r} is declared in mlwarden.resources") from None
