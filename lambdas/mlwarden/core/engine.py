"""The engine: from an input (EventBridge event, Config invocation, sweep) to decisions.

For each resource: re-read live state, evaluate, read the mode, check exemptions, remediate when allowed,
alert. The Lambda handler and the CLI run this same code; only ``apply`` and the error policy differ.
AWS Config invocations are read and answered in ``config_rules``; the decisions are made here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from botocore.exceptions import BotoCoreError, ClientError

from mlwarden.core import config_rules, events, exemptions, findings
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import (
    ACCESS_DENIED_CODES,
    AlertNotDelivered,
    describe_error,
    error_code,
    error_message,
    is_retryable,
)
from mlwarden.core.iam import denied_action
from mlwarden.core.members import MemberRoleUnavailable
from mlwarden.core.model import (
    ACTION_EXEMPT,
    ACTION_FAILED,
    ACTION_NONE,
    ACTION_NOTIFIED,
    ACTION_REMEDIATED,
    ACTION_WOULD_NOTIFY,
    ACTION_WOULD_REMEDIATE,
    COMPLIANT,
    MODE_OFF,
    MODE_REMEDIATE,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    Decision,
    ResourceGone,
    ResourceRef,
    Source,
    now_iso,
)
from mlwarden.core.modes import ModeSource
from mlwarden.core.notify import Publisher
from mlwarden.core.safety import ActionGuard, AuditLog, RemediationLimiter, fingerprint
from mlwarden.core.spec import Rule

logger = Logger(service="mlwarden", child=True)

EXEMPT_ALERT_SEVERITY = "LOW"
# How long an exemption is reported only once when it names no end (cdk.json entries without "until").
EXEMPT_REPORT_SECONDS = 90 * 86400


class Engine:
    def __init__(
        self,
        rule: Rule,
        ctx: RuleContext,
        modes: ModeSource,
        *,
        apply: bool,
        publisher: Publisher | None = None,
        observer: Callable[[Decision], None] | None = None,
        raise_retryable: bool = False,
        guard: ActionGuard | None = None,
        limiter: RemediationLimiter | None = None,
        audit: AuditLog | None = None,
        reporters: list[Callable[[Decision], None]] | None = None,
        alert_failed: Callable[[Decision], None] | None = None,
    ) -> None:
        self.rule = rule
        self.spec = rule.spec
        self.ctx = ctx
        self.modes = modes
        self.apply = apply
        self.publisher = publisher
        self.observer = observer
        self.raise_retryable = raise_retryable
        self.guard = guard
        self.limiter = limiter
        self.audit = audit
        self.reporters = reporters or []  # e.g. the Security Hub import
        self.alert_failed = alert_failed  # counts AlertFailures (the handler's metric)

    # ----------------------------------------------------------------------------------------- inputs
    def handle(self, event: Any) -> list[Decision]:
        kind = events.kind_of(event)
        if kind == events.CONFIG_INVOCATION:
            return config_rules.handle_config(self, event)
        return self.handle_eventbridge(event)

    def handle_eventbridge(self, event: dict[str, Any]) -> list[Decision]:
        source = Source(
            events.event_id(event),
            events.event_time(event),
            events.caller_arn(event),
            events.delivery_key(event),
            events.session_arn(event),
        )
        if events.is_scheduled_sweep(event):
            # The rule's schedule (types AWS Config does not record): every resource of its types, now.
            region = events.region(event) or os.environ.get("AWS_REGION") or "us-east-1"
            if self.ctx.organization is not None:
                return self._sweep_organization(region, source, events.account(event))
            return list(self.sweep(region, source, events.account(event)))
        own_role = self.ctx.settings.own_role_arn
        if (own_role and events.issuer_arn(event) == own_role) or self._own_member_role(events.issuer_arn(event)):
            # The EventBridge patterns already exclude these; this is the second line of the loop guard. Only
            # calls made through this function's own role: a session *name* is chosen by whoever assumes a role.
            logger.info("event caused by mlwarden itself; ignored", rule_id=self.spec.id, event_id=source.event_id)
            return [self._no_resource(event, source, "caused by this rule's own function (loop guard): ignored")]
        sender = self._other_sender(event)
        recipient = events.recipient_account(event)
        if sender and recipient and recipient != sender:
            why = f"a CloudTrail record of account {recipient} sent by account {sender}"
            return [self._refused(self._no_resource(event, source, ""), sender, why)]
        if findings.is_securityhub(event):
            refs = findings.refs_from_securityhub(self.rule, event)
        elif findings.is_compliance_change(event):
            refs = findings.refs_from_compliance_change(self.rule, event)
        else:
            try:
                refs = self.rule.refs_from_event(event)
            except events.MalformedEvent as exc:
                raise events.MalformedEvent(f"{self.spec.id} cannot read the event: {exc}") from None
            except (AttributeError, KeyError, TypeError, ValueError, IndexError, RecursionError) as exc:
                # The exception's text may quote event values (a Macie finding's PII): only its type is kept.
                raise events.MalformedEvent(f"{self.spec.id} cannot read the event ({type(exc).__name__})") from None
        if not refs:
            described: dict[str, Any] = events.describe(event)
            logger.info("event names no resource this rule can judge", **described, rule_id=self.spec.id)
            return [self._no_resource(event, source, "the event names no resource this rule can judge")]
        if sender:
            return [
                self.decide(ref, source)
                if self._ref_account(ref) in ("", sender)
                else self._refused(
                    Decision.blank(self.spec, source, ref),
                    sender,
                    f"a resource of account {self._ref_account(ref)} named by an event account {sender} sent",
                )
                for ref in refs
            ]
        return [self.decide(ref, source) for ref in refs]

    # ------------------------------------------------------------------------- central bus trust
    def _other_sender(self, event: dict[str, Any]) -> str:
        """Organization mode: the account that put the event on the central bus when it is not this deployment's
        own (AWS keeps the sender's account in the envelope of an event forwarded across accounts), else "".
        Any account of the organization may put events on the central bus: such an event is trusted only about
        its sender's own account, so member A cannot make mlwarden act in member B."""
        if self.ctx.organization is None:
            return ""
        own = self.ctx.own_account()
        sender = events.envelope_account(event)
        return sender if own and sender and sender != own else ""

    @staticmethod
    def _ref_account(ref: ResourceRef) -> str:
        return ref.account or _arn_account(ref.arn)

    def _refused(self, decision: Decision, sender: str, why: str) -> Decision:
        """An event from another account about a third one: not acted on, said so, counted."""
        decision.reason = f"refused: {why}; an account's events are trusted about that account only"
        decision.details["untrusted_sender"] = sender
        logger.warning(
            "event about another account than its sender's refused",
            rule_id=self.spec.id,
            event_id=decision.event_id,
            sender=sender,
            account=decision.account,
        )
        if self.observer:
            self.observer(decision)
        return decision

    def sweep(self, region: str, source: Source | None = None, account: str = "") -> Iterator[Decision]:
        source = source or Source()
        try:
            refs = self.refs_to_sweep(region, account)
        except (ClientError, BotoCoreError) as exc:
            if self.raise_retryable and is_retryable(exc):
                raise
            # e.g. the list permission is missing: say so once instead of failing every sweep silently
            yield self.listing_failed(region, source, account, exc)
            return
        for ref in refs:
            yield self.decide(ref, source)

    def listing_failed(self, region: str, source: Source, account: str, exc: BaseException) -> Decision:
        """The one decision of a sweep whose listing failed (NOT_APPLICABLE, naming the failed call)."""
        decision = Decision.blank(
            self.spec, source, account=account, region=region, reason="could not list the resources to sweep"
        )
        self._failed(decision, exc)
        return decision

    def refs_to_sweep(self, region: str, account: str = "") -> list[ResourceRef]:
        """Every resource of the rule's type in the region, with the account filled in where known. In
        organization mode, ``account`` may be a member account: listed there through the member role."""
        ctx = self.ctx.in_account(account) if self.ctx.organization is not None else self.ctx
        return [
            ref if ref.account or not account else replace(ref, account=account)
            for ref in self.rule.list_refs(ctx, region)
        ]

    def _sweep_organization(self, region: str, source: Source, own: str) -> list[Decision]:
        """The scheduled sweep in organization mode: the deployment's account, then every ACTIVE account of the
        guarded organizational units, in the schedule's Region."""
        assert self.ctx.organization is not None
        try:
            members = self.ctx.organization.accounts()
        except Exception as exc:
            if self.raise_retryable and is_retryable(exc):
                raise
            decision = Decision.blank(
                self.spec, source, account=own, region=region, reason="could not list the organization's accounts"
            )
            self._failed(decision, exc)
            members = []
            out = [decision]
        else:
            out = []
        for account in dict.fromkeys([own or self.ctx.own_account(), *members]):
            out.extend(self.sweep(region, source, account))
        return out

    def _own_member_role(self, issuer: str) -> bool:
        """Organization mode: the call was made through THIS rule's member role, in the deployment's account or a
        member account (the loop guard's second line; another rule's member role is judged as any caller)."""
        role = self.ctx.settings.member_role
        if not issuer or not role or self.ctx.organization is None:
            return False
        match = _ROLE_ARN.match(issuer)
        if match is None or match["name"] != role:
            return False
        account = match["account"]
        return account == self.ctx.own_account() or self.ctx.organization.is_member(account)

    # ------------------------------------------------------------------------------------- decisions
    def _no_resource(self, event: dict[str, Any], source: Source, reason: str) -> Decision:
        return Decision.blank(
            self.spec, source, account=events.account(event), region=events.region(event), reason=reason
        )

    def decide(self, ref: ResourceRef, source: Source) -> Decision:
        decision = Decision.blank(self.spec, source, ref, console_url=self.rule.console_url(ref))
        log_keys: dict[str, Any] = {
            "rule_id": self.spec.id,
            "resource_id": ref.resource_id,
            "event_id": source.event_id,
        }
        foreign = self._foreign_account(ref)
        redelivered = False
        outside = ""
        if foreign and self.ctx.organization is not None:
            try:
                coverage = self.ctx.organization.coverage(foreign)
            except Exception as exc:  # cannot tell whether the account is ours: fail, loudly
                if self.raise_retryable and is_retryable(exc):
                    raise
                decision.reason = f"could not tell whether account {foreign} is in the organization"
                self._failed(decision, exc)
                outside = "unknown"
            else:
                decision.account_name = coverage.name
                if not coverage.covered:
                    outside = coverage.reason
                    decision.reason = f"another account's resource ({foreign}): {outside}: not handled"
        elif foreign:
            decision.reason = f"another account's resource ({foreign}): not handled by this deployment"
            outside = "single account"
        elif self.ctx.organization is not None and ref.account:
            decision.account_name = self.ctx.organization.name(ref.account)
        if outside:
            pass  # not this deployment's to judge: said so, nothing read
        elif self.apply and self.guard is not None:
            decision, redelivered = self._decide_once(ref, source, decision, log_keys)
        else:
            self._judge(ref, decision, log_keys)
        logger.info("decision", compliance=decision.compliance, action=decision.action, **log_keys)
        if self.observer:
            self.observer(decision)
        if not redelivered:
            # The outcome is stored (idempotency) and audited before anyone is told: a failed alert can then be
            # re-sent from the stored outcome, and the audit trail never misses a change mlwarden made.
            self._record(decision, source, log_keys)
        if decision.alert:
            self._deliver(decision, source, ref, log_keys)
        return decision

    # ----------------------------------------------------------------------------------- exactly once
    def _resource_key(self, ref: ResourceRef) -> str:
        return ref.arn or f"{ref.account}:{ref.region}:{ref.resource_type}:{ref.resource_id}"

    @staticmethod
    def _event_key(source: Source) -> str:
        # EventBridge: the CloudTrail record or event id alone; Config: the rule name and notification time.
        return source.delivery_key or f"{source.event_id}|{source.event_time}"

    def _decide_once(
        self, ref: ResourceRef, source: Source, decision: Decision, log_keys: dict[str, Any]
    ) -> tuple[Decision, bool]:
        """Decide (and act) at most once per event and resource. (decision, redelivered)."""
        assert self.guard is not None

        def run() -> dict[str, Any]:
            self._judge(ref, decision, log_keys)
            return {"decision": decision.to_store()}

        try:
            stored, ran = self.guard.once(self.spec.id, self._resource_key(ref), self._event_key(source), run)
        except IdempotencyPersistenceLayerError as exc:
            if getattr(exc, "mlwarden_ran", False):
                # Decided (and maybe acted) but the outcome could not be stored: report what was done.
                logger.warning("outcome not stored", error=describe_error(exc.__cause__ or exc), **log_keys)
                decision.details["idempotency_failed"] = True
                return decision, False
            if self.raise_retryable and is_retryable(exc):
                raise  # throttled: the Lambda retry decides again (and the DLQ keeps it if that fails too)
            # The table is unreachable: never act without the exactly-once guarantee, but never go silent.
            logger.warning("exactly-once store unreachable", error=describe_error(exc.__cause__ or exc), **log_keys)
            fresh = replace(decision, details={}, reason="")
            self._judge(ref, fresh, log_keys, may_fix=False)
            fresh.details["idempotency_failed"] = True
            if fresh.compliance == NON_COMPLIANT and fresh.action in (ACTION_NOTIFIED, ACTION_NONE):
                fresh.reason += "; could not ensure exactly-once (idempotency table unreachable): not remediated"
                fresh.action, fresh.alert = ACTION_NOTIFIED, True
            return fresh, False
        if ran:
            return decision, False
        previous = Decision.from_store(stored.get("decision") or {})
        if previous.alert and not self.guard.delivered(self.spec.id, self._resource_key(ref), self._event_key(source)):
            # The first delivery decided and acted, then could not alert: send that alert now, not a new verdict.
            previous.details["alert_retry"] = True
            return previous, True
        decision.compliance = previous.compliance or decision.compliance
        decision.resource_arn = previous.resource_arn or decision.resource_arn
        decision.action = ACTION_NONE
        decision.reason = (
            f"duplicate: already handled ({previous.action}, event {previous.event_id or '-'}): "
            "the same event was delivered again"
        )
        decision.details["duplicate"] = True
        return decision, True

    # ---------------------------------------------------------------------------------------- judging
    def _judge(self, ref: ResourceRef, decision: Decision, log_keys: dict[str, Any], *, may_fix: bool = True) -> None:
        try:
            self._decide(ref, decision, may_fix=may_fix)
        except Exception as exc:
            if self.raise_retryable and is_retryable(exc):
                logger.warning("retryable AWS error; handing back for retry", error=describe_error(exc), **log_keys)
                raise
            self._failed(decision, exc)
            if not isinstance(exc, ClientError | BotoCoreError):
                logger.exception("unexpected error while judging a resource", **log_keys)
                if self.raise_retryable:
                    raise

    def _record(self, decision: Decision, source: Source, log_keys: dict[str, Any]) -> None:
        if self.audit:
            try:
                self.audit.record(decision, source.principal, source.session)
            except (ClientError, BotoCoreError) as exc:  # the decision stands; the gap is logged and counted
                logger.warning("audit record not written", error=describe_error(exc), **log_keys)
                decision.details["audit_failed"] = True
        for report in self.reporters:
            try:
                report(decision)
            except Exception as exc:  # a reporting gap must not undo or block the decision
                logger.warning(
                    "decision not reported",
                    reporter=getattr(report, "__qualname__", ""),
                    error=describe_error(exc),
                    **log_keys,
                )
                decision.details["report_failed"] = True

    def _deliver(self, decision: Decision, source: Source, ref: ResourceRef, log_keys: dict[str, Any]) -> None:
        if self.publisher is None:
            decision.details["not_sent"] = "no alert topic configured"
            return
        try:
            self.publisher.publish(decision)
        except (ClientError, BotoCoreError) as exc:
            logger.error("alert not delivered", error=describe_error(exc), **log_keys)
            decision.details["alert_failed"] = True
            if self.alert_failed:
                self.alert_failed(decision)
            if self.raise_retryable and self.guard is not None:
                # Retried as an alert: the retry finds the stored outcome and re-sends it (see _decide_once).
                raise AlertNotDelivered(describe_error(exc)) from exc
            return
        if self.guard is not None:
            self.guard.mark_delivered(self.spec.id, self._resource_key(ref), self._event_key(source))

    def _foreign_account(self, ref: ResourceRef) -> str:
        """The other account a resource belongs to, or "" when it is this deployment's (or unknown)."""
        own = self.ctx.own_account()
        if not own:
            return ""
        for account in (ref.account, _arn_account(ref.arn)):
            if account and account != own:
                return account
        return ""

    def _failed(self, decision: Decision, exc: BaseException) -> None:
        what = describe_error(exc)
        member = exc if isinstance(exc, MemberRoleUnavailable) else exc.__cause__ or exc.__context__
        if isinstance(member, MemberRoleUnavailable):
            # The member role is missing or refuses this function: name the account and the role to fix.
            what = str(member)
            decision.details["member_role_failed"] = member.account
            decision.details["member_role"] = member.role_arn
        elif error_code(exc) in ACCESS_DENIED_CODES and isinstance(exc, ClientError):
            message = error_message(exc)
            action = denied_action(message, getattr(exc, "operation_name", ""), self.spec.permissions.all_actions())
            grant = (
                f"grant {action} to the rule's role" if action else "grant the missing permission to the rule's role"
            )
            what = f"access denied — {grant} ({what})"
        if decision.compliance == NON_COMPLIANT and decision.action in (
            ACTION_REMEDIATED,
            ACTION_WOULD_REMEDIATE,
        ):
            decision.reason = f"{decision.reason}; remediation failed: {what}"
        else:
            decision.compliance = decision.compliance if decision.compliance == NON_COMPLIANT else NOT_APPLICABLE
            decision.reason = f"{decision.reason + '; ' if decision.reason else ''}could not check: {what}"
        decision.action = ACTION_FAILED if self.apply else ACTION_NONE
        decision.alert = self.apply

    def _decide(self, ref: ResourceRef, decision: Decision, *, may_fix: bool = True) -> None:
        rule, spec, settings = self.rule, self.spec, self.ctx.settings
        try:
            state = rule.fetch(ref, self.ctx)
        except ResourceGone as gone:
            decision.reason = f"resource no longer exists ({gone})" if str(gone) else "resource no longer exists"
            return
        evaluation = rule.evaluate(ref, state, self.ctx)
        decision.compliance = evaluation.compliance
        decision.reason = evaluation.reason
        decision.resource_arn = rule.arn(ref, state) or ref.arn
        if evaluation.compliance != NON_COMPLIANT:
            return
        decision.severity = rule.severity(ref, state)
        decision.remediation = evaluation.remediation
        decision.before = evaluation.before
        decision.details = rule.details(ref, state)

        if self.ctx.organization is not None and ref.account:
            organization = self.ctx.organization
            mode, mode_from = self.modes.mode_for(
                spec.id, settings.default_mode, ref.account, lambda: organization.ancestry(ref.account)
            )
            if mode_from != "global":
                decision.details["mode_from"] = mode_from
        else:
            mode = self.modes.mode(spec.id, settings.default_mode)
        if mode == MODE_OFF:
            decision.reason += " (rule is off: no alert, no action)"
            decision.details["rule_off"] = True
            return

        # Exemption tags are read only for non-compliant resources. Unreadable tags fail closed.
        tags_error = ""
        try:
            tags = rule.read_tags(ref, state, self.ctx)
        except ResourceGone:
            decision.compliance, decision.reason = NOT_APPLICABLE, "resource no longer exists"
            return
        except (ClientError, BotoCoreError) as exc:
            if self.raise_retryable and is_retryable(exc):
                raise
            tags, tags_error = None, describe_error(exc)
        quarantined_by = (tags or {}).get(exemptions.QUARANTINED_TAG)
        if quarantined_by and rule.is_stopped(state):  # not live: the report shows it as stopped
            decision.details["quarantined"] = quarantined_by
        exemption = exemptions.check(tags, spec.id, max_days=settings.max_exemption_days)
        if not exemption.exempt:
            configured = exemptions.check_configured(
                settings.exemption_entries(),
                (ref.resource_id, ref.arn, decision.resource_arn),
                account=ref.account or _arn_account(ref.arn),
                own_account=self.ctx.own_account(),
            )
            if configured.exempt or (configured.note and not exemption.note):
                exemption = configured
        if exemption.exempt:
            decision.action = ACTION_EXEMPT
            decision.reason += f"; {exemption.note}"
            decision.details["exemption"] = exemption.note
            decision.details["exemption_by"] = {  # kept by the audit trail (evidence: who may exempt, and why)
                "source": exemption.source,
                "reason": exemption.reason,
                "until": exemption.until.isoformat() if exemption.until else "",
            }
            if self.apply:
                self._report_exemption(ref, decision, exemption)
            return
        if exemption.note:
            decision.reason += f"; {exemption.note}"

        blockers: list[str] = []
        wants_fix = mode == MODE_REMEDIATE
        if wants_fix:
            if not spec.can_remediate:
                blockers.append("this rule has no automatic remediation: a human must act")
            elif not settings.allow_remediation:
                blockers.append("remediation withheld by the deployment (allowRemediation: false)")
            elif tags_error:
                blockers.append(f"could not verify exemption, so nothing was changed ({tags_error})")
            elif not may_fix:
                pass  # the caller says why (the exactly-once store is unreachable)
            elif self.modes.kill_switch_on():
                blockers.append("kill switch is on")
            elif why := rule.unfixable(ref, state, self.ctx):
                blockers.append(why)
        if blockers:
            decision.reason += "; " + "; ".join(blockers)
        remediate = wants_fix and not blockers and may_fix

        if not self.apply:
            decision.action = ACTION_WOULD_REMEDIATE if remediate else ACTION_WOULD_NOTIFY
            return
        self._act(ref, state, decision, remediate)

    def _report_exemption(self, ref: ResourceRef, decision: Decision, exemption: exemptions.Exemption) -> None:
        """An exempt violation is reported (LOW, status ``exempt``) the first time per resource and exemption."""
        ttl = EXEMPT_REPORT_SECONDS
        if exemption.until is not None:
            ttl = max(
                int(
                    (datetime.combine(exemption.until, datetime.min.time(), UTC).timestamp() + 86400)
                    - datetime.now(UTC).timestamp()
                ),
                1,
            )
        first = True
        if self.guard is not None:
            first, _ = self.guard.first(
                "exempt", self.spec.id, self._resource_key(ref), exemption.note, ttl_seconds=ttl
            )
        if first:
            decision.details["rule_severity"] = decision.severity
            decision.severity = EXEMPT_ALERT_SEVERITY
            decision.alert = True

    def _act(self, ref: ResourceRef, state: Any, decision: Decision, remediate: bool) -> None:
        """Remediate (when allowed and not flapping). The alert is sent by decide(), after the outcome is stored."""
        if remediate and self.limiter is not None:
            allowed, count = self.limiter.allow(self.spec.id, decision.resource_arn or ref.resource_id)
            if not allowed:
                remediate = False
                decision.details["flapping"] = True
                decision.reason += (
                    f"; flapping: {count} remediations of this resource this hour (limit {self.limiter.limit}): "
                    "remediation paused — a human must find what keeps undoing the fix"
                )
        if remediate:
            decision.action = ACTION_REMEDIATED  # tentative: _failed() reads it on error
            try:
                result = self.rule.remediate(ref, state, self.ctx)
            except ResourceGone:
                decision.compliance, decision.action = NOT_APPLICABLE, ACTION_NONE
                decision.reason = "resource disappeared before remediation"
                return
            finally:
                if self.ctx.reads is not None:  # reads shared in a CLI run: no rule judges what the fix changed
                    self.ctx.reads.changed(ref.account, ref.region)
            decision.remediation = result.description
            decision.after = result.after
            decision.action = ACTION_REMEDIATED if result.done else ACTION_NOTIFIED
            if not result.done:
                # Say why a remediate-mode violation was only notified (the reason is what the CLI shows).
                decision.reason += f"; not remediated yet: {result.description}"
            decision.alert = True
            return
        decision.action = ACTION_NOTIFIED
        decision.alert = True
        if self.guard is not None:
            # A burst of distinct events about one unchanged violation alerts once per window (nothing was
            # changed, so nothing new to say). Keyed on the violating state, so a different violation — or the
            # same one back after a fix — alerts again.
            first, since = self.guard.first(
                "notified",
                self.spec.id,
                self._resource_key(ref),
                fingerprint(decision.compliance, decision.reason, decision.before),
                ttl_seconds=self.guard.dedup_seconds,
            )
            if not first:
                decision.action, decision.alert = ACTION_NONE, False
                decision.details["duplicate"] = True
                decision.reason += (
                    f"; duplicate: this unchanged violation was already alerted{' at ' + since if since else ''} "
                    f"(within {self.guard.dedup_seconds} s)"
                )


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?P<name>[\w+=,.@-]+)$")


def _arn_account(arn: str) -> str:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else ""


__all__ = ["Engine", "Source", "COMPLIANT", "now_iso"]
