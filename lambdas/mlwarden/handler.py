"""The one Lambda entry point. Each function runs one rule, named by ``MLWARDEN_RULE_ID``.

Thin on purpose: settings and the rule are loaded once per environment, the engine does the work.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from mlwarden.core import events
from mlwarden.core.context import ClientFactory, RuleContext
from mlwarden.core.engine import Engine
from mlwarden.core.model import (
    ACTION_EXEMPT,
    ACTION_FAILED,
    ACTION_NOTIFIED,
    ACTION_REMEDIATED,
    NON_COMPLIANT,
    Decision,
)
from mlwarden.core.modes import ModeSource
from mlwarden.core.notify import Publisher
from mlwarden.core.registry import load_rule
from mlwarden.core.safety import ActionGuard, AuditLog, RemediationLimiter
from mlwarden.core.securityhub import SecurityHubReporter
from mlwarden.core.settings import RuntimeSettings

NAMESPACE = SERVICE = "mlwarden"
ALERT_FAILURES = "AlertFailures"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _account_of(arn: str | None) -> str:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 4 else ""


def _partition() -> str:
    region = _region()
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def record_metrics(decision: Decision) -> None:
    metrics.add_metric(name="Evaluations", unit=MetricUnit.Count, value=1)
    if decision.compliance == NON_COMPLIANT:
        metrics.add_metric(name="Violations", unit=MetricUnit.Count, value=1)
    if decision.action == ACTION_REMEDIATED:
        metrics.add_metric(name="Remediations", unit=MetricUnit.Count, value=1)
    elif decision.action == ACTION_FAILED:
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
    elif decision.action == ACTION_EXEMPT:
        metrics.add_metric(name="Exempt", unit=MetricUnit.Count, value=1)
    elif decision.action == ACTION_NOTIFIED:
        metrics.add_metric(name="Notifications", unit=MetricUnit.Count, value=1)
    if decision.details.get("flapping"):
        metrics.add_metric(name="Flapping", unit=MetricUnit.Count, value=1)
    if decision.details.get("duplicate"):
        metrics.add_metric(name="Duplicates", unit=MetricUnit.Count, value=1)
    if decision.details.get("report_failed"):
        metrics.add_metric(name="ReportFailures", unit=MetricUnit.Count, value=1)
    if decision.details.get("audit_failed"):
        metrics.add_metric(name="AuditFailures", unit=MetricUnit.Count, value=1)
    if decision.details.get("rule_off"):
        # A violation nobody hears of because the rule is switched off: counted, so the dashboard shows it.
        metrics.add_metric(name="SkippedOff", unit=MetricUnit.Count, value=1)
    if decision.details.get("member_role_failed"):
        # Organization mode: a member account's role is missing or refuses this function (the alarm's metric).
        metrics.add_metric(name="MemberRoleFailures", unit=MetricUnit.Count, value=1)
    if decision.details.get("untrusted_sender"):
        # Organization mode: an account sent an event about another account (central bus trust).
        metrics.add_metric(name="UntrustedSenderRefused", unit=MetricUnit.Count, value=1)
    if decision.details.get("idempotency_failed"):
        metrics.add_metric(name="IdempotencyFailures", unit=MetricUnit.Count, value=1)


def account_metric_names(decision: Decision) -> list[str]:
    """The outcomes counted per account in organization mode (the dashboard's "by account" graphs)."""
    names = ["Violations"] if decision.compliance == NON_COMPLIANT else []
    if decision.action == ACTION_REMEDIATED:
        names.append("Remediations")
    elif decision.action == ACTION_FAILED:
        names.append("Failures")
    return names


def record_org_metrics(decision: Decision) -> None:
    """Organization mode: the per-rule metrics, plus one metric per outcome with the dimension ``account``.

    Separate EMF documents (dimensions account + service), so the per-rule metrics and their alarms keep theirs.
    """
    record_metrics(decision)
    if not decision.account:
        return  # CloudWatch refuses an empty dimension value; such a decision is counted per rule only
    for name in account_metric_names(decision):
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=1,
            namespace=NAMESPACE,
            default_dimensions={"account": decision.account},
        ):
            pass  # dimensions: account, and service (POWERTOOLS_SERVICE_NAME)


def record_alert_failure(decision: Decision) -> None:
    """A failed alert: per rule, and once without the rule dimension for the stack-wide alarm."""
    metrics.add_metric(name=ALERT_FAILURES, unit=MetricUnit.Count, value=1)
    with single_metric(name=ALERT_FAILURES, unit=MetricUnit.Count, value=1, namespace=NAMESPACE):
        pass  # dimension: service only (POWERTOOLS_SERVICE_NAME), for the stack-wide alarm


@dataclass
class Runtime:
    settings: RuntimeSettings
    engine: Engine

    @classmethod
    def from_settings(cls, settings: RuntimeSettings, clients: ClientFactory | None = None) -> Runtime:
        rule = load_rule(settings.rule_id)
        ctx = RuleContext(settings=settings, clients=clients or ClientFactory())
        region = _region()
        publisher = (
            Publisher(ctx.clients.lazy("sns", region), settings.topic_arn, chatbot=settings.chatbot)
            if settings.topic_arn
            else None
        )
        reporters: list[Callable[[Decision], None]] = []
        if settings.security_hub:
            account = _account_of(settings.topic_arn)
            hub = SecurityHubReporter(ctx.clients.lazy("securityhub", region), region, account, _partition())
            reporters.append(hub.report)
        guard = limiter = audit = None
        if settings.idempotency_table:
            guard = ActionGuard(
                settings.idempotency_table, settings.dedup_seconds, ctx.clients.lazy("dynamodb", region)
            )
        if settings.audit_table:
            dynamodb = ctx.clients.lazy("dynamodb", region)
            limiter = RemediationLimiter(settings.audit_table, settings.max_remediations_per_hour, dynamodb)
            audit = AuditLog(settings.audit_table, settings.audit_ttl_days, dynamodb)
        engine = Engine(
            rule,
            ctx,
            ModeSource(ctx.clients, region),
            apply=True,
            publisher=publisher,
            observer=record_org_metrics if settings.organization_mode else record_metrics,
            raise_retryable=True,
            guard=guard,
            limiter=limiter,
            audit=audit,
            reporters=reporters,
            alert_failed=record_alert_failure,
        )
        return cls(settings, engine)


_runtimes: dict[RuntimeSettings, Runtime] = {}


def runtime() -> Runtime:
    """The runtime for the current environment, built once (a local run may switch environments)."""
    settings = RuntimeSettings.from_env()
    found = _runtimes.get(settings)
    if found is None:
        found = _runtimes[settings] = Runtime.from_settings(settings)
    return found


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    rule_id = rt.settings.rule_id
    logger.append_keys(rule_id=rule_id)
    if metrics.default_dimensions.get("rule_id") != rule_id:
        metrics.set_default_dimensions(rule_id=rule_id)
    metrics.add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
    if rt.engine.guard is not None:
        rt.engine.guard.config.register_lambda_context(context)
    try:
        kind = events.kind_of(event)
        if kind == events.EVENTBRIDGE:
            logger.append_keys(**events.describe(event))
        decisions = rt.engine.handle(event)
    except events.MalformedEvent as exc:
        # Retrying cannot fix it, but raising sends it to the DLQ after the retries: nothing is lost.
        logger.error("malformed event rejected", reason=str(exc))
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        raise
    return {"rule_id": rule_id, "decisions": [d.cli_record() for d in decisions]}
