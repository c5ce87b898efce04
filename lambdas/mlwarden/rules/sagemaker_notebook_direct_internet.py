"""SageMaker notebook instances must not have direct internet access (SageMaker.1).

DirectInternetAccess can only be chosen when the instance is created, so the fix cannot be made in place:
remediation stops a running instance and tags it ``mlwarden:quarantined``; the alert says to recreate it
in a VPC subnet with direct internet access disabled. The instance is never deleted.
"""

from __future__ import annotations

from typing import Any

from mlwarden.core.context import RuleContext
from mlwarden.core.exemptions import QUARANTINED_TAG
from mlwarden.core.model import (
    COMPLIANT,
    NON_COMPLIANT,
    Evaluation,
    RemediationResult,
    ResourceRef,
)
from mlwarden.core.spec import (
    CloudTrailTrigger,
    ConfigTrigger,
    Permissions,
    Rule,
    RuleSpec,
    ServiceEventTrigger,
)
from mlwarden.rules import _sagemaker

NOTEBOOK_TYPE = _sagemaker.NOTEBOOK_TYPE
RUNNING = ("Pending", "InService")
STOPPED = ("Stopping", "Stopped")
RECREATE = (
    "recreate the notebook instance in a VPC subnet with DirectInternetAccess Disabled "
    "(the setting cannot be changed on an existing instance)"
)


class SageMakerNotebookDirectInternet(Rule):
    spec = RuleSpec(
        id="sagemaker-notebook-direct-internet",
        title="SageMaker notebook instance must not have direct internet access",
        severity="HIGH",
        resource_type=NOTEBOOK_TYPE,
        controls=("SageMaker.1",),
        permissions=Permissions(
            detect=(
                "sagemaker:DescribeNotebookInstance",
                "sagemaker:ListTags",
                "sagemaker:ListNotebookInstances",
            ),
            remediate=("sagemaker:StopNotebookInstance", "sagemaker:AddTags"),
            resources=("arn:{partition}:sagemaker:{region}:{account}:notebook-instance/*",),
            unscoped=("sagemaker:ListNotebookInstances",),
        ),
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.sagemaker",
                event_source="sagemaker.amazonaws.com",
                event_names=("CreateNotebookInstance", "StartNotebookInstance"),
            ),
        ),
        service_events=(
            ServiceEventTrigger(
                source="aws.sagemaker",
                detail_types=("SageMaker Notebook Instance State Change",),
                detail={"NotebookInstanceStatus": list(RUNNING)},
            ),
        ),
        config=ConfigTrigger(resource_types=(NOTEBOOK_TYPE,)),
        config_managed_rules=("SAGEMAKER_NOTEBOOK_NO_DIRECT_INTERNET_ACCESS",),
        remediation_summary="stop the instance if Pending/InService and tag it mlwarden:quarantined; never delete",
    )

    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        return _sagemaker.notebook_refs_from_event(event)

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        return _sagemaker.ref_from_config_item(item, NOTEBOOK_TYPE)

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        return _sagemaker.ref_from_arn(arn, region, account, NOTEBOOK_TYPE)

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        return _sagemaker.list_notebook_refs(ctx, region)

    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        return _sagemaker.describe_notebook(ctx, ref)

    def evaluate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> Evaluation:
        access = state.get("DirectInternetAccess", "Enabled")  # the API default is Enabled
        status = state.get("NotebookInstanceStatus", "unknown")
        if access != "Enabled":
            return Evaluation(COMPLIANT, f"DirectInternetAccess is {access}")
        before = {
            "DirectInternetAccess": access,
            "NotebookInstanceStatus": status,
            "SubnetId": state.get("SubnetId"),
        }
        action = "stop the instance and tag it mlwarden:quarantined; " if status in RUNNING else ""
        return Evaluation(
            NON_COMPLIANT,
            f"DirectInternetAccess is Enabled (instance is {status}); it must be off, in a VPC subnet",
            f"{action}{RECREATE}",
            before,
        )

    def remediate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> RemediationResult:
        client = ctx.client("sagemaker", ref.region, ref.account)
        current = self.fetch(ref, ctx)
        if current.get("DirectInternetAccess", "Enabled") != "Enabled":
            return RemediationResult(False, "already compliant: nothing changed", None)
        arn = current["NotebookInstanceArn"]
        status = current.get("NotebookInstanceStatus")
        tags = _sagemaker.tags(ctx, ref, arn)
        steps = []
        if tags.get(QUARANTINED_TAG) != self.spec.id:
            client.add_tags(ResourceArn=arn, Tags=[{"Key": QUARANTINED_TAG, "Value": self.spec.id}])
            steps.append(f"tagged {QUARANTINED_TAG}")
        if status == "InService":
            client.stop_notebook_instance(NotebookInstanceName=ref.resource_id)
            steps.insert(0, "stopped the instance")
            status = "Stopping"
        elif status == "Pending":
            # A Pending instance cannot be stopped yet; its InService state-change event brings it back here.
            return RemediationResult(
                bool(steps),
                f"instance is Pending: {'; '.join(steps) or 'already tagged'}; it will be stopped when it "
                f"reaches InService. Then {RECREATE}",
                {"NotebookInstanceStatus": status, QUARANTINED_TAG: self.spec.id},
                done=False,
            )
        what = "; ".join(steps) if steps else f"already quarantined ({status}, tagged)"
        return RemediationResult(
            bool(steps),
            f"{what}. A human must {RECREATE}",
            {"NotebookInstanceStatus": status, QUARANTINED_TAG: self.spec.id},
        )

    def read_tags(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> dict[str, str]:
        return _sagemaker.tags(ctx, ref, state["NotebookInstanceArn"])

    def arn(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        return str(state.get("NotebookInstanceArn") or ref.arn)

    def console_url(self, ref: ResourceRef) -> str:
        return _sagemaker.console_url(ref)


RULE = SageMakerNotebookDirectInternet()
