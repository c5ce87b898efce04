"""The tamper watch's Lambda entry point (``mlwarden.watch.handler``).

It receives the CloudTrail calls of ``mlwarden.core.tamper.patterns()``: changes to /mlwarden/ parameters
(a rule switched off, the kill switch pulled) and tags that may exempt a resource (``mlwarden:exempt*``), and
publishes one message per change to the ALARM topic naming the caller. CloudTrail hides the value a
PutParameter wrote, so the parameter's current value is read back (ssm:GetParameter on /mlwarden/ only).
Tagging calls without an mlwarden exemption tag are counted and dropped. Only ids and names are logged,
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


def reports_for(event: dict[str, Any], ssm: Any, now: str) -> tuple[str | None, list[tamper.TamperReport]]:
    """(kind, reports): nothing to report for a tagging call without an mlwarden exemption tag."""
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
    kind, found = reports_for(event, factory.lazy("ssm", region), now)
    metrics.add_dimension(name="kind", value=kind or "unknown")
    if not found:
        # A tag change without mlwarden tags (or a call the patterns let through by their cross product).
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
