"""Value objects shared by the engine, the rules, the Lambda handler and the CLI."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlwarden.core.spec import RuleSpec

# AWS Config's three words (cdk-nag and rdklib use the same).
COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"
NOT_APPLICABLE = "NOT_APPLICABLE"

# Runtime modes (SSM /mlwarden/rules/<rule-id>/mode).
MODE_OFF = "off"
MODE_NOTIFY = "notify"
MODE_REMEDIATE = "remediate"
MODES = (MODE_OFF, MODE_NOTIFY, MODE_REMEDIATE)

# Actions (DESIGN §2.4). Dry run: none, would_notify, would_remediate, exempt.
# Applied: none, notified, remediated, exempt, failed.
ACTION_NONE = "none"
ACTION_WOULD_NOTIFY = "would_notify"
ACTION_WOULD_REMEDIATE = "would_remediate"
ACTION_NOTIFIED = "notified"
ACTION_REMEDIATED = "remediated"
ACTION_EXEMPT = "exempt"
ACTION_FAILED = "failed"

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL")


@dataclass(frozen=True)
class ResourceRef:
    """Which resource an event or sweep points at. The rule re-reads it before judging."""

    resource_type: str
    resource_id: str
    region: str
    account: str = ""
    arn: str = ""
    # Facts from the event that are not live state but belong in the alert (e.g. what Macie found).
    context: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Evaluation:
    compliance: str
    reason: str
    # What remediation would do (shown in alerts and dry runs), or what a human must do.
    remediation: str = ""
    before: dict[str, Any] | None = None


@dataclass(frozen=True)
class RemediationResult:
    description: str
    after: dict[str, Any] | None = None
    # False when the fix could not be completed now (e.g. a notebook still Pending): the alert says so.
    done: bool = True


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Source:
    """Where a decision came from (for the JSON output and the alert)."""

    event_id: str = ""
    event_time: str = ""
    principal: str = ""  # who caused the event (CloudTrail caller), for the audit trail
    delivery_key: str = ""  # what makes two deliveries the same event (exactly-once); event_id when empty


@dataclass
class Decision:
    """One (event, rule, resource) verdict: the CLI's JSON object and the alert's core."""

    event_id: str
    rule_id: str | None
    resource_type: str
    resource_id: str
    resource_arn: str
    account: str
    region: str
    compliance: str
    action: str
    reason: str
    controls: list[str]
    severity: str = ""
    title: str = ""
    remediation: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    console_url: str = ""
    event_time: str = ""
    detected_at: str = ""
    # Details for alerts (finding facts); never sample values.
    details: dict[str, Any] = field(default_factory=dict)
    # The id AWS Config knows the resource by, when the decision answers a Config invocation.
    config_resource_id: str = ""
    # Set by the engine: this decision is to be sent as an alert (not part of the CLI record or the alert).
    alert: bool = False
    # Organization mode: the name AWS Organizations gives the resource's account (alerts and audit), "" elsewhere.
    account_name: str = ""

    CLI_KEYS = (
        "event_id",
        "rule_id",
        "resource_type",
        "resource_id",
        "resource_arn",
        "account",
        "region",
        "compliance",
        "action",
        "reason",
        "controls",
    )

    @classmethod
    def blank(
        cls,
        spec: RuleSpec,
        source: Source,
        ref: ResourceRef | None = None,
        *,
        account: str = "",
        region: str = "",
        reason: str = "",
        console_url: str = "",
    ) -> Decision:
        """A not-yet-judged verdict: NOT_APPLICABLE, no action, the rule's controls, severity and title.

        About ``ref``, or, without one, about no resource of the rule's type in ``account`` and ``region``.
        """
        if ref is None:
            ref = ResourceRef(spec.resource_type, "", region, account)
        return cls(
            event_id=source.event_id,
            rule_id=spec.id,
            resource_type=ref.resource_type,
            resource_id=ref.resource_id,
            resource_arn=ref.arn,
            account=ref.account,
            region=ref.region,
            compliance=NOT_APPLICABLE,
            action=ACTION_NONE,
            reason=reason,
            controls=list(spec.controls),
            severity=spec.severity,
            title=spec.title,
            console_url=console_url,
            event_time=source.event_time,
            detected_at=now_iso(),
        )

    def cli_record(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.CLI_KEYS}

    def alert_record(self) -> dict[str, Any]:
        record = self.cli_record()
        record.update(
            severity=self.severity,
            title=self.title,
            remediation=self.remediation,
            before=self.before,
            after=self.after,
            console_url=self.console_url,
            event_time=self.event_time,
            detected_at=self.detected_at,
        )
        if self.account_name:
            record["account_name"] = self.account_name
        if self.details:
            record["details"] = self.details
        return record

    def to_store(self) -> dict[str, Any]:
        """JSON-safe copy (the idempotency store keeps it so a redelivered event re-sends this alert)."""
        stored: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        return stored

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> Decision:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class ResourceGone(Exception):
    """The resource no longer exists: the verdict is NOT_APPLICABLE, not an error."""
