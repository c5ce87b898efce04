"""Reading the inputs a rule Lambda accepts: EventBridge events and AWS Config rule invocations.

Only ids, names and verdicts are ever logged from these; never whole events (Macie findings can carry
sample PII).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

CONFIG_INVOCATION = "config"
EVENTBRIDGE = "eventbridge"


class MalformedEvent(ValueError):
    """The input is not an event a rule accepts; the message says what is missing."""


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


def detail(event: dict[str, Any]) -> dict[str, Any]:
    value = event.get("detail") or {}
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def event_id(event: dict[str, Any]) -> str:
    """EventBridge id, else the CloudTrail event id or finding id inside."""
    d = detail(event)
    return _str(event.get("id")) or _str(d.get("eventID")) or _str(d.get("id"))


def event_time(event: dict[str, Any]) -> str:
    d = detail(event)
    return _str(event.get("time")) or _str(d.get("eventTime")) or _str(d.get("updatedAt"))


def region(event: dict[str, Any], default: str = "") -> str:
    d = detail(event)
    return _str(d.get("awsRegion")) or _str(event.get("region")) or _str(d.get("region")) or default


def account(event: dict[str, Any]) -> str:
    d = detail(event)
    return (
        _str(event.get("account"))
        or _str(d.get("recipientAccountId"))
        or _str(d.get("accountId"))
        or _str(obj(d.get("userIdentity")).get("accountId"))
    )


def request_parameters(event: dict[str, Any]) -> dict[str, Any]:
    params = detail(event).get("requestParameters")
    return params if isinstance(params, dict) else {}


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
    """The invokingEvent of a Config rule invocation, decoded."""
    raw = event.get("invokingEvent")
    try:
        invoking = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"Config invocation has an invokingEvent that is not JSON ({exc.msg})") from None
    if not isinstance(invoking, dict) or "messageType" not in invoking:
        raise MalformedEvent("Config invocation has no invokingEvent.messageType")
    return invoking
