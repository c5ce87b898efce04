"""Only allowed approvers may approve a model package in the SageMaker Model Registry.

An Approved model package is deployed by CI/CD pipelines that react to the approval, so who approved it is a
control. The approver is the principal of the CloudTrail call that set ``ModelApprovalStatus=Approved``
(the role, for an assumed-role session), or — for the Model Package State Change event and sweeps, which
carry no caller — the IAM identity SageMaker records in the package's LastModifiedBy (CreatedBy when it was
approved at creation). cdk.json ``modelApprovers`` lists the allowed principal ARNs; a role ARN allows every
session of that role. An empty list (the default) flags every approval.

Remediation (remediate mode) puts the package back to PendingManualApproval with an ApprovalDescription
naming mlwarden and this rule, so an allowed approver decides. Nothing is deleted.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code, error_message
from mlwarden.core.model import COMPLIANT, NON_COMPLIANT, Evaluation, RemediationResult, ResourceGone, ResourceRef
from mlwarden.core.spec import CloudTrailTrigger, Option, Permissions, Rule, RuleSpec, ServiceEventTrigger

MODEL_PACKAGE_TYPE = "AWS::SageMaker::ModelPackage"
APPROVED = "Approved"
PENDING = "PendingManualApproval"
STATE_CHANGE = "SageMaker Model Package State Change"
DESCRIPTION_LIMIT = 1024


def _gone(exc: ClientError) -> bool:
    code, message = error_code(exc), error_message(exc).lower()
    return code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException" and ("not found" in message or "does not exist" in message)
    )


def model_package_ref(arn: str, region: str, account: str = "", approver: str = "", via: str = "") -> ResourceRef:
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else arn
    name = resource.split("/", 1)[1] if resource.startswith("model-package/") else resource
    return ResourceRef(
        MODEL_PACKAGE_TYPE,
        name,
        (parts[3] if len(parts) == 6 and parts[3] else region),
        (parts[4] if len(parts) == 6 and parts[4] else account),
        arn if arn.startswith("arn:") else "",
        context={"approver": approver, "via": via},
    )


def principal_key(arn: str) -> tuple[str, str, str]:
    """(account, kind, name) of an IAM principal ARN; an assumed-role session is keyed as its role.

    ``arn:aws:sts::1:assumed-role/R/session`` and ``arn:aws:iam::1:role/path/R`` both give ("1", "role", "R").
    """
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return ("", "", arn)
    account, resource = parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return (account, "role", rest.split("/", 1)[0])
    if kind in ("role", "user"):
        return (account, kind, rest.rsplit("/", 1)[-1])
    return (account, kind, rest)


def allowed_approver(approver: str, allowed: list[str]) -> bool:
    key = principal_key(approver)
    return any(approver == entry or key == principal_key(entry) for entry in allowed if isinstance(entry, str))


def recorded_approver(state: dict[str, Any]) -> str:
    """The IAM identity SageMaker recorded for the last change (or the creation), else the Studio user profile."""
    for key in ("LastModifiedBy", "CreatedBy"):
        who = state.get(key) or {}
        arn = (who.get("IamIdentity") or {}).get("Arn") or who.get("UserProfileArn")
        if arn:
            return str(arn)
    return ""


class SageMakerModelApproval(Rule):
    spec = RuleSpec(
        id="sagemaker-model-approval",
        title="SageMaker model packages may only be approved by an allowed approver",
        severity="HIGH",
        resource_type=MODEL_PACKAGE_TYPE,
        controls=(),
        permissions=Permissions(
            detect=("sagemaker:DescribeModelPackage", "sagemaker:ListTags"),
            sweep=("sagemaker:ListModelPackages",),  # `mlwarden scan` only: Config does not record packages
            remediate=("sagemaker:UpdateModelPackage",),
            resources=(
                "arn:{partition}:sagemaker:{region}:{account}:model-package/*",
                # ListTags on the package's group: an exemption tag on the group covers its versions
                "arn:{partition}:sagemaker:{region}:{account}:model-package-group/*",
            ),
            unscoped=("sagemaker:ListModelPackages",),
        ),
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.sagemaker",
                event_source="sagemaker.amazonaws.com",
                event_names=("CreateModelPackage", "UpdateModelPackage"),
            ),
        ),
        service_events=(
            ServiceEventTrigger(
                source="aws.sagemaker",
                detail_types=(STATE_CHANGE,),
                detail={"ModelApprovalStatus": [APPROVED]},
            ),
        ),
        options=(
            Option(
                key="modelApprovers",
                default=[],
                help="IAM principal ARNs allowed to approve SageMaker model packages (a role ARN allows its "
                "assumed-role sessions); empty: every approval is flagged",
            ),
        ),
        remediation_summary="UpdateModelPackage back to PendingManualApproval, with an ApprovalDescription naming "
        "mlwarden and the rule",
    )

    # ------------------------------------------------------------------------------------------ refs
    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        region, account = events.region(event, "us-east-1"), events.account(event)
        detail = events.detail(event)
        if event.get("detail-type") == STATE_CHANGE:
            arn = detail.get("ModelPackageArn")
            if detail.get("ModelApprovalStatus") != APPROVED or not isinstance(arn, str) or not arn:
                return []
            return [model_package_ref(arn, region, account, "", STATE_CHANGE)]
        params = events.request_parameters(event)
        # A call that does not approve cannot make an approval violation.
        if params.get("modelApprovalStatus") != APPROVED:
            return []
        response = detail.get("responseElements") or {}
        arn = params.get("modelPackageArn") or (response.get("modelPackageArn") if isinstance(response, dict) else "")
        if not isinstance(arn, str) or not arn:
            name = params.get("modelPackageName")
            if not isinstance(name, str) or not name:
                return []
            arn = name  # an unversioned package is also known by its name
        via = f"CloudTrail {detail.get('eventName', '')}".strip()
        return [model_package_ref(arn, region, account, events.caller_arn(event), via)]

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "sagemaker" or not parts[5].startswith("model-package/"):
            return None
        return model_package_ref(arn, region, account)

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        client = ctx.client("sagemaker", region)
        pages = client.get_paginator("list_model_packages").paginate(
            ModelApprovalStatus=APPROVED, ModelPackageType="Both"
        )
        return [
            model_package_ref(p["ModelPackageArn"], region)
            for page in pages
            for p in page.get("ModelPackageSummaryList", [])
        ]

    # ------------------------------------------------------------------------------------ live state
    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        client = ctx.client("sagemaker", ref.region, ref.account)
        try:
            described = client.describe_model_package(ModelPackageName=ref.arn or ref.resource_id)
        except ClientError as exc:
            if _gone(exc):
                raise ResourceGone(f"model package {ref.resource_id}") from exc
            raise
        keys = (
            "ModelPackageArn",
            "ModelPackageName",
            "ModelPackageGroupName",
            "ModelPackageVersion",
            "ModelApprovalStatus",
            "ApprovalDescription",
            "CreatedBy",
            "LastModifiedBy",
        )
        state = {k: described[k] for k in keys if k in described}
        if described.get("LastModifiedTime"):
            state["LastModifiedTime"] = str(described["LastModifiedTime"])
        return state

    def approver(self, ref: ResourceRef, state: dict[str, Any]) -> tuple[str, str]:
        """(approver ARN, where it was read)."""
        from_event = str(ref.context.get("approver") or "")
        if from_event:
            return from_event, f"the caller of {ref.context.get('via') or 'the event'}"
        recorded = recorded_approver(state)
        return recorded, ("the package's LastModifiedBy/CreatedBy" if recorded else "")

    def evaluate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> Evaluation:
        status = state.get("ModelApprovalStatus") or "unset"
        if status != APPROVED:
            return Evaluation(COMPLIANT, f"model package is {status}, not Approved")
        allowed = ctx.settings.option("modelApprovers", []) or []
        approver, source = self.approver(ref, state)
        fix = f"set ModelApprovalStatus back to {PENDING} so an allowed approver (cdk.json modelApprovers) decides"
        before = {"ModelApprovalStatus": status, "ApprovedBy": approver or None, "ApproverSource": source or None}
        if not approver:
            return Evaluation(
                NON_COMPLIANT, "model package is Approved and its approver cannot be determined", fix, before
            )
        if not allowed:
            return Evaluation(
                NON_COMPLIANT,
                f"model package approved by {approver}; cdk.json modelApprovers is empty, so every approval is flagged",
                fix,
                before,
            )
        if allowed_approver(approver, allowed):
            return Evaluation(COMPLIANT, f"model package approved by {approver}, an allowed approver")
        return Evaluation(
            NON_COMPLIANT, f"model package approved by {approver}, who is not in cdk.json modelApprovers", fix, before
        )

    def remediate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> RemediationResult:
        current = self.fetch(ref, ctx)
        if self.evaluate(ref, current, ctx).compliance != NON_COMPLIANT:
            return RemediationResult(
                "already compliant: nothing changed", {"ModelApprovalStatus": current.get("ModelApprovalStatus")}
            )
        approver, _ = self.approver(ref, current)
        description = (
            f"mlwarden {self.spec.id}: approval by {approver or 'an unknown principal'} revoked (not an allowed "
            f"approver in cdk.json modelApprovers); an allowed approver must review and approve"
        )[:DESCRIPTION_LIMIT]
        client = ctx.client("sagemaker", ref.region, ref.account)
        try:
            client.update_model_package(
                ModelPackageArn=current.get("ModelPackageArn") or ref.arn,
                ModelApprovalStatus=PENDING,
                ApprovalDescription=description,
            )
        except ClientError as exc:
            if _gone(exc):
                raise ResourceGone(f"model package {ref.resource_id}") from exc
            raise
        after = {"ModelApprovalStatus": PENDING, "ApprovalDescription": description}
        return RemediationResult(f"approval revoked: ModelApprovalStatus set to {PENDING}", after)

    def read_tags(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> dict[str, str]:
        """The package group's tags overlaid with the package's own (exempt a whole group or one version)."""
        client = ctx.client("sagemaker", ref.region, ref.account)
        arn = str(state.get("ModelPackageArn") or ref.arn)
        tags: dict[str, str] = {}
        targets = []
        if state.get("ModelPackageGroupName") and "model-package/" in arn:
            group = arn.split("model-package/", 1)[1].split("/", 1)[0]
            targets.append(arn.split("model-package/", 1)[0] + f"model-package-group/{group}")
        targets.append(arn)
        for target in targets:
            for page in client.get_paginator("list_tags").paginate(ResourceArn=target):
                tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        return tags

    def arn(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        return str(state.get("ModelPackageArn") or ref.arn)

    def details(self, ref: ResourceRef, state: dict[str, Any]) -> dict[str, Any]:
        approver, source = self.approver(ref, state)
        out: dict[str, Any] = {"approved_by": approver, "approver_source": source}
        if state.get("ModelPackageGroupName"):
            out["model_package_group"] = state["ModelPackageGroupName"]
            out["version"] = state.get("ModelPackageVersion")
        return out

    def console_url(self, ref: ResourceRef) -> str:
        return f"https://{ref.region}.console.aws.amazon.com/sagemaker/home?region={ref.region}#/model-packages"


RULE = SageMakerModelApproval()
