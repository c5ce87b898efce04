"""Every judged resource becomes an ASFF finding in AWS Security Hub (cdk.json ``securityHub``).

NON_COMPLIANT decisions are imported as FAILED (workflow NEW, or RESOLVED once remediated); COMPLIANT ones
update the same finding to PASSED / RESOLVED. The finding id is stable per rule and resource, so each import
updates one finding. GeneratorId starts with ``mlwarden/``: the routing patterns never send these back to
mlwarden's rules. AWS Audit Manager collects Security Hub findings as evidence.
"""

from __future__ import annotations

from typing import Any

from mlwarden import __version__
from mlwarden.core.model import ACTION_REMEDIATED, COMPLIANT, NON_COMPLIANT, Decision
from mlwarden.core.patterns import MLWARDEN_GENERATOR_PREFIX

# CloudFormation type -> ASFF resource type (those ASFF defines; anything else is "Other")
ASFF_TYPES = {
    "AWS::S3::Bucket": "AwsS3Bucket",
    "AWS::S3::Object": "AwsS3Object",
    "AWS::S3::AccountPublicAccessBlock": "AwsS3AccountPublicAccessBlock",
    "AWS::SageMaker::NotebookInstance": "AwsSageMakerNotebookInstance",
    "AWS::KMS::Key": "AwsKmsKey",
    "AWS::CloudTrail::Trail": "AwsCloudTrailTrail",
    "AWS::EC2::SecurityGroup": "AwsEc2SecurityGroup",
    "AWS::IAM::User": "AwsIamUser",
    "AWS::IAM::Role": "AwsIamRole",
    "AWS::IAM::Group": "AwsIamGroup",
    "AWS::IAM::Policy": "AwsIamPolicy",
}
FIELD_LIMITS = {"Title": 256, "Description": 1024, "Text": 512}


def product_arn(partition: str, region: str, account: str) -> str:
    return f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default"


def finding(decision: Decision, *, region: str, account: str, partition: str = "aws") -> dict[str, Any]:
    resource = decision.resource_arn or decision.resource_id
    failed = decision.compliance == NON_COMPLIANT
    fixed = decision.action == ACTION_REMEDIATED or decision.compliance == COMPLIANT
    compliance: dict[str, Any] = {"Status": "FAILED" if failed and not fixed else "PASSED"}
    if decision.controls:
        compliance["RelatedRequirements"] = [f"AWS Foundational Security Best Practices {c}" for c in decision.controls]
        compliance["SecurityControlId"] = decision.controls[0]
    recommendation: dict[str, Any] = {"Text": (decision.remediation or decision.reason)[: FIELD_LIMITS["Text"]]}
    if decision.console_url:
        recommendation["Url"] = decision.console_url
    return {
        "SchemaVersion": "2018-10-08",
        "Id": f"{MLWARDEN_GENERATOR_PREFIX}{decision.rule_id}/{resource}",
        "ProductArn": product_arn(partition, region, account),
        "GeneratorId": f"{MLWARDEN_GENERATOR_PREFIX}{decision.rule_id}",
        "AwsAccountId": decision.account or account,
        "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
        "CreatedAt": decision.detected_at,
        "UpdatedAt": decision.detected_at,
        "Severity": {"Label": decision.severity if failed and not fixed else "INFORMATIONAL"},
        "Title": (decision.title or str(decision.rule_id))[: FIELD_LIMITS["Title"]],
        "Description": (decision.reason or decision.title)[: FIELD_LIMITS["Description"]],
        "Remediation": {"Recommendation": recommendation},
        "ProductFields": {
            "ProviderName": "mlwarden",
            "ProviderVersion": __version__,
            "mlwarden/rule_id": str(decision.rule_id),
            "mlwarden/action": decision.action,
        },
        "Resources": [
            {
                "Type": ASFF_TYPES.get(decision.resource_type, "Other"),
                "Id": resource,
                "Partition": partition,
                "Region": decision.region or region,
            }
        ],
        "Compliance": compliance,
        "Workflow": {"Status": "RESOLVED" if fixed else "NEW"},
        "RecordState": "ACTIVE",
    }


class SecurityHubReporter:
    def __init__(self, client: Any, region: str, account: str, partition: str = "aws") -> None:
        self._client = client
        self.region, self.account, self.partition = region, account, partition

    def report(self, decision: Decision) -> None:
        if decision.compliance not in (COMPLIANT, NON_COMPLIANT) or not decision.rule_id:
            return
        response = self._client.batch_import_findings(
            Findings=[finding(decision, region=self.region, account=self.account, partition=self.partition)]
        )
        if response.get("FailedCount"):
            failed = response.get("FailedFindings", [{}])[0]
            raise RuntimeError(
                f"Security Hub refused the finding: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
            )
