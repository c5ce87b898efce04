"""SageMaker notebook instance storage volumes must be encrypted with a customer KMS key.

Without KmsKeyId, SageMaker encrypts the ML storage volume with an AWS managed key the account cannot audit,
restrict or revoke. The key can only be chosen when the instance is created, so the rule notifies only: the
alert says what to recreate.
"""

from __future__ import annotations

from typing import Any

from mlwarden.core.context import RuleContext
from mlwarden.core.model import COMPLIANT, NON_COMPLIANT, Evaluation, ResourceRef
from mlwarden.core.spec import CloudTrailTrigger, ConfigTrigger, Permissions, Rule, RuleSpec
from mlwarden.rules import _sagemaker

NOTEBOOK_TYPE = _sagemaker.NOTEBOOK_TYPE
RECREATE = (
    "recreate the notebook instance with KmsKeyId set to a customer managed KMS key (its key policy must let "
    "the notebook's execution role use it); the key cannot be added to an existing instance. Copy "
    "/home/ec2-user/SageMaker off the old instance (e.g. to S3 or a Git repository) before deleting it"
)


class SageMakerNotebookKms(Rule):
    spec = RuleSpec(
        id="sagemaker-notebook-kms",
        title="SageMaker notebook instance storage must be encrypted with a customer KMS key",
        severity="MEDIUM",
        resource_type=NOTEBOOK_TYPE,
        # No Security Hub FSBP control checks this setting.
        controls=(),
        permissions=Permissions(
            detect=(
                "sagemaker:DescribeNotebookInstance",
                "sagemaker:ListTags",
                "sagemaker:ListNotebookInstances",
            ),
            resources=("arn:{partition}:sagemaker:{region}:{account}:notebook-instance/*",),
            unscoped=("sagemaker:ListNotebookInstances",),
        ),
        # The key is chosen only at creation; existing instances are swept by the Config backstop.
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.sagemaker",
                event_source="sagemaker.amazonaws.com",
                event_names=("CreateNotebookInstance",),
            ),
        ),
        config=ConfigTrigger(resource_types=(NOTEBOOK_TYPE,)),
        config_managed_rules=("SAGEMAKER_NOTEBOOK_INSTANCE_KMS_KEY_CONFIGURED",),
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
        key = state.get("KmsKeyId")
        if key:
            return Evaluation(COMPLIANT, f"the storage volume is encrypted with KMS key {key}")
        return Evaluation(
            NON_COMPLIANT,
            "the storage volume has no customer KMS key (KmsKeyId): it is encrypted with an AWS managed key",
            RECREATE,
            _sagemaker.notebook_summary(state, "KmsKeyId"),
        )

    def read_tags(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> dict[str, str]:
        return _sagemaker.tags(ctx, ref, self.arn(ref, state))

    def arn(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        return str(state.get("NotebookInstanceArn") or ref.arn)

    def console_url(self, ref: ResourceRef) -> str:
        return _sagemaker.console_url(ref)


RULE = SageMakerNotebookKms()
