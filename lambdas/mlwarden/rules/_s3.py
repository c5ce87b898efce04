"""Helpers shared by the S3 rules (not a rule: the registry skips modules starting with '_')."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code
from mlwarden.core.model import ResourceGone, ResourceRef
from mlwarden.core.spec import Rule

BUCKET_TYPE = "AWS::S3::Bucket"
MISSING_BUCKET_CODES = {"NoSuchBucket", "404", "NotFound"}


def raise_if_gone(exc: ClientError, what: str) -> None:
    if error_code(exc) in MISSING_BUCKET_CODES or error_code(exc) == "NoSuchKey":
        raise ResourceGone(what) from exc


def bucket_ref(bucket: str, region: str, account: str = "") -> ResourceRef:
    return ResourceRef(BUCKET_TYPE, bucket, region, account, f"arn:aws:s3:::{bucket}")


def bucket_refs_from_cloudtrail(event: dict[str, Any]) -> list[ResourceRef]:
    bucket = events.request_parameters(event).get("bucketName")
    if not isinstance(bucket, str) or not bucket:
        return []
    return [bucket_ref(bucket, events.region(event, "us-east-1"), events.account(event))]


def bucket_ref_from_arn(arn: str, region: str, account: str = "") -> ResourceRef | None:
    prefix = "arn:aws:s3:::"
    if not arn.startswith(prefix) or "/" in arn[len(prefix) :] or len(arn) == len(prefix):
        return None
    return bucket_ref(arn[len(prefix) :], region, account)


def bucket_ref_from_config_item(item: dict[str, Any]) -> ResourceRef | None:
    name = item.get("resourceName") or item.get("resourceId")
    if not name:
        return None
    return bucket_ref(str(name), str(item.get("awsRegion", "")), str(item.get("awsAccountId", "")))


def list_bucket_refs(s3: Any, region: str, account: str = "") -> list[ResourceRef]:
    """Buckets whose home region is ``region`` (ListBuckets with the BucketRegion filter, paginated)."""
    refs = []
    for page in s3.get_paginator("list_buckets").paginate(BucketRegion=region):
        for bucket in page.get("Buckets", []):
            home = bucket.get("BucketRegion") or region
            if home == region:
                refs.append(bucket_ref(bucket["Name"], region, account))
    return refs


def bucket_tags(s3: Any, bucket: str) -> dict[str, str]:
    try:
        response = s3.get_bucket_tagging(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        raise_if_gone(exc, f"bucket {bucket}")
        raise
    return {t["Key"]: t["Value"] for t in response.get("TagSet", [])}


def bucket_console_url(bucket: str, region: str) -> str:
    return f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}?region={region}"


class BucketRule(Rule):
    """A rule judging buckets: how events, Config items, Security Hub ARNs and sweeps name a bucket, its tags
    and its console page are the same for every such rule."""

    console_tab = ""  # e.g. "permissions": the console tab where the setting lives

    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        return bucket_refs_from_cloudtrail(event)

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        return bucket_ref_from_config_item(item)

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        return bucket_ref_from_arn(arn, region, account)

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        return list_bucket_refs(ctx.client("s3", region), region)

    def read_tags(self, ref: ResourceRef, state: Any, ctx: RuleContext) -> dict[str, str]:
        return bucket_tags(ctx.client("s3", ref.region, ref.account), ref.resource_id)

    def console_url(self, ref: ResourceRef) -> str:
        url = bucket_console_url(ref.resource_id, ref.region)
        return f"{url}&tab={self.console_tab}" if self.console_tab else url
