"""Decisions as OCSF Compliance Findings (class 2003), one JSON object per line (``--format ocsf``).

The OCSF version is pinned to the one Security Hub (v2) writes its own control findings in (``OCSF_VERSION``);
tests validate every record against the published schema of that version (tests/ocsf/). The mapping follows
mlwarden's ASFF findings (core/securityhub.py): a violation left open is compliance Fail with the rule's
severity; a remediated one is Pass and Resolved; an exempted one Fail and Suppressed; a compliant resource is Pass
and Resolved (severity Informational). The finding uid is the ASFF finding's Id (``mlwarden/<rule>/<resource>``),
so Security Hub's routing never sends these findings back to mlwarden either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mlwarden import __version__
from mlwarden.core.model import (
    ACTION_EXEMPT,
    ACTION_REMEDIATED,
    COMPLIANT,
    NON_COMPLIANT,
    Decision,
)
from mlwarden.core.patterns import MLWARDEN_GENERATOR_PREFIX

OCSF_VERSION = "1.6.0"
PROFILES = ("cloud", "datetime")
CLASS_UID, CLASS_NAME = 2003, "Compliance Finding"
CATEGORY_UID, CATEGORY_NAME = 2, "Findings"
ACTIVITY_CREATE = (1, "Create")
FSBP_STANDARD = "standards/aws-foundational-security-best-practices/v/1.0.0"
# OCSF severity_id by mlwarden (ASFF) severity label.
SEVERITY_IDS = {"INFORMATIONAL": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
# compliance.status_id: 1 Pass, 3 Fail, 99 Other (not applicable).
COMPLIANCE_STATUS = {COMPLIANT: (1, "Pass"), NON_COMPLIANT: (3, "Fail")}
# finding status_id: 1 New, 3 Suppressed, 4 Resolved.
NEW, SUPPRESSED, RESOLVED = (1, "New"), (3, "Suppressed"), (4, "Resolved")
AWS_ACCOUNT = (10, "AWS Account")


def _millis(iso: str) -> tuple[int, str]:
    """(epoch milliseconds, RFC 3339 text) of an ISO time; now when it is empty or unreadable."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None
    except ValueError:
        moment = None
    if moment is None:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    millis = int(moment.timestamp() * 1000)
    text = datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return millis, text


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


def finding(decision: Decision) -> dict[str, Any]:
    """One decision as an OCSF 1.6.0 Compliance Finding (profiles cloud and datetime)."""
    resource = decision.resource_arn or decision.resource_id
    compliance_id, compliance_name = COMPLIANCE_STATUS.get(decision.compliance, (99, "Not applicable"))
    failed = decision.compliance == NON_COMPLIANT
    fixed = failed and decision.action == ACTION_REMEDIATED
    if fixed:
        compliance_id, compliance_name = COMPLIANCE_STATUS[COMPLIANT]
    open_violation = failed and not fixed
    status = (SUPPRESSED if decision.action == ACTION_EXEMPT else NEW) if open_violation else RESOLVED
    severity = decision.severity.upper() if open_violation and decision.severity else "INFORMATIONAL"
    severity_id = SEVERITY_IDS.get(severity, 1)
    time, time_dt = _millis(decision.detected_at or decision.event_time)
    rule_id = str(decision.rule_id or "")
    compliance: dict[str, Any] = {"status_id": compliance_id, "status": compliance_name}
    if decision.controls:
        compliance.update(control=decision.controls[0], standards=[FSBP_STANDARD])
        compliance["requirements"] = [f"AWS Foundational Security Best Practices {c}" for c in decision.controls]
    if decision.reason:
        compliance["desc"] = decision.reason
    record: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE[0],
        "activity_name": ACTIVITY_CREATE[1],
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE[0],
        "type_name": f"{CLASS_NAME}: {ACTIVITY_CREATE[1]}",
        "severity_id": severity_id,
        "severity": severity.capitalize(),
        "status_id": status[0],
        "status": status[1],
        "time": time,
        "time_dt": time_dt,
        "message": decision.reason or decision.title or rule_id,
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": list(PROFILES),
            "product": {"name": "mlwarden", "vendor_name": "mlwarden", "version": __version__, "uid": "mlwarden"},
            **({"uid": decision.event_id} if decision.event_id else {}),
        },
        "cloud": {
            "provider": "AWS",
            **({"region": decision.region} if decision.region else {}),
            **(
                {"account": {"uid": decision.account, "type_id": AWS_ACCOUNT[0], "type": AWS_ACCOUNT[1]}}
                if decision.account
                else {}
            ),
        },
        "finding_info": {
            "uid": f"{MLWARDEN_GENERATOR_PREFIX}{rule_id}/{resource}",
            "title": decision.title or rule_id,
            "desc": decision.reason or decision.title or rule_id,
            "types": ["Software and Configuration Checks/AWS Security Best Practices"],
            "analytic": {"uid": rule_id, "name": rule_id, "type_id": 1, "type": "Rule"},
            "created_time": time,
            "created_time_dt": time_dt,
        },
        "compliance": compliance,
    }
    if resource:
        details: dict[str, Any] = {"uid": resource, "name": decision.resource_id or resource}
        if decision.resource_type:
            details["type"] = decision.resource_type
        if decision.region:
            details["region"] = decision.region
        if decision.resource_arn:
            details["cloud_partition"] = _partition(decision.resource_arn)
        if decision.account:
            details["owner"] = {"account": {"uid": decision.account, "type_id": AWS_ACCOUNT[0]}}
        record["resources"] = [details]
    if decision.remediation or decision.console_url:
        remediation: dict[str, Any] = {"desc": decision.remediation or decision.reason or rule_id}
        if decision.console_url:
            remediation["references"] = [decision.console_url]
        record["remediation"] = remediation
    return record


def lines(decisions: Iterable[Decision]) -> Iterable[str]:
    """One OCSF finding per decision with a rule (decisions about no rule judge nothing), as JSON lines."""
    for decision in decisions:
        if decision.rule_id:
            yield json.dumps(finding(decision), separators=(",", ":"))
