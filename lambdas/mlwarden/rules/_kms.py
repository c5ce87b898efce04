"""Helpers shared by the KMS key rules (not a rule: the registry skips modules starting with '_')."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code
from mlwarden.core.model import ResourceGone, ResourceRef
from mlwarden.core.spec import Rule

KEY_TYPE = "AWS::KMS::Key"
KEY_ARN_PATTERN = "arn:{partition}:kms:{region}:{account}:key/*"
# DescribeKey answers NotFoundException once a key's deletion date has passed (or it never existed).
MISSING_KEY_CODES = {"NotFoundException"}


def key_ref(key: str, region: str, account: str = "") -> ResourceRef | None:
    """A key named by its id or its ARN (an ARN's region and account win over the event's)."""
    if key.startswith("arn:"):
        parts = key.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith("key/"):
            return None  # an alias ARN or another resource: not a key this rule can judge by name
        key_id = parts[5].split("/", 1)[1]
        return ResourceRef(KEY_TYPE, key_id, parts[3] or region, parts[4] or account, key)
    if not key or key.startswith("alias/"):
        return None
    arn = f"arn:aws:kms:{region}:{account}:key/{key}" if account and region else ""
    return ResourceRef(KEY_TYPE, key, region, account, arn)


def key_refs_from_cloudtrail(event: dict[str, Any]) -> list[ResourceRef]:
    """The key of a KMS CloudTrail record: requestParameters.keyId (id or ARN), else resources[].ARN."""
    region, account = events.region(event, "us-east-1"), events.account(event)
    key = events.request_parameters(event).get("keyId")
    if not isinstance(key, str) or not key:
        resources = events.detail(event).get("resources") or []
        key = next(
            (
                str(r.get("ARN"))
                for r in resources
                if isinstance(r, dict) and r.get("type") == KEY_TYPE and r.get("ARN")
            ),
            "",
        )
    ref = key_ref(key, region, account) if key else None
    return [ref] if ref is not None else []


def key_ref_from_config_item(item: dict[str, Any]) -> ResourceRef | None:
    key = item.get("resourceId") or item.get("resourceName") or item.get("ARN") or ""
    return key_ref(str(key), str(item.get("awsRegion", "")), str(item.get("awsAccountId", "")))


def key_ref_from_arn(arn: str, region: str, account: str) -> ResourceRef | None:
    return key_ref(arn, region, account) if arn.startswith("arn:") else None


def describe_key(kms: Any, ref: ResourceRef) -> dict[str, Any]:
    """KeyMetadata of the key now; ResourceGone once it no longer exists."""
    try:
        return dict(kms.describe_key(KeyId=ref.arn or ref.resource_id)["KeyMetadata"])
    except ClientError as exc:
        if error_code(exc) in MISSING_KEY_CODES:
            raise ResourceGone(f"KMS key {ref.resource_id}") from exc
        raise


def key_tags(kms: Any, key_id: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for page in kms.get_paginator("list_resource_tags").paginate(KeyId=key_id):
        tags.update({t["TagKey"]: t["TagValue"] for t in page.get("Tags", [])})
    return tags


def list_key_refs(kms: Any, region: str) -> list[ResourceRef]:
    """Every key of the region (ListKeys, paginated); AWS managed keys are told apart when each is read."""
    return [
        ResourceRef(KEY_TYPE, key["KeyId"], region, "", key.get("KeyArn", ""))
        for page in kms.get_paginator("list_keys").paginate()
        for key in page.get("Keys", [])
    ]


def key_console_url(ref: ResourceRef) -> str:
    return f"https://{ref.region}.console.aws.amazon.com/kms/home?region={ref.region}#/kms/keys/{ref.resource_id}"


def key_arn(ref: ResourceRef, metadata: dict[str, Any] | None) -> str:
    return str((metadata or {}).get("Arn") or ref.arn)


def iso(value: Any) -> str | None:
    """A datetime from boto3 as ISO-8601 text (alerts are JSON)."""
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class KeyRule(Rule):
    """A rule judging customer KMS keys: how a key is named, listed, tagged and linked is shared."""

    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        return key_refs_from_cloudtrail(event)

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        return key_ref_from_config_item(item)

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        return key_ref_from_arn(arn, region, account)

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        return list_key_refs(ctx.client("kms", region), region)

    def read_tags(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> dict[str, str]:
        if "Tags" in state:  # already read to judge (e.g. the mlwarden:guarded tag)
            return dict(state["Tags"])
        return key_tags(ctx.client("kms", ref.region, ref.account), state["KeyMetadata"]["KeyId"])

    def arn(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        return key_arn(ref, state.get("KeyMetadata"))

    def console_url(self, ref: ResourceRef) -> str:
        return key_console_url(ref)
