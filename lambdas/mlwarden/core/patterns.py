"""EventBridge event patterns derived from a rule spec.

``event_patterns(spec)`` is one pattern per trigger of the spec. ``rule_patterns(spec)`` merges them into as few
patterns as EventBridge allows (top-level ``$or``, at most ``MAX_PATTERN_CHARS`` each): the CDK stack puts
exactly those into the rule's EventBridge rules, and ``mlwarden evaluate`` routes events with the same
patterns, so local routing cannot drift from the deployed wiring. An event matches a merged pattern exactly
when it matches one of the triggers' patterns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mlwarden.core.spec import RuleSpec

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
SECURITYHUB_DETAIL_TYPE = "Security Hub Findings - Imported"
# Security Hub (v2) delivers OCSF findings under this detail-type; its control findings are OCSF Compliance Findings
# (class 2003) of the product ``arn:<partition>:securityhub:<region>::productv2/aws/securityhub``. Only that
# product is routed: an AWS product ARN names no account, so no finding imported by an account (mlwarden's own
# included) can claim it.
SECURITYHUB_V2_DETAIL_TYPE = "Findings Imported V2"
OCSF_COMPLIANCE_FINDING = 2003
SECURITYHUB_V2_PRODUCT_SUFFIX = "::productv2/aws/securityhub"
# OCSF ids: activity 3 is Close; finding status 3 is Suppressed, 5 Archived; compliance status 3 is Fail.
OCSF_CLOSED_ACTIVITIES = (3,)
OCSF_INACTIVE_STATUSES = (3, 5)
OCSF_COMPLIANCE_FAIL = 3
COMPLIANCE_CHANGE_DETAIL_TYPE = "Config Rules Compliance Change"
# Findings mlwarden imports into Security Hub carry this GeneratorId prefix and are never routed back.
MLWARDEN_GENERATOR_PREFIX = "mlwarden/"
# EventBridge's limit on an event pattern's length (characters of its JSON).
MAX_PATTERN_CHARS = 2048


@dataclass(frozen=True)
class Deployment:
    """What the deployed patterns know of the deployment they run in.

    - ``role_arn``: the rule function's own IAM role. The loop guard drops CloudTrail calls whose session was
      issued by that role, matched on ``userIdentity.sessionContext.sessionIssuer.arn`` — never on a session
      name, which whoever calls sts:AssumeRole chooses. Nothing else is dropped: calls of other mlwarden
      functions reach this rule too, which re-reads live state (and the flapping limit bounds any tug of war).
    - ``account``: the deployment's account. Findings (Security Hub, Config compliance changes, Macie,
      Inspector) about another account's resources are not routed here. ``None`` on the central bus of an
      organization deployment (stacks/organization.py): it admits the organization only, and each member's
      forwarding rules (``account`` = that member) send it only findings about that member.

    ``None`` (the CLI's local routing) adds neither filter; the engine applies both at run time as well.
    """

    role_arn: str
    account: str | None


def not_own_caller(role_arn: str) -> dict[str, Any]:
    issuer = ("userIdentity", "sessionContext", "sessionIssuer", "arn")
    return {"$or": [_nested(issuer, [{"anything-but": [role_arn]}]), _nested(issuer, [{"exists": False}])]}


def _nested(path: tuple[str, ...], leaf: Any) -> dict[str, Any]:
    node: Any = leaf
    for key in reversed(path):
        node = {key: node}
    nested: dict[str, Any] = node
    return nested


def managed_rule_name(identifier: str) -> str:
    """AWS Config names a managed rule after its identifier in lower kebab case (S3_BUCKET_X -> s3-bucket-x);
    conformance-pack copies add ``-conformance-pack-<suffix>``, so a prefix match covers both."""
    return identifier.lower().replace("_", "-")


def event_patterns(spec: RuleSpec, deployment: Deployment | None = None) -> list[dict[str, Any]]:
    patterns: list[dict[str, Any]] = []
    account = [deployment.account] if deployment and deployment.account else None
    for ct in spec.cloudtrail:
        detail: dict[str, Any] = {
            "eventSource": [ct.event_source],
            "eventName": sorted(ct.event_names),
        }
        if ct.successful_only:
            detail["errorCode"] = [{"exists": False}]
        if ct.request:
            detail["requestParameters"] = dict(ct.request)
        if deployment:
            detail.update(not_own_caller(deployment.role_arn))
        patterns.append({"source": [ct.source], "detail-type": [CLOUDTRAIL_DETAIL_TYPE], "detail": detail})
    for se in spec.service_events:
        pattern: dict[str, Any] = {"source": [se.source], "detail-type": list(se.detail_types)}
        se_detail = dict(se.detail)
        if se.account_field and account:
            se_detail[se.account_field] = account
        if se_detail:
            pattern["detail"] = se_detail
        patterns.append(pattern)
    if spec.controls and spec.securityhub:
        controls = list(spec.controls)
        findings: dict[str, Any] = {"AwsAccountId": account} if account else {}
        patterns.append(
            {
                "source": ["aws.securityhub"],
                "detail-type": [SECURITYHUB_DETAIL_TYPE],
                "detail": {
                    "findings": {
                        **findings,
                        "Compliance": {"Status": ["FAILED"]},
                        "RecordState": ["ACTIVE"],
                        "Workflow": {"Status": [{"anything-but": ["SUPPRESSED"]}]},
                        "GeneratorId": [{"anything-but": {"prefix": MLWARDEN_GENERATOR_PREFIX}}],
                        "$or": [
                            {"Compliance": {"SecurityControlId": controls}},
                            {"ProductFields": {"ControlId": controls}},
                        ],
                    }
                },
            }
        )
        patterns.append(
            {
                "source": ["aws.securityhub"],
                "detail-type": [SECURITYHUB_V2_DETAIL_TYPE],
                "detail": {
                    "findings": {
                        **({"cloud": {"account": {"uid": account}}} if account else {}),
                        "class_uid": [OCSF_COMPLIANCE_FINDING],
                        "metadata": {"product": {"uid": [{"suffix": SECURITYHUB_V2_PRODUCT_SUFFIX}]}},
                        "compliance": {"control": controls, "status_id": [OCSF_COMPLIANCE_FAIL]},
                        "activity_id": [{"anything-but": list(OCSF_CLOSED_ACTIVITIES)}],
                        "status_id": [{"anything-but": list(OCSF_INACTIVE_STATUSES)}],
                        "finding_info": {"uid": [{"anything-but": {"prefix": MLWARDEN_GENERATOR_PREFIX}}]},
                    }
                },
            }
        )
    if spec.config_managed_rules:
        patterns.append(
            {
                "source": ["aws.config"],
                "detail-type": [COMPLIANCE_CHANGE_DETAIL_TYPE],
                "detail": {
                    **({"awsAccountId": account} if account else {}),
                    "messageType": ["ComplianceChangeNotification"],
                    "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]},
                    "configRuleName": [{"prefix": managed_rule_name(r)} for r in spec.config_managed_rules],
                },
            }
        )
    for finding in spec.findings:
        pattern = {"source": [finding.source], "detail-type": [finding.detail_type]}
        detail = {finding.account_field: account} if account else {}
        if finding.type_prefixes:
            detail[finding.type_field] = [{"prefix": p} for p in finding.type_prefixes]
        if detail:
            pattern["detail"] = detail
        patterns.append(pattern)
    return patterns


# The longest deployment a pattern can name: merging is decided on these values (IAM role names have at most
# 64 characters, a partition at most 10), so that the grouping does not depend on the deployment and a merged
# pattern stays within MAX_PATTERN_CHARS once CloudFormation fills in the real role ARN.
LONGEST_DEPLOYMENT = Deployment(role_arn="arn:aws-iso-b:iam::123456789012:role/" + "r" * 64, account="123456789012")


def rule_patterns(spec: RuleSpec, deployment: Deployment | None = None) -> list[dict[str, Any]]:
    """The spec's trigger patterns (``event_patterns``) merged, in order, into as few EventBridge patterns as
    fit ``MAX_PATTERN_CHARS``: a lone pattern stays as it is, several become ``{"$or": [...]}``. One
    EventBridge rule per pattern keeps mlwarden within the per-bus rule quota (300 on the default bus)."""
    groups = merge_groups([_length(p) for p in event_patterns(spec, LONGEST_DEPLOYMENT)])
    patterns = event_patterns(spec, deployment)
    return [patterns[start] if end - start == 1 else {"$or": patterns[start:end]} for start, end in groups]


def merge_groups(lengths: list[int], limit: int = MAX_PATTERN_CHARS) -> list[tuple[int, int]]:
    """(start, end) slices of consecutive patterns whose ``{"$or": [...]}`` fits ``limit`` characters."""
    wrapper = len('{"$or":[]}')
    groups: list[tuple[int, int]] = []
    start, size = 0, wrapper
    for index, length in enumerate(lengths):
        added = length + (1 if index > start else 0)  # the comma between alternatives
        if index > start and size + added > limit:
            groups.append((start, index))
            start, size, added = index, wrapper, length
        size += added
    if lengths:
        groups.append((start, len(lengths)))
    return groups


def _length(pattern: dict[str, Any]) -> int:
    return len(json.dumps(pattern, separators=(",", ":")))


# ---------------------------------------------------------------------------------------------- matching
# EventBridge's pattern language, as far as mlwarden's patterns use it: exact values, prefix/suffix,
# equals-ignore-case, anything-but (values or prefix), exists, numeric, $or, and arrays — including arrays
# of objects, whose fields EventBridge flattens (Security Hub delivers `detail.findings` as an array).
# moto's matcher does not descend into arrays of objects, so routing uses this one; unit tests check that
# both agree wherever moto's applies.


def matches(pattern: dict[str, Any], event: Any) -> bool:
    return _match_node(pattern, [event])


def _children(nodes: list[Any], key: str) -> tuple[list[Any], bool]:
    values: list[Any] = []
    present = False
    for node in nodes:
        if isinstance(node, dict) and key in node:
            present = True
            value = node[key]
            if isinstance(value, list):
                values.extend(value)
            else:
                values.append(value)
    return values, present


def _match_node(pattern: dict[str, Any], nodes: list[Any]) -> bool:
    for key, condition in pattern.items():
        if key == "$or":
            if not any(_match_node(alternative, nodes) for alternative in condition):
                return False
            continue
        values, present = _children(nodes, key)
        if isinstance(condition, dict):
            if not _match_node(condition, [v for v in values if isinstance(v, dict)]):
                return False
        elif isinstance(condition, list):
            scalars = [v for v in values if not isinstance(v, dict)]
            if not present:
                scalars = []
            if not any(_match_filter(f, scalars) for f in condition):
                return False
        else:
            return False
    return True


def _match_filter(flt: Any, values: list[Any]) -> bool:
    if not isinstance(flt, dict):
        return any(_same(v, flt) for v in values)
    name, arg = next(iter(flt.items()))
    if name == "exists":
        return bool(values) == bool(arg)
    if not values:
        return False
    if name == "prefix":
        return any(isinstance(v, str) and _starts(v, arg) for v in values)
    if name == "suffix":
        return any(isinstance(v, str) and _ends(v, arg) for v in values)
    if name == "equals-ignore-case":
        return any(isinstance(v, str) and v.lower() == str(arg).lower() for v in values)
    if name == "anything-but":
        return any(not _excluded(v, arg) for v in values)
    if name == "numeric":
        return any(_numeric(v, arg) for v in values)
    if name == "wildcard":
        return any(isinstance(v, str) and wildcard(v, arg) for v in values)
    raise ValueError(f"unsupported EventBridge filter {name!r}")


def _same(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return bool(value == expected)


def _starts(value: str, arg: Any) -> bool:
    if isinstance(arg, dict):
        return value.lower().startswith(str(arg.get("equals-ignore-case", "")).lower())
    return value.startswith(str(arg))


def _ends(value: str, arg: Any) -> bool:
    if isinstance(arg, dict):
        return value.lower().endswith(str(arg.get("equals-ignore-case", "")).lower())
    return value.endswith(str(arg))


def _excluded(value: Any, arg: Any) -> bool:
    if isinstance(arg, dict):
        if "prefix" in arg:
            return isinstance(value, str) and value.startswith(str(arg["prefix"]))
        if "suffix" in arg:
            return isinstance(value, str) and value.endswith(str(arg["suffix"]))
        if "wildcard" in arg:
            return isinstance(value, str) and wildcard(value, str(arg["wildcard"]))
        if "equals-ignore-case" in arg:
            options = arg["equals-ignore-case"]
            options = options if isinstance(options, list) else [options]
            return isinstance(value, str) and value.lower() in {str(o).lower() for o in options}
        return False
    options = arg if isinstance(arg, list) else [arg]
    return any(_same(value, o) for o in options)


def wildcard(value: str, pattern: str | list[str]) -> bool:
    """EventBridge wildcard: ``*`` matches any run of characters; everything else is literal."""
    if isinstance(pattern, list):
        return any(wildcard(value, p) for p in pattern)
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _numeric(value: Any, arg: list[Any]) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks = {"<": value.__lt__, "<=": value.__le__, "=": value.__eq__, ">": value.__gt__, ">=": value.__ge__}
    return all(checks[arg[i]](arg[i + 1]) for i in range(0, len(arg), 2))
