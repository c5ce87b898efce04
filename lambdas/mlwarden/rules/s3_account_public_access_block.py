"""Account-level S3 Block Public Access must be fully on (S3.1).

The account setting is the floor under every bucket: with its four flags on, no bucket of the account can be
made public, whatever its own settings. It is read and written through S3 Control (GetPublicAccessBlock /
PutPublicAccessBlock with the AccountId); CloudTrail records those calls from s3.amazonaws.com as
PutAccountPublicAccessBlock / DeleteAccountPublicAccessBlock. The resource is the account: its id is the
resource id, it has no ARN and no tags (exempt it by not deploying the rule or switching it off).

Remediation turns all four flags on. It can fail with AccessDenied where an AWS Organizations Block Public
Access policy manages the account's setting; the alert then names the denied call.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code
from mlwarden.core.model import COMPLIANT, NON_COMPLIANT, Evaluation, RemediationResult, ResourceRef
from mlwarden.core.spec import CloudTrailTrigger, ConfigTrigger, Permissions, Rule, RuleSpec
from mlwarden.rules import _s3_access

ACCOUNT_BPA_TYPE = "AWS::S3::AccountPublicAccessBlock"
# The resource type of the periodic managed rule S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC, and of the
# Security Hub S3.1 finding's resource ("AwsAccount", id "AWS::::Account:<account id>").
ACCOUNT_TYPE = "AWS::::Account"
SECURITYHUB_ACCOUNT_PREFIX = "AWS::::Account:"


def account_ref(account: str, region: str, resource_type: str = ACCOUNT_BPA_TYPE) -> ResourceRef:
    return ResourceRef(resource_type, account, region, account, "")


class S3AccountPublicAccessBlock(Rule):
    spec = RuleSpec(
        id="s3-account-public-access-block",
        title="Account-level S3 Block Public Access must be on",
        severity="MEDIUM",  # Security Hub's for S3.1: the floor is missing, no bucket is public because of it
        resource_type=ACCOUNT_BPA_TYPE,
        controls=("S3.1",),
        permissions=Permissions(
            # s3control GetPublicAccessBlock -> s3:GetAccountPublicAccessBlock. Sweeps also call sts
            # GetCallerIdentity to name the account; that call needs no permission, so it is not declared.
            detect=("s3:GetAccountPublicAccessBlock",),
            # s3control PutPublicAccessBlock -> s3:PutAccountPublicAccessBlock
            remediate=("s3:PutAccountPublicAccessBlock",),
            resources=(),
            # The account-level Block Public Access actions have no resource type in IAM: granted on "*".
            unscoped=("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"),
        ),
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.s3",
                event_source="s3.amazonaws.com",
                event_names=("PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"),
            ),
        ),
        config=ConfigTrigger(resource_types=(ACCOUNT_BPA_TYPE,)),
        config_managed_rules=(
            "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS",  # change-triggered, AWS::S3::AccountPublicAccessBlock
            "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",  # S3.1 today, AWS::::Account
        ),
        remediation_summary="all four account-level Block Public Access settings on (s3control PutPublicAccessBlock)",
    )

    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        params = events.request_parameters(event)
        account = str(params.get("accountId") or params.get("AccountId") or events.account(event))
        if not _s3_access.ACCOUNT_ID.match(account):
            return []
        return [account_ref(account, events.region(event, "us-east-1"))]

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        resource_type = str(item.get("resourceType") or ACCOUNT_BPA_TYPE)
        if resource_type not in (ACCOUNT_BPA_TYPE, ACCOUNT_TYPE):
            return None
        account = str(item.get("awsAccountId") or item.get("resourceId") or "")
        if not _s3_access.ACCOUNT_ID.match(account):
            return None
        # Answer with the type the item names: the periodic managed rule reports on AWS::::Account.
        return account_ref(account, str(item.get("awsRegion") or "us-east-1"), resource_type)

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        if arn.startswith(SECURITYHUB_ACCOUNT_PREFIX):
            named = arn[len(SECURITYHUB_ACCOUNT_PREFIX) :]
            if _s3_access.ACCOUNT_ID.match(named):
                return account_ref(named, region)
        return None

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        account = str(ctx.client("sts", region).get_caller_identity()["Account"])
        return [account_ref(account, region)]

    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        s3control = ctx.client("s3control", ref.region, ref.account)
        try:
            response = s3control.get_public_access_block(AccountId=ref.resource_id)
        except ClientError as exc:
            if error_code(exc) == "NoSuchPublicAccessBlockConfiguration":
                return {"configured": False, "block_public_access": _s3_access.bpa_flags(None)}
            raise
        configuration = response.get("PublicAccessBlockConfiguration")
        return {"configured": True, "block_public_access": _s3_access.bpa_flags(configuration)}

    def evaluate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> Evaluation:
        flags = state["block_public_access"]
        off = [flag for flag, on in flags.items() if not on]
        if not off:
            return Evaluation(COMPLIANT, "all four account-level Block Public Access settings are on")
        if state.get("configured"):
            reason = f"account-level Block Public Access is not fully on ({', '.join(off)} off)"
        else:
            reason = "the account has no account-level Block Public Access configuration"
        return Evaluation(
            NON_COMPLIANT,
            reason,
            "turn on all four account-level Block Public Access settings (every bucket of the account is then "
            "kept private, including buckets that are meant to be public: move those to a separate account)",
            {"PublicAccessBlockConfiguration": flags if state.get("configured") else None},
        )

    def remediate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> RemediationResult:
        current = self.fetch(ref, ctx)
        after = {"PublicAccessBlockConfiguration": dict(_s3_access.FULL_BLOCK)}
        if self.evaluate(ref, current, ctx).compliance == COMPLIANT:
            return RemediationResult("already compliant: nothing changed", after)
        ctx.client("s3control", ref.region, ref.account).put_public_access_block(
            AccountId=ref.resource_id, PublicAccessBlockConfiguration=_s3_access.FULL_BLOCK
        )
        return RemediationResult("all four account-level Block Public Access settings turned on", after)

    def read_tags(self, ref: ResourceRef, state: Any, ctx: RuleContext) -> None:
        return None  # the account-level setting has no tags

    def console_url(self, ref: ResourceRef) -> str:
        return f"https://s3.console.aws.amazon.com/s3/settings?region={ref.region}"


RULE = S3AccountPublicAccessBlock()
