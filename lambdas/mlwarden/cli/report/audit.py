"""Audit decoding: the latest recorded decision per rule and resource, read back from the audit table."""

from __future__ import annotations

import json
import sys
from typing import Any

from mlwarden.core.model import Decision
from mlwarden.core.registry import UnknownRule, get_rule


def decisions_from_history(dynamodb: Any, table: str, rule_ids: list[str] | None = None) -> list[Decision]:
    """The latest recorded decision per rule and resource (account, region and resource id)."""
    from mlwarden.core.safety import read_history

    everything = sys.maxsize
    if rule_ids:
        items = [i for r in rule_ids for i in read_history(dynamodb, table, rule_id=r, limit=everything)]
    else:
        items = read_history(dynamodb, table, limit=everything)
    items.sort(key=lambda i: str(i.get("detected_at", "")), reverse=True)
    latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for item in items:
        rule_id, resource_id = str(item.get("rule_id", "")), str(item.get("resource_id", ""))
        if rule_id in ("", "none") or resource_id in ("", "-"):
            continue
        latest.setdefault((rule_id, str(item.get("account", "")), str(item.get("region", "")), resource_id), item)
    return [_decision_from_item(item) for item in latest.values()]


def _decision_from_item(item: dict[str, Any]) -> Decision:
    rule_id = str(item["rule_id"])
    try:
        spec = get_rule(rule_id).spec
        title, controls = spec.title, list(spec.controls)
    except UnknownRule:  # a rule recorded by another version of mlwarden
        title, controls = "", []

    def text(key: str) -> str:
        value = item.get(key)
        return "" if value is None else str(value)

    def state(key: str) -> dict[str, Any] | None:
        try:
            value = json.loads(text(key)) if text(key) else None
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    return Decision(
        event_id=text("event_id"),
        rule_id=rule_id,
        resource_type=text("resource_type"),
        resource_id=text("resource_id"),
        resource_arn=text("resource_arn"),
        account=text("account"),
        region=text("region"),
        compliance=text("compliance"),
        action=text("action"),
        reason=text("reason"),
        controls=controls,
        severity=text("severity"),
        title=title,
        remediation=text("remediation"),
        before=state("before"),
        after=state("after"),
        detected_at=text("detected_at"),
    )
