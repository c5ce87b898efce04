"""Helpers shared by the SageMaker configuration rules (not a rule: the registry skips modules starting with '_').

SageMaker names its resources in ARNs in lower case (``notebook-instance/examplenotebook``) and its Describe
calls accept the name in any case, so refs carry the name as the event or Config gives it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code, error_message
from mlwarden.core.model import ResourceGone, ResourceRef
from mlwarden.core.spec import Permissions, Rule

NOTEBOOK_TYPE = "AWS::SageMaker::NotebookInstance"
STOPPED_STATES = ("Stopping", "Stopped")  # a notebook instance that is not running
MODEL_TYPE = "AWS::SageMaker::Model"
ENDPOINT_CONFIG_TYPE = "AWS::SageMaker::EndpointConfig"
TRAINING_JOB_TYPE = "AWS::SageMaker::TrainingJob"
PROCESSING_JOB_TYPE = "AWS::SageMaker::ProcessingJob"

# The resource part of each type's ARN (arn:aws:sagemaker:<region>:<account>:<kind>/<name>).
ARN_KINDS = {
    NOTEBOOK_TYPE: "notebook-instance",
    MODEL_TYPE: "model",
    ENDPOINT_CONFIG_TYPE: "endpoint-config",
    TRAINING_JOB_TYPE: "training-job",
    PROCESSING_JOB_TYPE: "processing-job",
}
# The SageMaker console's page for one resource of each type.
CONSOLE_PAGES = {
    NOTEBOOK_TYPE: "notebook-instances",
    MODEL_TYPE: "models",
    ENDPOINT_CONFIG_TYPE: "endpointConfig",
    TRAINING_JOB_TYPE: "jobs",
    PROCESSING_JOB_TYPE: "processing-jobs",
}
GONE_CODES = {"ResourceNotFound", "ResourceNotFoundException"}
GONE_MESSAGES = ("recordnotfound", "could not find", "does not exist", "not found")


# ---------------------------------------------------------------------------------------------- errors
def is_gone(exc: ClientError) -> bool:
    """SageMaker says "not found" as ValidationException (Describe*), or ResourceNotFound (jobs)."""
    code, message = error_code(exc), error_message(exc).lower()
    return code in GONE_CODES or (code == "ValidationException" and any(m in message for m in GONE_MESSAGES))


def describe(ctx: RuleContext, ref: ResourceRef, operation: str, **params: Any) -> dict[str, Any]:
    """One Describe* call on the ref's account and region; ``ResourceGone`` when the resource is gone."""
    client = ctx.client("sagemaker", ref.region, ref.account)
    try:
        response = dict(getattr(client, operation)(**params))
    except ClientError as exc:
        if is_gone(exc):
            raise ResourceGone(f"{ARN_KINDS.get(ref.resource_type, 'resource')} {ref.resource_id}") from exc
        raise
    response.pop("ResponseMetadata", None)
    return response


# ------------------------------------------------------------------------------------------------ refs
def arn_for(resource_type: str, name: str, region: str, account: str) -> str:
    if not account or not region:
        return ""
    return f"arn:aws:sagemaker:{region}:{account}:{ARN_KINDS[resource_type]}/{name.lower()}"


def ref_for(resource_type: str, name: str, region: str, account: str = "", arn: str = "") -> ResourceRef:
    return ResourceRef(resource_type, name, region, account, arn or arn_for(resource_type, name, region, account))


def ref_from_event(event: dict[str, Any], resource_type: str, *keys: str) -> list[ResourceRef]:
    """The resource a CloudTrail event (requestParameters) or a service event (detail) names by one of ``keys``."""
    params, detail = events.request_parameters(event), events.detail(event)
    for key in keys:
        name = params.get(key) or detail.get(key)
        if isinstance(name, str) and name:
            return [ref_for(resource_type, name, events.region(event, "us-east-1"), events.account(event))]
    return []


def _last_segment(value: str) -> str:
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def ref_from_config_item(item: dict[str, Any], resource_type: str) -> ResourceRef | None:
    """Config names SageMaker resources by name (resourceName) and by an id that may be the ARN."""
    name = item.get("resourceName") or item.get("resourceId")
    if not isinstance(name, str) or not name:
        return None
    arn = str(item.get("ARN") or item.get("arn") or "")
    return ref_for(
        resource_type,
        _last_segment(name),
        str(item.get("awsRegion", "")),
        str(item.get("awsAccountId", "")),
        arn,
    )


def ref_from_arn(arn: str, region: str, account: str, *resource_types: str) -> ResourceRef | None:
    """A ref for a SageMaker ARN of one of ``resource_types``; None for any other ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sagemaker" or "/" not in parts[5]:
        return None
    kind, name = parts[5].split("/", 1)
    for resource_type in resource_types:
        if ARN_KINDS[resource_type] == kind and name:
            return ResourceRef(resource_type, name, parts[3] or region, parts[4] or account, arn)
    return None


def list_refs(
    ctx: RuleContext,
    region: str,
    resource_type: str,
    paginator: str,
    list_key: str,
    name_key: str,
    arn_key: str,
    **params: Any,
) -> Iterable[ResourceRef]:
    """Every resource a List* paginator returns, as refs."""
    client = ctx.client("sagemaker", region)
    for page in client.get_paginator(paginator).paginate(**params):
        for item in page.get(list_key, []):
            yield ResourceRef(resource_type, item[name_key], region, "", item.get(arn_key, ""))


# ------------------------------------------------------------------------------------------- tags, urls
def tags(ctx: RuleContext, ref: ResourceRef, arn: str) -> dict[str, str]:
    """The resource's tags (ListTags, paginated); ``ResourceGone`` when it disappeared meanwhile."""
    client = ctx.client("sagemaker", ref.region, ref.account)
    found: dict[str, str] = {}
    try:
        for page in client.get_paginator("list_tags").paginate(ResourceArn=arn):
            found.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
    except ClientError as exc:
        if is_gone(exc):
            raise ResourceGone(f"{ARN_KINDS.get(ref.resource_type, 'resource')} {ref.resource_id}") from exc
        raise
    return found


def console_url(ref: ResourceRef) -> str:
    page = CONSOLE_PAGES.get(ref.resource_type)
    if not page or not ref.region:
        return ""
    return f"https://{ref.region}.console.aws.amazon.com/sagemaker/home?region={ref.region}#/{page}/{ref.resource_id}"


# -------------------------------------------------------------------------------------------- notebooks
NOTEBOOK_NAME_KEYS = ("notebookInstanceName", "NotebookInstanceName")


def notebook_refs_from_event(event: dict[str, Any]) -> list[ResourceRef]:
    return ref_from_event(event, NOTEBOOK_TYPE, *NOTEBOOK_NAME_KEYS)


def describe_notebook(ctx: RuleContext, ref: ResourceRef) -> dict[str, Any]:
    return describe(ctx, ref, "describe_notebook_instance", NotebookInstanceName=ref.resource_id)


def list_notebook_refs(ctx: RuleContext, region: str) -> list[ResourceRef]:
    return list(
        list_refs(
            ctx,
            region,
            NOTEBOOK_TYPE,
            "list_notebook_instances",
            "NotebookInstances",
            "NotebookInstanceName",
            "NotebookInstanceArn",
        )
    )


def notebook_summary(state: dict[str, Any], *keys: str) -> dict[str, Any]:
    """JSON-safe facts of a described notebook for alerts (``before``): status plus the named settings."""
    summary = {"NotebookInstanceStatus": state.get("NotebookInstanceStatus")}
    summary.update({key: state.get(key) for key in keys})
    return summary


def notebook_permissions(remediate: tuple[str, ...] = ()) -> Permissions:
    """What ``NotebookRule``'s own calls need (describe, tags, the sweep's listing) plus the rule's fixes."""
    return Permissions(
        detect=("sagemaker:DescribeNotebookInstance", "sagemaker:ListTags", "sagemaker:ListNotebookInstances"),
        remediate=remediate,
        resources=("arn:{partition}:sagemaker:{region}:{account}:notebook-instance/*",),
        unscoped=("sagemaker:ListNotebookInstances",),
    )


class NotebookRule(Rule):
    """A rule judging notebook instances: finding, reading, tagging and linking one is the same for all."""

    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        return notebook_refs_from_event(event)

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        return ref_from_config_item(item, NOTEBOOK_TYPE)

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        return ref_from_arn(arn, region, account, NOTEBOOK_TYPE)

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        return list_notebook_refs(ctx, region)

    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        return describe_notebook(ctx, ref)

    def read_tags(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> dict[str, str]:
        return tags(ctx, ref, self.arn(ref, state))

    def arn(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        return str(state.get("NotebookInstanceArn") or ref.arn)

    def is_stopped(self, state: dict[str, Any]) -> bool:
        return state.get("NotebookInstanceStatus") in STOPPED_STATES

    def console_url(self, ref: ResourceRef) -> str:
        return console_url(ref)
