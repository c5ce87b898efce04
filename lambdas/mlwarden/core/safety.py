"""What makes remediation safe to leave on: exactly-once action, a loop limit, and the audit trail.

- ``ActionGuard``: Powertools Idempotency on DynamoDB, keyed on rule + resource + the *event* (its id and
  time), so the same event delivered twice (EventBridge or Lambda retries) is decided, acted on and alerted
  once — and a retry after a failed alert re-sends the stored alert instead of deciding again. A different
  event about the same resource is always decided on live state: a violation that comes back after a fix is
  fixed (and counted toward the flapping limit) again.
  It also keeps one-off markers in the same table: "this unchanged violation was already alerted" (a burst of
  distinct events about one violation in notify mode alerts once per window), "this exemption was already
  reported", and "this event's alert was delivered".
- ``RemediationLimiter``: at most N remediations per resource per hour; past that the resource is
  "flapping" (something keeps undoing the fix): mlwarden stops acting and a human is alerted.
- ``AuditLog``: one DynamoDB item per decision (verdict, action, before/after, event, causing principal).

All three are optional: the CLI runs without them; the deployed functions get their tables from the stack.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from mlwarden.core.errors import error_code
from mlwarden.core.model import Decision

logger = Logger(service="mlwarden", child=True)

DECISION_PREFIX = "decision#"
COUNTER_PREFIX = "counter#"
MARKER_PREFIX = "mlwarden-marker#"
# EventBridge retries a delivery for up to 2 hours and Lambda retries an asynchronous invocation for up to
# 6 hours: the same event can come back that late, so its outcome is kept that long.
REDELIVERY_WINDOW_SECONDS = 6 * 3600
# Powertools Idempotency's DynamoDB persistence layer: its default key and expiry attributes (the table's TTL).
KEY_ATTRIBUTE = "id"
EXPIRY_ATTRIBUTE = "expiration"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class ActionGuard:
    """Decides each (rule, resource, event) at most once, and keeps the one-off markers."""

    def __init__(self, table_name: str, dedup_seconds: int, dynamodb_client: Any) -> None:
        self.table_name = table_name
        self.dedup_seconds = dedup_seconds
        self.config = IdempotencyConfig(
            expires_after_seconds=max(dedup_seconds, REDELIVERY_WINDOW_SECONDS), raise_on_no_idempotency_key=True
        )
        self._dynamodb = dynamodb_client
        self._pending: Callable[[], dict[str, Any]] | None = None
        self._act: Callable[..., dict[str, Any]] | None = None

    def _idempotent(self) -> Callable[..., dict[str, Any]]:
        # Built on first use: the persistence layer touches its DynamoDB client as soon as it exists.
        if self._act is None:
            persistence = DynamoDBPersistenceLayer(table_name=self.table_name, boto3_client=self._dynamodb)

            # Powertools' idempotent_function is not annotated (it returns Any); act keeps the signature below.
            @idempotent_function(  # type: ignore[misc]
                data_keyword_argument="key", persistence_store=persistence, config=self.config
            )
            def act(key: dict[str, Any]) -> dict[str, Any]:
                assert self._pending is not None
                return self._pending()

            self._act = act
        return self._act

    def once(
        self, rule_id: str, resource: str, event_key: str, action: Callable[[], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """(result, ran): ``ran`` is False when this event was already decided for this resource; the result
        is then the stored one."""
        ran = False

        def run() -> dict[str, Any]:
            nonlocal ran
            ran = True
            return action()

        self._pending = run
        try:
            result = self._idempotent()(key={"rule_id": rule_id, "resource": resource, "event": event_key})
        except Exception as exc:
            exc.mlwarden_ran = ran  # type: ignore[attr-defined]  # did the action run before the store failed?
            raise
        finally:
            self._pending = None
        return result, ran

    # ------------------------------------------------------------------------------------------ markers
    def _marker_id(self, kind: str, *parts: str) -> str:
        return f"{MARKER_PREFIX}{kind}#{fingerprint(*parts)}"

    def first(self, kind: str, *parts: str, ttl_seconds: int) -> tuple[bool, str]:
        """Claim a one-off marker: (True, "") the first time within ``ttl_seconds``, else (False, when the
        marker was set). Unreachable or throttled table: (True, "") — an extra alert, never a silent one."""
        now = int(time.time())
        try:
            self._dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    KEY_ATTRIBUTE: {"S": self._marker_id(kind, *parts)},
                    EXPIRY_ATTRIBUTE: {"N": str(now + max(ttl_seconds, 1))},
                    "set_at": {"N": str(now)},
                },
                ConditionExpression="attribute_not_exists(#k) OR #e < :now",
                ExpressionAttributeNames={"#k": KEY_ATTRIBUTE, "#e": EXPIRY_ATTRIBUTE},
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True, ""
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                item = exc.response.get("Item")  # ReturnValuesOnConditionCheckFailure=ALL_OLD
                old: dict[str, Any] = item if isinstance(item, dict) else {}
                set_at = old.get("set_at", {}).get("N", "")
                when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(set_at))) if set_at else ""
                return False, when
            logger.warning("marker not written; alerting anyway", kind=kind, error=str(exc))
            return True, ""
        except BotoCoreError as exc:
            logger.warning("marker not written; alerting anyway", kind=kind, error=str(exc))
            return True, ""

    def delivered(self, rule_id: str, resource: str, event_key: str) -> bool:
        """Was this event's alert published? Unreadable: False (re-send rather than lose it)."""
        try:
            item = self._dynamodb.get_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": self._marker_id("alerted", rule_id, resource, event_key)}},
                ConsistentRead=True,
            ).get("Item")
        except (ClientError, BotoCoreError):
            return False
        return bool(item) and int(item.get(EXPIRY_ATTRIBUTE, {}).get("N", "0")) >= int(time.time())

    def mark_delivered(self, rule_id: str, resource: str, event_key: str) -> None:
        try:
            self._dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    KEY_ATTRIBUTE: {"S": self._marker_id("alerted", rule_id, resource, event_key)},
                    EXPIRY_ATTRIBUTE: {"N": str(int(time.time()) + self.config.expires_after_seconds)},
                },
            )
        except (ClientError, BotoCoreError) as exc:  # a retry would re-send: one extra alert at worst
            logger.warning("alert delivery not recorded", error=str(exc))


class RemediationLimiter:
    """Counts remediations per resource per clock hour in the audit table."""

    def __init__(self, table_name: str, limit: int, dynamodb_client: Any) -> None:
        self.table_name = table_name
        self.limit = limit
        self._dynamodb = dynamodb_client

    def allow(self, rule_id: str, resource: str, now: float | None = None) -> tuple[bool, int]:
        """Count one more remediation; (allowed, count this hour)."""
        now = time.time() if now is None else now
        hour = int(now // 3600)
        response = self._dynamodb.update_item(
            TableName=self.table_name,
            Key={"rule_id": {"S": rule_id}, "sk": {"S": f"{COUNTER_PREFIX}{resource}#{hour}"}},
            UpdateExpression="ADD remediations :one SET expires_at = :ttl",
            ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str((hour + 2) * 3600)}},
            ReturnValues="UPDATED_NEW",
        )
        count = int(response["Attributes"]["remediations"]["N"])
        return count <= self.limit, count


class AuditLog:
    def __init__(self, table_name: str, ttl_days: int, dynamodb_client: Any) -> None:
        self.table_name = table_name
        self.ttl_days = ttl_days
        self._dynamodb = dynamodb_client

    def record(self, decision: Decision, principal: str = "") -> None:
        item = {
            "rule_id": decision.rule_id or "none",
            "sk": f"{DECISION_PREFIX}{decision.detected_at}#{decision.resource_id}#{decision.event_id or uuid.uuid4()}",
            "resource_id": decision.resource_id or "-",
            "resource_type": decision.resource_type,
            "resource_arn": decision.resource_arn,
            "account": decision.account,
            **({"account_name": decision.account_name} if decision.account_name else {}),
            "region": decision.region,
            "compliance": decision.compliance,
            "action": decision.action,
            "reason": decision.reason,
            "severity": decision.severity,
            "remediation": decision.remediation,
            "before": json.dumps(decision.before, default=str) if decision.before is not None else "",
            "after": json.dumps(decision.after, default=str) if decision.after is not None else "",
            "event_id": decision.event_id,
            "principal": principal,
            "detected_at": decision.detected_at,
            "expires_at": int(time.time()) + self.ttl_days * 86400,
        }
        self._dynamodb.put_item(TableName=self.table_name, Item={k: _serializer.serialize(v) for k, v in item.items()})


def read_history(
    dynamodb: Any,
    table_name: str,
    *,
    rule_id: str | None = None,
    resource_id: str | None = None,
    limit: int = 100,
    accounts: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Newest first. By rule (query), by resource (the by-resource index), or everything (scan); ``accounts``
    keeps only decisions about resources of those accounts (organization mode)."""
    if accounts:
        wanted = set(accounts)  # every page is read either way (newest first needs them all): filtered here
        items = read_history(dynamodb, table_name, rule_id=rule_id, resource_id=resource_id, limit=10**9)
        return [item for item in items if str(item.get("account", "")) in wanted][:limit]
    begins = {":d": {"S": DECISION_PREFIX}}
    if rule_id:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "rule_id = :r AND begins_with(sk, :d)",
            "ExpressionAttributeValues": {":r": {"S": rule_id}, **begins},
        }
        if resource_id:
            kwargs["FilterExpression"] = "resource_id = :res"
            kwargs["ExpressionAttributeValues"][":res"] = {"S": resource_id}
        pages = dynamodb.get_paginator("query").paginate(TableName=table_name, ScanIndexForward=False, **kwargs)
    elif resource_id:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table_name,
            IndexName="by-resource",
            KeyConditionExpression="resource_id = :res AND begins_with(sk, :d)",
            ExpressionAttributeValues={":res": {"S": resource_id}, **begins},
            ScanIndexForward=False,
        )
    else:
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table_name,
            FilterExpression="begins_with(sk, :d)",
            ExpressionAttributeValues=begins,
        )
    items = [
        {k: _deserializer.deserialize(v) for k, v in item.items()} for page in pages for item in page.get("Items", [])
    ]
    items.sort(key=lambda i: str(i.get("detected_at", "")), reverse=True)
    return items[:limit]
