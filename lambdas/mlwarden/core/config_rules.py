"""AWS Config plumbing: from a custom Config rule invocation to the engine's decisions and back to Config.

A change notification (or an oversized one, read back from Config's history) becomes one decision, a scheduled
notification a sweep of the rule's resource type; the verdicts go back to Config with PutEvaluations. The
decisions themselves are the engine's (``Engine.decide`` and ``Engine.sweep``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code
from mlwarden.core.model import Decision, ResourceRef, Source

if TYPE_CHECKING:
    from mlwarden.core.engine import Engine

logger = Logger(service="mlwarden", child=True)

CONFIG_DELETED_STATUSES = {"ResourceDeleted", "ResourceDeletedNotRecorded", "ResourceNotRecorded"}
CONFIG_BATCH = 100  # PutEvaluations accepts at most 100 evaluations per call
ANNOTATION_LIMIT = 256


def handle_config(engine: Engine, event: dict[str, Any]) -> list[Decision]:
    """Decide what a Config invocation asks about, then answer Config (when the engine applies)."""
    spec = engine.spec
    invoking = events.parse_config_invocation(event)
    if spec.config is None:
        raise events.MalformedEvent(f"{spec.id} has no AWS Config rule: Config invocations are not for it")
    message_type = invoking["messageType"]
    region = _config_region(event)
    source = Source(str(event.get("configRuleName", "")), str(invoking.get("notificationCreationTime", "")))
    if message_type == "ScheduledNotification":
        decisions = list(engine.sweep(region, source, str(event.get("accountId", ""))))
    elif message_type in (
        "ConfigurationItemChangeNotification",
        "OversizedConfigurationItemChangeNotification",
    ):
        if message_type == "ConfigurationItemChangeNotification":
            item = invoking.get("configurationItem") or {}
        else:
            item = _oversized_item(
                engine.ctx, invoking.get("configurationItemSummary") or {}, region, _invoking_account(engine.ctx, event)
            )
        source.event_time = str(item.get("configurationItemCaptureTime") or source.event_time)
        decisions = [_decide_config_item(engine, event, item, source)]
    else:
        raise events.MalformedEvent("invokingEvent.messageType is not one mlwarden handles")
    _put_evaluations(engine.ctx, event, decisions, region, apply=engine.apply)
    return decisions


def _oversized_item(ctx: RuleContext, summary: dict[str, Any], region: str, account: str = "") -> dict[str, Any]:
    """Oversized notifications carry only a summary: fetch the item from Config's history (of the account whose
    Config rule invoked: a member account's through the member role, in organization mode)."""
    try:
        history = ctx.client("config", region, account).get_resource_config_history(
            resourceType=summary["resourceType"], resourceId=summary["resourceId"], limit=1
        )
        items = history.get("configurationItems") or []
        if items:
            item = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in items[0].items()}
            item.setdefault("awsAccountId", item.get("accountId", ""))
            return item
    except (ClientError, BotoCoreError, KeyError) as exc:
        # AWS validation messages quote the values sent (which came from the event): name the error only.
        logger.warning(
            "could not read the oversized configuration item; using its summary",
            error=error_code(exc) or type(exc).__name__,
        )
    return summary


def _decide_config_item(engine: Engine, event: dict[str, Any], item: dict[str, Any], source: Source) -> Decision:
    spec = engine.spec
    resource_type = str(item.get("resourceType", ""))
    resource_id = str(item.get("resourceId", ""))
    item_ref = ResourceRef(
        resource_type,
        resource_id,
        region=str(item.get("awsRegion", "")),
        account=str(item.get("awsAccountId", "")),
        arn=str(item.get("ARN") or item.get("arn") or ""),
    )
    if event.get("eventLeftScope") or item.get("configurationItemStatus") in CONFIG_DELETED_STATUSES:
        return Decision.blank(spec, source, item_ref, reason="resource deleted or out of the rule's scope")
    if not spec.config or resource_type not in spec.config.resource_types:
        return Decision.blank(spec, source, item_ref, reason=f"{resource_type} is not judged by this rule")
    ref = engine.rule.ref_from_config_item(item)
    if ref is None:
        return Decision.blank(spec, source, item_ref, reason="configuration item names no resource")
    decision = engine.decide(ref, source)
    # Config knows the resource by its own id; answer with the same one.
    decision.config_resource_id = resource_id
    return decision


def _put_evaluations(
    ctx: RuleContext, event: dict[str, Any], decisions: list[Decision], region: str, *, apply: bool
) -> None:
    token = str(event.get("resultToken", ""))
    if not token or not apply:
        return
    evaluations = []
    for decision in decisions:
        if not decision.resource_type or not decision.resource_id:
            continue
        ordering = _parse_time(decision.event_time) or datetime.now(UTC)
        evaluations.append(
            {
                "ComplianceResourceType": decision.resource_type,
                "ComplianceResourceId": decision.config_resource_id or decision.resource_id,
                "ComplianceType": decision.compliance,
                "Annotation": decision.reason[:ANNOTATION_LIMIT],
                "OrderingTimestamp": ordering,
            }
        )
    # The evaluations go to the Config of the account whose rule invoked (its result token is that account's).
    client = ctx.client("config", region, _invoking_account(ctx, event))
    # rdklib's convention: a "TESTMODE" token asks Config to validate without recording.
    test_mode = token == "TESTMODE"
    for start in range(0, max(len(evaluations), 1), CONFIG_BATCH):
        batch = evaluations[start : start + CONFIG_BATCH]
        if not batch:
            break
        client.put_evaluations(Evaluations=batch, ResultToken=token, TestMode=test_mode)


def _invoking_account(ctx: RuleContext, event: dict[str, Any]) -> str:
    """Organization mode: the account whose Config rule invoked (its Config is called through the member role);
    "" (the function's own clients) in a single-account deployment."""
    return str(event.get("accountId", "")) if ctx.organization is not None else ""


def _config_region(event: dict[str, Any]) -> str:
    arn = str(event.get("configRuleArn", ""))
    parts = arn.split(":")
    if len(parts) > 3 and parts[3]:
        return parts[3]
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
