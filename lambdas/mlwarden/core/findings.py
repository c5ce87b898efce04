"""Routing findings of other tools to the rule that owns the control.

- Security Hub "Findings - Imported": FAILED, ACTIVE, not suppressed, not mlwarden's own, for a control in
  the rule's spec; each affected resource is named by its ARN.
- Security Hub "Findings Imported V2" (OCSF): Compliance Findings of Security Hub's own control product, failed,
  not closed, suppressed or archived, not mlwarden's own, for a control in the rule's spec; each affected resource
  is named by its ARN (``resources[].uid_alt``, or ``uid`` where that is the ARN) in the resource owner's account.
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
    OCSF_CLOSED_ACTIVITIES,
    OCSF_COMPLIANCE_FAIL,
    OCSF_COMPLIANCE_FINDING,
    OCSF_INACTIVE_STATUSES,
    SECURITYHUB_DETAIL_TYPE,
    SECURITYHUB_V2_DETAIL_TYPE,
    SECURITYHUB_V2_PRODUCT_SUFFIX,
    managed_rule_name,
)
from mlwarden.core.spec import Rule

# The fields of a compliance change that name the resource: strings, or the event is malformed.
COMPLIANCE_CHANGE_STRINGS = ("configRuleName", "resourceType", "resourceId", "awsRegion", "awsAccountId")


def is_securityhub(event: dict[str, Any]) -> bool:
    """A Security Hub findings event: ASFF ("Findings - Imported") or OCSF ("Findings Imported V2")."""
    return event.get("source") == "aws.securityhub" and event.get("detail-type") in (
        SECURITYHUB_DETAIL_TYPE,
        SECURITYHUB_V2_DETAIL_TYPE,
    )


def is_compliance_change(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.config" and event.get("detail-type") == COMPLIANCE_CHANGE_DETAIL_TYPE


def control_id(finding: dict[str, Any]) -> str:
    return str(
        obj(finding.get("Compliance")).get("SecurityControlId")
        or obj(finding.get("ProductFields")).get("ControlId")
        or ""
    )


def refs_from_securityhub(rule: Rule, event: dict[str, Any]) -> list[ResourceRef]:
    if event.get("detail-type") == SECURITYHUB_V2_DETAIL_TYPE:
        return refs_from_ocsf(rule, event)
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


def _is_id(value: Any, wanted: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == wanted


def is_routable_ocsf(finding: dict[str, Any], controls: tuple[str, ...]) -> bool:
    """The same conditions as the deployed "Findings Imported V2" pattern (the engine's second line)."""
    compliance = obj(finding.get("compliance"))
    product = str(obj(obj(finding.get("metadata")).get("product")).get("uid") or "")
    activity, status = finding.get("activity_id"), finding.get("status_id")
    return (
        _is_id(finding.get("class_uid"), OCSF_COMPLIANCE_FINDING)
        and product.startswith("arn:")
        and product.endswith(SECURITYHUB_V2_PRODUCT_SUFFIX)
        and _is_id(compliance.get("status_id"), OCSF_COMPLIANCE_FAIL)
        and isinstance(activity, int)
        and activity not in OCSF_CLOSED_ACTIVITIES
        and isinstance(status, int)
        and status not in OCSF_INACTIVE_STATUSES
        and not str(obj(finding.get("finding_info")).get("uid") or "").startswith(MLWARDEN_GENERATOR_PREFIX)
        and compliance.get("control") in controls
    )


def refs_from_ocsf(rule: Rule, event: dict[str, Any]) -> list[ResourceRef]:
    """Resources of the OCSF Compliance Findings that reach the rule, in the finding's account (a resource whose
    ``owner`` is another account is skipped; the engine leaves another account's resources alone), each in its
    own region (``global`` ones in the finding's region)."""
    refs: dict[tuple[str, str], ResourceRef] = {}
    for finding in events.array_field(events.detail(event).get("findings"), "detail.findings"):
        finding = obj(finding)
        if not is_routable_ocsf(finding, rule.spec.controls):
            continue
        cloud = obj(finding.get("cloud"))
        events.string_fields(cloud, ("region",), "detail.findings[].cloud")
        events.string_fields(obj(cloud.get("account")), ("uid",), "detail.findings[].cloud.account")
        account = str(obj(cloud.get("account")).get("uid") or events.account(event))
        home = str(cloud.get("region") or events.region(event, "us-east-1"))
        for resource in events.array_field(finding.get("resources"), "detail.findings[].resources"):
            resource = obj(resource)
            where = "detail.findings[].resources[]"
            events.string_fields(resource, ("uid", "uid_alt", "region"), where)
            owner = obj(obj(resource.get("owner")).get("account"))
            events.string_fields(owner, ("uid",), f"{where}.owner.account")
            owner_account = str(owner.get("uid") or account)
            if owner_account != account:
                continue  # a resource owned by another account than the finding's: contradictory, left alone
            uid, alt = str(resource.get("uid") or ""), str(resource.get("uid_alt") or "")
            arn = alt if alt.startswith("arn:") else uid
            region = str(resource.get("region") or "")
            ref = rule.ref_from_arn(arn, home if region in ("", "global") else region, account)
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
