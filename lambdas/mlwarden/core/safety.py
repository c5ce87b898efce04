"""What makes remediation safe to leave on: exactly-once action, a loop limit, and the audit trail.

- ``ActionGuard``: Powertools Idempotency on DynamoDB, keyed on rule + resource + a short time bucket, so a
  duplicate delivery (or two events about one resource close together) acts and alerts once.
- ``RemediationLimiter``: at most N remediations per resource per hour; past that the resource is
  "flapping" (something keeps undoing the fix): mlwarden stops acting and a human is alerted.
- ``AuditLog``: one DynamoDB item per decision (verdict, action, before/after, event, causing principal).

All three are optional: the CLI runs without them; the deployed functions get their tables from the stack.
"""

from __future__ import annotations

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

from mlwarden.core.model import Decision

logger = Logger(service="mlwarden", child=True)

DECISION_PREFIX = "decision#"
COUNTER_PREFIX = "counter#"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ActionGuard:
    """Runs an action at most once per (rule, resource, time bucket)."""

    def __init__(self, table_name: str, dedup_seconds: int, dynamodb_client: Any) -> None:
        self.table_name = table_name
        self.dedup_seconds = dedup_seconds
        self.config = IdempotencyConfig(expires_after_seconds=dedup_seconds, raise_on_no_idempotency_key=True)
        self._dynamodb = dynamodb_client
        self._pending: Callable[[], dict[str, Any]] | None = None
        self._act: Callable[..., dict[str, Any]] | None = None

    def _idempotent(self) -> Callable[..., dict[str, Any]]:
        # Built on first use: the persistence layer touches its DynamoDB client as soon as it exists.
        if self._act is None:
            persistence = DynamoDBPersistenceLayer(table_name=self.table_name, boto3_client=self._dynamodb)

            @idempotent_function(data_keyword_argument="key", persistence_store=persistence, config=self.config)
            def act(key: dict[str, Any]) -> dict[str, Any]:
                assert self._pending is not None
                return self._pending()

            self._act = act
        return self._act

    def bucket(self, now: float | None = None) -> int:
        return int((now if now is not None else time.time()) // self.dedup_seconds)

    def once(self, rule_id: str, resource: str, action: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """(result, ran): ``ran`` is False when an earlier delivery already acted in this time bucket."""
        ran = False

        def run() -> dict[str, Any]:
            nonlocal ran
            ran = True
            return action()

        self._pending = run
        try:
            result = self._idempotent()(key={"rule_id": rule_id, "resource": resource, "bucket": self.bucket()})
        finally:
            self._pending = None
        return result, ran


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
    dynamodb: Any, table_name: str, *, rule_id: str | None = None, resource_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first. By rule (query), by resource (the by-resource index), or everything (scan)."""
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
