"""Reading the inputs a rule Lambda accepts: EventBridge events and AWS Config rule invocations.

Only ids, names and verdicts are ever logged from these; never whole events (Macie findings can carry
sample PII). Messages about malformed input name the field and the type expected, never the value found.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

CONFIG_INVOCATION = "config"
EVENTBRIDGE = "eventbridge"
# Deeper than any event AWS delivers; deep enough input would exhaust the recursion of the parsing,
# matching and output code (RecursionError), so it is rejected first as malformed.
MAX_DEPTH = 64
CONFIG_MESSAGE_TYPES = (
    "ConfigurationItemChangeNotification",
    "OversizedConfigurationItemChangeNotification",
    "ScheduledNotification",
)
# The string fields the engine and the rules read from a configuration item (or its summary).
CONFIG_ITEM_STRINGS = (
    "resourceType",
    "resourceId",
    "resourceName",
    "ARN",
    "arn",
    "awsAccountId",
    "awsRegion",
    "configurationItemStatus",
    "configurationItemCaptureTime",
)
CONFIG_INVOCATION_STRINGS = ("configRuleName", "configRuleArn", "accountId", "resultToken")


# The input of a rule's scheduled sweep (EventBridge Scheduler, mlwarden_cdk/guarded_rule.py): shaped like an
# EventBridge event so it is read like one. No EventBridge pattern of mlwarden matches this source, and only
# AWS services may publish "aws.*" sources, so it reaches a function only through its own schedule (or
# lambda:InvokeFunction, which is already more power than a sweep gives: a sweep judges live state only).
SWEEP_SOURCE = "mlwarden.schedule"
SWEEP_DETAIL_TYPE = "Scheduled Sweep"


class MalformedEvent(ValueError):
    """The input is not an event a rule accepts; the message says what is missing."""


def json_type(value: Any) -> str:
    """The JSON name of a value's type (for messages: the type of a bad field is shown, never its value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects/arrays nest more than ``limit`` levels (iterative: any depth is safe to measure)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def object_field(value: Any, field: str) -> dict[str, Any]:
    """A field that must be a JSON object when present: null/absent reads as empty, anything else is malformed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(f"{field} is a JSON {json_type(value)}, not an object")
    return value


def array_field(value: Any, field: str) -> list[Any]:
    """A field that must be a JSON array when present: null/absent reads as empty, anything else is malformed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedEvent(f"{field} is a JSON {json_type(value)}, not an array")
    return value


def string_fields(container: dict[str, Any], names: tuple[str, ...], where: str) -> None:
    """Each named field, when present and not null, must be a string."""
    for name in names:
        value = container.get(name)
        if value is not None and not isinstance(value, str):
            raise MalformedEvent(f"{where}.{name} is a JSON {json_type(value)}, not a string")


def count(value: Any, field: str) -> int:
    """A count (non-negative integer) from a finding; null/absent is 0."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise MalformedEvent(f"{field} is not a non-negative integer (a JSON {json_type(value)})")


def kind_of(event: Any) -> str:
    if not isinstance(event, dict):
        raise MalformedEvent(f"event is a JSON {type(event).__name__}, not an object")
    if "invokingEvent" in event and "resultToken" in event:
        return CONFIG_INVOCATION
    if "detail-type" in event and "source" in event:
        if not isinstance(event.get("detail", {}), dict):
            raise MalformedEvent("EventBridge event has a 'detail' that is not an object")
        return EVENTBRIDGE
    raise MalformedEvent("not an EventBridge event (no 'source'/'detail-type') nor an AWS Config invocation")


def is_scheduled_sweep(event: dict[str, Any]) -> bool:
    return event.get("source") == SWEEP_SOURCE and event.get("detail-type") == SWEEP_DETAIL_TYPE


def scheduled_sweep_input(rule_id: str, account: str, region: str) -> dict[str, Any]:
    """What a rule's schedule sends its function; ``<aws.scheduler.…>`` are filled in by EventBridge Scheduler
    (the execution id makes each run one event for exactly-once)."""
    return {
        "version": "0",
        "id": "<aws.scheduler.execution-id>",
        "source": SWEEP_SOURCE,
        "detail-type": SWEEP_DETAIL_TYPE,
        "time": "<aws.scheduler.scheduled-time>",
        "account": account,
        "region": region,
        "resources": [],
        "detail": {"rule_id": rule_id},
    }


def detail(event: dict[str, Any]) -> dict[str, Any]:
    value = event.get("detail") or {}
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def event_id(event: dict[str, Any]) -> str:
    """EventBridge id, else the CloudTrail event id or finding id inside."""
    d = detail(event)
    return _str(event.get("id")) or _str(d.get("eventID")) or _str(d.get("id"))


def delivery_key(event: dict[str, Any]) -> str:
    """What makes two deliveries "the same event": the CloudTrail record's own id when there is one (the same
    API call, however often it is published or delivered), else the EventBridge id."""
    d = detail(event)
    if _str(event.get("detail-type")) == "AWS API Call via CloudTrail" and _str(d.get("eventID")):
        return "cloudtrail:" + _str(d.get("eventID"))
    return event_id(event)


def event_time(event: dict[str, Any]) -> str:
    d = detail(event)
    return _str(event.get("time")) or _str(d.get("eventTime")) or _str(d.get("updatedAt"))


def region(event: dict[str, Any], default: str = "") -> str:
    d = detail(event)
    return _str(d.get("awsRegion")) or _str(event.get("region")) or _str(d.get("region")) or default


def account(event: dict[str, Any]) -> str:
    """The account the event is about: a CloudTrail record's ``recipientAccountId`` (where the call was made)
    first — an event forwarded to another account's bus keeps its sender's ``account`` on AWS, but a local AWS
    may rewrite it to the receiver's — else the envelope's account, else the detail's."""
    d = detail(event)
    return (
        _str(d.get("recipientAccountId"))
        or _str(event.get("account"))
        or _str(d.get("accountId"))
        or _str(obj(d.get("userIdentity")).get("accountId"))
    )


def envelope_account(event: dict[str, Any]) -> str:
    """The envelope's ``account``: on AWS, the account an event forwarded across accounts came from."""
    return _str(event.get("account"))


def recipient_account(event: dict[str, Any]) -> str:
    """A CloudTrail record's ``recipientAccountId`` (the account the call was made in), or ""."""
    return _str(detail(event).get("recipientAccountId"))


def request_parameters(event: dict[str, Any]) -> dict[str, Any]:
    params = detail(event).get("requestParameters")
    return params if isinstance(params, dict) else {}


def response_elements(event: dict[str, Any]) -> dict[str, Any]:
    """A CloudTrail record's ``responseElements`` (what AWS answered; null for calls with an empty answer)."""
    value = detail(event).get("responseElements")
    return value if isinstance(value, dict) else {}


def obj(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one: event fields are never trusted to have a type."""
    return value if isinstance(value, dict) else {}


def caller_arn(event: dict[str, Any]) -> str:
    """The principal behind a CloudTrail call: the role for assumed-role sessions, else the caller's ARN."""
    identity = obj(detail(event).get("userIdentity"))
    issuer = obj(obj(identity.get("sessionContext")).get("sessionIssuer"))
    return _str(issuer.get("arn")) or _str(identity.get("arn"))


def session_arn(event: dict[str, Any]) -> str:
    """The caller's own ARN (for an assumed role: the session, whose name the caller chose)."""
    return _str(obj(detail(event).get("userIdentity")).get("arn"))


def issuer_arn(event: dict[str, Any]) -> str:
    """The role (or user) that issued the caller's session: ``sessionContext.sessionIssuer.arn``, set by AWS.
    Empty for callers without an issued session (IAM users, root, AWS services)."""
    identity = obj(detail(event).get("userIdentity"))
    return _str(obj(obj(identity.get("sessionContext")).get("sessionIssuer")).get("arn"))


def describe(event: dict[str, Any]) -> dict[str, str]:
    """Safe-to-log summary of an EventBridge event."""
    wrapped = EventBridgeEvent(event)
    d = detail(event)
    return {
        "event_id": event_id(event),
        "source": _str(wrapped.get("source")),
        "detail_type": _str(wrapped.get("detail-type")),
        "event_name": _str(d.get("eventName")) or _str(d.get("type")),
    }


def parse_config_invocation(event: dict[str, Any]) -> dict[str, Any]:
    """The invokingEvent of a Config rule invocation, decoded and checked: every field the engine and the
    rules read has the type they expect, or MalformedEvent names the field (never its value)."""
    string_fields(event, CONFIG_INVOCATION_STRINGS, "Config invocation")
    raw = event.get("invokingEvent")
    try:
        invoking = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"Config invocation has an invokingEvent that is not JSON ({exc.msg})") from None
    except RecursionError:
        raise MalformedEvent(f"Config invocation has an invokingEvent nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(invoking, dict) or "messageType" not in invoking:
        raise MalformedEvent("Config invocation has no invokingEvent.messageType")
    if deeper_than(invoking):
        raise MalformedEvent(f"Config invocation has an invokingEvent nested deeper than {MAX_DEPTH} levels")
    message_type = invoking["messageType"]
    if not isinstance(message_type, str):
        raise MalformedEvent(f"invokingEvent.messageType is a JSON {json_type(message_type)}, not a string")
    if message_type not in CONFIG_MESSAGE_TYPES:
        raise MalformedEvent(f"invokingEvent.messageType is not one of {', '.join(CONFIG_MESSAGE_TYPES)}")
    string_fields(invoking, ("notificationCreationTime",), "invokingEvent")
    for name in ("configurationItem", "configurationItemSummary"):
        item = object_field(invoking.get(name), f"invokingEvent.{name}")
        string_fields(item, CONFIG_ITEM_STRINGS, f"invokingEvent.{name}")
    return invoking
