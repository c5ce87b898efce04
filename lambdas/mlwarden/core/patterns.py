"""EventBridge event patterns derived from a rule spec.

The CDK stack puts exactly these patterns into the EventBridge rules, and ``mlwarden evaluate`` routes
events with the same patterns, so local routing cannot drift from the deployed wiring.
"""

from __future__ import annotations

from typing import Any

from mlwarden.core.spec import RuleSpec

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


def event_patterns(spec: RuleSpec) -> list[dict[str, Any]]:
    patterns: list[dict[str, Any]] = []
    for ct in spec.cloudtrail:
        detail: dict[str, Any] = {
            "eventSource": [ct.event_source],
            "eventName": sorted(ct.event_names),
        }
        if ct.successful_only:
            detail["errorCode"] = [{"exists": False}]
        patterns.append({"source": [ct.source], "detail-type": [CLOUDTRAIL_DETAIL_TYPE], "detail": detail})
    for se in spec.service_events:
        pattern: dict[str, Any] = {"source": [se.source], "detail-type": list(se.detail_types)}
        if se.detail:
            pattern["detail"] = se.detail
        patterns.append(pattern)
    for finding in spec.findings:
        pattern = {"source": [finding.source], "detail-type": [finding.detail_type]}
        if finding.type_prefixes:
            pattern["detail"] = {finding.type_field: [{"prefix": p} for p in finding.type_prefixes]}
        patterns.append(pattern)
    return patterns
