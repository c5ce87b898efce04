"""Reading event files for ``mlwarden evaluate`` and routing them exactly as the deployed patterns do.

Accepted shapes: everything a rule Lambda accepts (an EventBridge event, an AWS Config rule invocation), and,
for convenience, what people copy from consoles and logs: a CloudTrail log file (``Records``), a bare
CloudTrail record, a bare Macie finding, a bare ASFF finding, a bare OCSF finding (Security Hub v2), a bare
Config item, or a JSON list of these.
Bare items are wrapped the way EventBridge or Config would deliver them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlwarden.core import events
from mlwarden.core.patterns import CLOUDTRAIL_DETAIL_TYPE, matches, rule_patterns
from mlwarden.core.spec import Rule


class UnreadableFile(Exception):
    """The file cannot be read or is not JSON (exit status 2)."""


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise UnreadableFile(f"{path}: not an event: JSON nested too deeply to read") from None
    # A list of events adds one level (a CloudTrail log file: two).
    if events.deeper_than(document, events.MAX_DEPTH + 2):
        raise UnreadableFile(f"{path}: not an event: JSON nested deeper than {events.MAX_DEPTH} levels") from None
    return document


def _wrap(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    *,
    account: str,
    region: str,
    time: str,
    event_id: str,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def normalize(document: Any) -> Iterator[Any]:
    """Yield the events inside a document, wrapping bare records as AWS would deliver them."""
    if isinstance(document, list):
        for item in document:
            yield from normalize(item)
        return
    if not isinstance(document, dict):
        yield document
        return
    if isinstance(document.get("Records"), list):
        yield from normalize(document["Records"])
        return
    if ("detail-type" in document and "source" in document) or "invokingEvent" in document:
        yield document
        return
    if "eventSource" in document and "eventName" in document and "eventVersion" in document:
        service = str(document["eventSource"]).split(".")[0]
        yield _wrap(
            f"aws.{service}",
            CLOUDTRAIL_DETAIL_TYPE,
            document,
            account=str(document.get("recipientAccountId", "")),
            region=str(document.get("awsRegion", "")),
            time=str(document.get("eventTime", "")),
            event_id=str(document.get("eventID", "")),
        )
        return
    if "schemaVersion" in document and "resourcesAffected" in document and "classificationDetails" in document:
        yield _wrap(
            "aws.macie",
            "Macie Finding",
            document,
            account=str(document.get("accountId", "")),
            region=str(document.get("region", "")),
            time=str(document.get("updatedAt", "")),
            event_id=str(document.get("id", "")),
        )
        return
    if "SchemaVersion" in document and "ProductArn" in document:
        yield _wrap(
            "aws.securityhub",
            "Security Hub Findings - Imported",
            {"findings": [document]},
            account=str(document.get("AwsAccountId", "")),
            region=str(document.get("Region", "")),
            time=str(document.get("UpdatedAt", "")),
            event_id=str(document.get("Id", "")),
        )
        return
    if "class_uid" in document and isinstance(document.get("metadata"), dict) and "finding_info" in document:
        cloud: dict[str, Any] = document["cloud"] if isinstance(document.get("cloud"), dict) else {}
        account: dict[str, Any] = cloud["account"] if isinstance(cloud.get("account"), dict) else {}
        yield _wrap(
            "aws.securityhub",
            "Findings Imported V2",
            {"findings": [document]},
            account=str(account.get("uid", "")),
            region=str(cloud.get("region", "")),
            time=str(document.get("time_dt", "")),
            event_id=str(document["metadata"].get("uid", "")),
        )
        return
    if "configurationItemCaptureTime" in document and "resourceType" in document:
        yield {
            "invokingEvent": json.dumps(
                {"configurationItem": document, "messageType": "ConfigurationItemChangeNotification"}
            ),
            "resultToken": "",
            "eventLeftScope": False,
            "accountId": document.get("awsAccountId", ""),
            "configRuleName": "",
        }
        return
    yield document


def route(event: Any, rules: list[Rule]) -> tuple[list[Rule], str]:
    """The rules an event reaches, and why none when none."""
    try:
        kind = events.kind_of(event)
    except events.MalformedEvent as exc:
        return [], str(exc)
    if kind == events.CONFIG_INVOCATION:
        try:
            invoking = events.parse_config_invocation(event)
        except events.MalformedEvent as exc:
            return [], str(exc)
        if invoking["messageType"] == "ScheduledNotification":
            name = str(event.get("configRuleName", ""))
            matched = [r for r in rules if name == f"mlwarden-{r.spec.id}"]
            return (
                matched,
                "" if matched else f"scheduled notification for Config rule {name!r}, not an mlwarden rule",
            )
        item = invoking.get("configurationItem") or invoking.get("configurationItemSummary") or {}
        resource_type = item.get("resourceType", "") if isinstance(item, dict) else ""
        matched = [r for r in rules if r.spec.config and resource_type in r.spec.config.resource_types]
        return matched, "" if matched else f"no rule judges {resource_type or 'this resource type'}"
    matched = [r for r in rules if any(matches(p, event) for p in rule_patterns(r.spec))]
    if matched:
        return matched, ""
    summary = events.describe(event)
    what = " ".join(v for v in (summary["source"], summary["detail_type"], summary["event_name"]) if v)
    reason = f"no rule's pattern matches this event ({what})"
    if events.detail(event).get("errorCode"):
        reason += "; failed calls cannot change state"
    return [], reason
