"""SageMaker endpoint configurations must name a customer KMS key (KmsKeyId) for the hosting volumes.

An endpoint configuration cannot be changed after it is created, so the rule notifies only: the alert says to
create a new configuration with a key and move the endpoints onto it. CreateEndpoint and UpdateEndpoint are
judged too, on the configuration they deploy, so a configuration is reported when it goes into service.
"""

from __future__ import annotations

from typing import Any

from mlwarden.core.context import RuleContext
from mlwarden.core.model import COMPLIANT, NON_COMPLIANT, Evaluation, ResourceRef
from mlwarden.core.spec import CloudTrailTrigger, ConfigTrigger, Permissions, Rule, RuleSpec
from mlwarden.rules import _sagemaker

ENDPOINT_CONFIG_TYPE = _sagemaker.ENDPOINT_CONFIG_TYPE
RECREATE = (
    "create a new endpoint configuration with the same production variants and KmsKeyId set to a customer "
    "managed KMS key (endpoint configurations cannot be changed), point each endpoint that uses this one at it "
    "with UpdateEndpoint (a blue/green update, no downtime), then delete the old configuration. Instance types "
    "with local NVMe storage (e.g. ml.g4dn, ml.p4d, ml.m5d) encrypt it in hardware and do not accept KmsKeyId: "
    "exempt such configurations with the mlwarden:exempt tag"
)


def variants(state: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON-safe summary of the production variants (name and instance type, or serverless)."""
    out = []
    for variant in state.get("ProductionVariants") or []:
        kind = variant.get("InstanceType") or ("serverless" if variant.get("ServerlessConfig") else None)
        out.append({"VariantName": variant.get("VariantName"), "InstanceType": kind})
    return out


class SageMakerEndpointConfigKms(Rule):
    spec = RuleSpec(
        id="sagemaker-endpoint-config-kms",
        title="SageMaker endpoint configuration must encrypt hosting volumes with a customer KMS key",
        severity="MEDIUM",
        resource_type=ENDPOINT_CONFIG_TYPE,
        # No Security Hub FSBP control checks this setting (SageMaker.4 is about instance counts).
        controls=(),
        permissions=Permissions(
            detect=(
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:ListTags",
                "sagemaker:ListEndpointConfigs",
            ),
            resources=("arn:{partition}:sagemaker:{region}:{account}:endpoint-config/*",),
            unscoped=("sagemaker:ListEndpointConfigs",),
        ),
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.sagemaker",
                event_source="sagemaker.amazonaws.com",
                # CreateEndpoint / UpdateEndpoint name the configuration they deploy (endpointConfigName).
                event_names=("CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint"),
            ),
        ),
        # AWS Config records AWS::SageMaker::EndpointConfig (aws_cdk's ResourceType has no constant for it yet).
        config=ConfigTrigger(resource_types=(ENDPOINT_CONFIG_TYPE,)),
        config_managed_rules=(
            "SAGEMAKER_ENDPOINT_CONFIGURATION_KMS_KEY_CONFIGURED",
            "SAGEMAKER_ENDPOINT_CONFIG_KMS_KEY_REQUIRED",
        ),
    )

    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        return _sagemaker.ref_from_event(event, ENDPOINT_CONFIG_TYPE, "endpointConfigName", "EndpointConfigName")

    def ref_from_config_item(self, item: dict[str, Any]) -> ResourceRef | None:
        return _sagemaker.ref_from_config_item(item, ENDPOINT_CONFIG_TYPE)

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        return _sagemaker.ref_from_arn(arn, region, account, ENDPOINT_CONFIG_TYPE)

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        return list(
            _sagemaker.list_refs(
                ctx,
                region,
                ENDPOINT_CONFIG_TYPE,
                "list_endpoint_configs",
                "EndpointConfigs",
                "EndpointConfigName",
                "EndpointConfigArn",
            )
        )

    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        return _sagemaker.describe(ctx, ref, "describe_endpoint_config", EndpointConfigName=ref.resource_id)

    def evaluate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> Evaluation:
        key = state.get("KmsKeyId")
        if key:
            return Evaluation(COMPLIANT, f"hosting volumes are encrypted with KMS key {key}")
        return Evaluation(
            NON_COMPLIANT,
            "the endpoint configuration has no KmsKeyId: hosting volumes use an AWS managed key",
            RECREATE,
            {"KmsKeyId": None, "ProductionVariants": variants(state)},
        )

    def read_tags(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> dict[str, str]:
        return _sagemaker.tags(ctx, ref, self.arn(ref, state))

    def arn(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        return str(state.get("EndpointConfigArn") or ref.arn)

    def console_url(self, ref: ResourceRef) -> str:
        return _sagemaker.console_url(ref)


RULE = SageMakerEndpointConfigKms()
