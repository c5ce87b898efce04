"""Routing findings of other tools to the rule that owns the control.

- Security Hub "Findings - Imported": FAILED, ACTIVE, not suppressed, not mlwarden's own, for a control in
  the rule's spec; each affected resource is named by its ARN.
- AWS Config "Rules Compliance Change": NON_COMPLIANT results of the AWS managed rules in the spec
  (conformance-pack copies included); the resource is named by type and id, like a configuration item.

The rule then judges the resource on live state, as for any other event.
"""

from __future__ import annotations

from typing import Any

from mlwarden.core import events
from mlwarden.core.events import obj
from mlwarden.core.model import ResourceRef
from mlwarden.core.patterns import (
    COMPLIANCE_CHANGE_DETAIL_TYPE,
    MLWARDEN_GENERATOR_PREFIX,
    SECURITYHUB_DETAIL_TYPE,
    managed_rule_name,
)
from mlwarden.core.spec import Rule

# The fields of a compliance change that name the resource: strings, or the event is malformed.
COMPLIANCE_CHANGE_STRINGS = ("configRuleName", "resourceType", "resourceId", "awsRegion", "awsAccountId")


def is_securityhub(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.securityhub" and event.get("detail-type") == SECURITYHUB_DETAIL_TYPE


def is_compliance_change(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.config" and event.get("detail-type") == COMPLIANCE_CHANGE_DETAIL_TYPE


def control_id(finding: dict[str, Any]) -> str:
    return str(
        obj(finding.get("Compliance")).get("SecurityControlId")
        or obj(finding.get("ProductFields")).get("ControlId")
        or ""
    )


def refs_from_securityhub(rule: Rule, event: dict[str, Any]) -> list[ResourceRef]:
    refs: dict[tuple[str, str], ResourceRef] = {}
    for finding in events.array_field(events.detail(event).get("findings"), "detail.findings"):
        finding = obj(finding)
        if (
            obj(finding.get("Compliance")).get("Status") != "FAILED"
            or finding.get("RecordState") != "ACTIVE"
            or obj(finding.get("Workflow")).get("Status") == "SUPPRESSED"
            or str(finding.get("GeneratorId", "")).startswith(MLWARDEN_GENERATOR_PREFIX)
            or control_id(finding) not in rule.spec.controls
        ):
            continue
        events.string_fields(finding, ("AwsAccountId", "Region"), "detail.findings[]")
        account = str(finding.get("AwsAccountId") or events.account(event))
        for resource in events.array_field(finding.get("Resources"), "detail.findings[].Resources"):
            resource = obj(resource)
            events.string_fields(resource, ("Id", "Region"), "detail.findings[].Resources[]")
            region = str(resource.get("Region") or finding.get("Region") or events.region(event, "us-east-1"))
            ref = rule.ref_from_arn(str(resource.get("Id", "")), region, account)
            if ref is not None:
                refs[(ref.resource_type, ref.resource_id)] = ref
    return list(refs.values())


def refs_from_compliance_change(rule: Rule, event: dict[str, Any]) -> list[ResourceRef]:
    detail = events.detail(event)
    events.string_fields(detail, COMPLIANCE_CHANGE_STRINGS, "detail")
    name = str(detail.get("configRuleName", ""))
    result = obj(detail.get("newEvaluationResult"))
    if result.get("complianceType") != "NON_COMPLIANT":
        return []
    if not any(name.startswith(managed_rule_name(r)) for r in rule.spec.config_managed_rules):
        return []
    qualifier = obj(obj(result.get("evaluationResultIdentifier")).get("evaluationResultQualifier"))
    events.string_fields(
        qualifier,
        ("resourceType", "resourceId"),
        "detail.newEvaluationResult.evaluationResultIdentifier.evaluationResultQualifier",
    )
    item = {
        "resourceType": detail.get("resourceType") or qualifier.get("resourceType", ""),
        "resourceId": detail.get("resourceId") or qualifier.get("resourceId", ""),
        "awsRegion": detail.get("awsRegion") or events.region(event, "us-east-1"),
        "awsAccountId": detail.get("awsAccountId") or events.account(event),
    }
    ref = rule.ref_from_config_item(item)
    return [ref] if ref is not None and ref.resource_type == item["resourceType"] else []
