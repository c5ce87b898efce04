"""Amazon Macie must stay enabled in every guarded account and region (Macie.1).

Two ways to turn it off, two different answers:

- **Suspended** (``UpdateMacieSession`` status ``PAUSED``): Macie keeps the session, its settings and
  resources, but stops all activity and cancels every classification job. Resuming is safe and loses
  nothing, so remediation sets the status back to ``ENABLED``; the alert says which jobs must be recreated.
- **Disabled** (``DisableMacie``): Macie has already deleted every setting, finding, job and allow list of
  the account. ``EnableMacie`` would lose nothing more, but it would create a blank session (new billing,
  no jobs, no automated discovery, no results repository, and in an organization it should come from the
  Macie administrator), so mlwarden only alerts, as CRITICAL, and says what a human must set up again.

The resource is the account's Macie session in the region: id = account id, type ``AWS::Macie::Session``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code, error_message
from mlwarden.core.model import COMPLIANT, NON_COMPLIANT, Evaluation, RemediationResult, ResourceRef
from mlwarden.core.spec import CloudTrailTrigger, Permissions, Rule, RuleSpec

SESSION_TYPE = "AWS::Macie::Session"
# AWS Config's macie-status-check judges the account, not the session.
ACCOUNT_TYPE = "AWS::::Account"
ENABLED, PAUSED, DISABLED = "ENABLED", "PAUSED", "DISABLED"
# GetMacieSession on an account where Macie is off answers AccessDeniedException "Macie is not enabled."
# (not a not-found error); moto answers ResourceNotFoundException.
NOT_ENABLED_MESSAGE = "macie is not enabled"
REENABLE = (
    "enable Macie again in this account and region (from the Macie administrator account if the account is "
    "an organization member), then recreate the classification jobs, automated sensitive data discovery, "
    "the discovery results repository and allow lists: disabling Macie deleted them all"
)


def macie_ref(account: str, region: str, resource_type: str = SESSION_TYPE) -> ResourceRef:
    return ResourceRef(resource_type, account, region, account, "")


def is_not_enabled(exc: ClientError) -> bool:
    code, message = error_code(exc), error_message(exc).lower()
    return (code == "AccessDeniedException" and NOT_ENABLED_MESSAGE in message) or code == "ResourceNotFoundException"


class MacieEnabled(Rule):
    spec = RuleSpec(
        id="macie-enabled",
        title="Amazon Macie must be enabled",
        severity="HIGH",
        resource_type=SESSION_TYPE,
        controls=("Macie.1",),
        permissions=Permissions(
            # A sweep also calls sts:GetCallerIdentity to name the account; it needs no permission.
            detect=("macie2:GetMacieSession",),
            remediate=("macie2:UpdateMacieSession",),
            # Macie's account-level actions have no resource-level permissions.
            unscoped=("macie2:GetMacieSession", "macie2:UpdateMacieSession"),
        ),
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.macie2",
                event_source="macie2.amazonaws.com",
                event_names=("DisableMacie", "UpdateMacieSession"),
            ),
        ),
        # No custom Config rule: the CDK's list of recorded types does not include AWS::Macie::Session.
        # The managed macie-status-check (periodic, AWS::::Account) is the backstop instead.
        config_managed_rules=("MACIE_STATUS_CHECK",),
        remediation_summary="a suspended (PAUSED) Macie is resumed with UpdateMacieSession ENABLED; "
        "a disabled Macie is only reported (CRITICAL): re-enabling it is a human decision",
    )

    # ------------------------------------------------------------------------------------------ refs
    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        account = events.account(event)
        if not account:
            return []
        return [macie_ref(account, events.region(event, "us-east-1"))]

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        # Compliance changes of macie-status-check name the account (AWS::::Account); keep its type so the
        # engine recognises the answer as being about the same resource.
        account = str(item.get("awsAccountId") or item.get("resourceId") or "")
        if not account:
            return None
        resource_type = ACCOUNT_TYPE if item.get("resourceType") == ACCOUNT_TYPE else SESSION_TYPE
        return macie_ref(account, str(item.get("awsRegion", "")), resource_type)

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        # Security Hub names the account of a Macie.1 finding as "AWS::::Account:<id>".
        prefix = "AWS::::Account:"
        if arn.startswith(prefix) and arn[len(prefix) :]:
            return macie_ref(arn[len(prefix) :], region)
        return None

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        account = str(ctx.client("sts", region).get_caller_identity().get("Account", ""))
        return [macie_ref(account, region)]

    # ------------------------------------------------------------------------------------ live state
    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        try:
            session = ctx.client("macie2", ref.region, ref.account).get_macie_session()
        except ClientError as exc:
            if is_not_enabled(exc):
                return {"status": DISABLED}
            raise
        return {
            "status": str(session.get("status", "")),
            "findingPublishingFrequency": session.get("findingPublishingFrequency"),
        }

    def evaluate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> Evaluation:
        status = state["status"]
        where = f"in {ref.region}"
        if status == ENABLED:
            return Evaluation(COMPLIANT, f"Macie is enabled {where}")
        if status == PAUSED:
            return Evaluation(
                NON_COMPLIANT,
                f"Macie is suspended (PAUSED) {where}: no sensitive data discovery runs",
                "resume Macie (UpdateMacieSession status ENABLED); then recreate the classification jobs the "
                "suspension cancelled",
                {"status": PAUSED},
            )
        return Evaluation(NON_COMPLIANT, f"Macie is disabled {where}", REENABLE, {"status": status or DISABLED})

    def remediate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> RemediationResult:
        current = self.fetch(ref, ctx)
        status = current["status"]
        if status == ENABLED:
            return RemediationResult("already enabled: nothing changed", {"status": ENABLED})
        if status != PAUSED:
            # Never create a blank Macie session on the user's behalf (see the module docstring).
            return RemediationResult(
                f"Macie is disabled: not re-enabled automatically; {REENABLE}", {"status": status}, done=False
            )
        ctx.client("macie2", ref.region, ref.account).update_macie_session(status=ENABLED)
        return RemediationResult(
            "Macie resumed (status ENABLED); classification jobs cancelled by the suspension must be recreated",
            {"status": ENABLED},
        )

    def severity(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        return "CRITICAL" if state.get("status") not in (ENABLED, PAUSED) else self.spec.severity

    def console_url(self, ref: ResourceRef) -> str:
        return f"https://{ref.region}.console.aws.amazon.com/macie/home?region={ref.region}#/settings"


RULE = MacieEnabled()
