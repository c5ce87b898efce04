"""The tamper watch's Lambda entry point (``mlwarden.watch.handler``).

It receives the CloudTrail calls of ``mlwarden.core.tamper.patterns()``: changes to /mlwarden/ parameters
(a rule switched off, the kill switch pulled), tags that may exempt a resource (``mlwarden:exempt*``), and
changes to mlwarden's own EventBridge rules, sweep schedules and Config rules; it publishes one message per
change to the ALARM topic naming the caller. CloudTrail hides the value a PutParameter wrote, so the parameter's
current value is read back (ssm:GetParameter on /mlwarden/ only); a PutConfigRule naming the rule by ARN or id
only is resolved to the rule's name (config:DescribeConfigRules). Tagging calls without an mlwarden exemption tag,
and Config rules that turn out not to be mlwarden's, are counted and dropped. Only ids and names are logged,
never the event.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from botocore.exceptions import ClientError

from mlwarden.core import events, tamper
from mlwarden.core.context import ClientFactory
from mlwarden.core.errors import error_code, is_retryable
from mlwarden.core.settings import NAME_PREFIX

logger = Logger(service="mlwarden")
# Its own metric state: in one process with a rule handler (local demo, tests) nothing is shared.
metrics = EphemeralMetrics(namespace="mlwarden", service="mlwarden")

_factories: dict[str, ClientFactory] = {}


def clients() -> ClientFactory:
    """The function's client factory, one per endpoint (a local run may point at another moto server)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if endpoint not in _factories:
        _factories[endpoint] = ClientFactory()
    return _factories[endpoint]


# SSM's own "slow down" answer to parameter writes, besides what core.errors.is_retryable (botocore) classifies.
SSM_TOO_MANY_UPDATES = "TooManyUpdates"


def _region(event: dict[str, Any]) -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or events.region(event, "us-east-1")


def _own_account(context: Any) -> str:
    """The watch's own account, from its function ARN (arn:aws:lambda:<region>:<account>:function:<name>)."""
    parts = str(getattr(context, "invoked_function_arn", "") or "").split(":")
    return parts[4] if len(parts) > 4 else ""


def read_value(ssm: Any, report: tamper.TamperReport) -> None:
    """Fill in the parameter's value as it is now (CloudTrail hides what PutParameter wrote)."""
    try:
        parameter = ssm.get_parameter(Name=report.target)["Parameter"]
    except ClientError as exc:
        code = error_code(exc)
        if code == "ParameterNotFound":
            report.value_note = "the parameter no longer exists; " + (
                tamper.meaning(report.target, None, deleted=True) or "nothing reads it"
            )
            return
        if is_retryable(exc) or code == SSM_TOO_MANY_UPDATES:
            raise  # a retry can cure it: Lambda, then the dead-letter queue, keep the event
        report.value_note = f"its current value could not be read ({tamper.clean(code, 64)})"
        return
    if parameter.get("Type") == "SecureString":
        report.value_note = "a SecureString: its value is not decrypted"
        return
    report.value = tamper.clean(parameter.get("Value"))
    read_at = f"value read back at {report.detected_at}"
    consequence = tamper.meaning(report.target, report.value)
    report.value_note = f"{read_at}: {consequence}" if consequence else read_at


def resolve_config_rule(config: Any, report: tamper.TamperReport) -> bool:
    """Whether the Config rule a PutConfigRule named by ARN or id only (``report.reference``) is mlwarden's: its
    name, or the function it runs, says so; the report then names it. A rule AWS Config no longer knows, or an
    unreadable list, is reported as possibly mlwarden's (a change that silences a rule is never dropped on a
    guess)."""
    try:
        pages = config.get_paginator("describe_config_rules").paginate()
        rule = next(
            (
                r
                for page in pages
                for r in page.get("ConfigRules") or []
                if report.reference in (r.get("ConfigRuleArn"), r.get("ConfigRuleId"))
            ),
            None,
        )
    except ClientError as exc:
        if is_retryable(exc):
            raise  # a retry can cure it: Lambda, then the dead-letter queue, keep the event
        report.value_note = (
            f"AWS Config's rules could not be read ({tamper.clean(error_code(exc), 64)}) to tell whether "
            f"{report.reference} is mlwarden's; {report.value_note}"
        )
        return True
    if rule is None:
        report.value_note = (
            f"no Config rule is {report.reference} any more: it may have been mlwarden's; {report.value_note}"
        )
        return True
    name = str(rule.get("ConfigRuleName") or "")
    runs = str((rule.get("Source") or {}).get("SourceIdentifier") or "")
    if not (name.startswith(NAME_PREFIX) or f":function:{NAME_PREFIX}" in runs):
        return False
    report.target = tamper.clean(name) or report.reference
    return True


def reports_for(
    event: dict[str, Any], ssm: Any, now: str, config: Any = None
) -> tuple[str | None, list[tamper.TamperReport]]:
    """(kind, reports): nothing to report for a tagging call without an mlwarden exemption tag, nor for a change
    to another's EventBridge rule, schedule or Config rule. ``config`` is read only for a PutConfigRule that
    names the rule by ARN or id alone."""
    kind = tamper.kind_of(event)
    if kind == tamper.KIND_SWITCH:
        found = tamper.switch_reports(event)
        for report in found:
            report.detected_at = now
            read_value(ssm, report)
        return kind, found
    if kind == tamper.KIND_EXEMPTION:
        exempted = tamper.exemption_report(event)
        if exempted is None:
            return kind, []
        exempted.detected_at = now
        return kind, [exempted]
    if kind == tamper.KIND_CONTROL:
        changed = tamper.control_report(event)
        if changed is None:
            return kind, []
        named = changed.target.startswith(NAME_PREFIX)
        if not named and (config is None or not resolve_config_rule(config, changed)):
            return kind, []
        changed.detected_at = now
        return kind, [changed]
    return None, []


def publish(sns: Any, topic_arn: str, report: tamper.TamperReport) -> str:
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=report.subject(),
        Message=report.message(),
        MessageAttributes=report.attributes(),
    )
    return str(response.get("MessageId", ""))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metrics.clear_metrics()  # one "kind" per invocation (a flush skipped with metrics disabled keeps the last)
    try:
        if events.kind_of(event) != events.EVENTBRIDGE:
            raise events.MalformedEvent("the tamper watch takes EventBridge CloudTrail events only")
    except events.MalformedEvent as exc:
        # Retrying cannot fix it, but raising sends it to the DLQ after the retries: nothing is lost.
        logger.error("malformed event rejected", reason=str(exc))
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        raise
    logger.append_keys(**events.describe(event))
    topic_arn = os.environ.get(tamper.ENV_ALARM_TOPIC_ARN, "")
    if not topic_arn:
        raise RuntimeError(f"{tamper.ENV_ALARM_TOPIC_ARN} is not set: the watch has nowhere to report")
    region = _region(event)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    factory = clients()
    kind, found = reports_for(event, factory.lazy("ssm", region), now, factory.lazy("config", region))
    own = _own_account(context)
    for report in found:
        tamper.mark_member(report, own)
    metrics.add_dimension(name="kind", value=kind or "unknown")
    if not found:
        # A tag change without mlwarden tags, or a Config rule named by ARN or id that is not mlwarden's.
        metrics.add_metric(name="IgnoredEvents", unit=MetricUnit.Count, value=1)
        logger.debug("nothing to report")
        return {"kind": kind, "reported": []}
    sns = factory.lazy("sns", region)
    reported = []
    for report in found:
        message_id = publish(sns, topic_arn, report)
        metrics.add_metric(name="TamperEvents", unit=MetricUnit.Count, value=1)
        logger.warning(
            "tamper reported",
            kind=report.kind,
            target=report.target,
            caller_arn=report.caller.caller_arn,
            role_arn=report.caller.role_arn,
            message_id=message_id,
        )
        reported.append({"target": report.target, "subject": report.subject(), "message_id": message_id})
    return {"kind": kind, "reported": reported}
