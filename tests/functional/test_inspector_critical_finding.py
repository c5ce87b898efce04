"""inspector-critical-finding: an ACTIVE CRITICAL/HIGH Inspector finding is re-read and alerted with what to fix;
closed, vanished, lower-severity and exempt findings are silent; nothing is ever changed.

moto's Inspector2 ListFindings returns nothing unless primed through its private API, so the tests answer
ListFindings as Inspector would, from the finding they hold.
"""

from __future__ import annotations

import copy
import json

import pytest

from mlwarden.core.context import RuleContext
from mlwarden.core.settings import RuntimeSettings
from mlwarden.rules.inspector_critical_finding import RULE as INSPECTOR_RULE
from tests.conftest import EXEMPT_UNTIL, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "inspector-critical-finding"
FINDING_EVENT = "handwritten/eventbridge-inspector2-Finding-ECR-image-HIGH-ACTIVE.json"


def finding_event(**changes) -> dict:
    event = load_event(FINDING_EVENT)
    event["detail"].update(changes)
    return event


def inspector_holds(harness, *findings: dict) -> None:
    """ListFindings answers from these findings, filtered by ARN, status and severity like Inspector."""

    def list_findings(params: dict) -> dict:
        criteria = params.get("filterCriteria", {})
        out = []
        for finding in findings:
            checks = {
                "findingArn": finding["findingArn"],
                "findingStatus": finding["status"],
                "severity": finding["severity"],
            }
            if all(
                not criteria.get(key) or any(c["value"] == value for c in criteria[key])
                for key, value in checks.items()
            ):
                out.append(copy.deepcopy(finding))
        return {"findings": out}

    harness.clients.answer("inspector2", "ListFindings", list_findings)


def test_active_high_finding_alerts_with_what_to_fix(aws, harness):
    # Given Inspector still reports the finding ACTIVE
    event = finding_event()
    inspector_holds(harness, event["detail"])
    # When its event arrives
    run = harness.invoke(RULE, event)
    # Then one alert names the vulnerability, the package, the installed and fixed versions, and the image
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_type"] == "AWS::ECR::Repository"
    assert decision["resource_id"] == "ml-inference"
    assert decision["resource_arn"].startswith("arn:aws:ecr:us-east-1:123456789012:repository/ml-inference/sha256:")
    assert decision["reason"] == "HIGH CVE-2023-38545 in curl 7.81.0 (fixed in 0:7.81.0-1ubuntu1.14)"
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: ml-inference non-compliant"
    assert alert["attributes"] == {"severity": "HIGH", "rule_id": RULE, "status": "notified"}
    body = alert["body"]
    assert body["remediation"] == (
        "update curl from 7.81.0 to 0:7.81.0-1ubuntu1.14; rebuild and push the image, then redeploy what runs it"
    )
    details = body["details"]
    assert details["vulnerability_id"] == "CVE-2023-38545"
    assert details["packages"] == [{"name": "curl", "installed": "7.81.0", "fixed_in": "0:7.81.0-1ubuntu1.14"}]
    assert details["image"]["repository"] == "ml-inference"
    assert details["image"]["tags"] == ["v42"]
    assert details["finding_arn"] == event["detail"]["findingArn"]
    assert "inspector/v2/home?region=us-east-1" in body["console_url"]
    # the only AWS call was the re-read of that one finding
    calls = [c for c in harness.clients.calls if c.service == "inspector2"]
    assert [c.params["filterCriteria"] for c in calls] == [
        {"findingArn": [{"comparison": "EQUALS", "value": event["detail"]["findingArn"]}]}
    ]


def test_critical_lambda_finding_is_critical_and_names_the_function(aws, harness):
    event = finding_event(severity="CRITICAL")
    event["detail"]["resources"] = [
        {
            "details": {
                "awsLambdaFunction": {
                    "functionName": "feature-extractor",
                    "runtime": "PYTHON_3_11",
                    "version": "$LATEST",
                }
            },
            "id": "arn:aws:lambda:us-east-1:123456789012:function:feature-extractor:$LATEST",
            "partition": "aws",
            "region": "us-east-1",
            "type": "AWS_LAMBDA_FUNCTION",
        }
    ]
    inspector_holds(harness, event["detail"])
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event)
    decision = run.decision
    assert decision["resource_type"] == "AWS::Lambda::Function"
    assert decision["resource_id"] == "feature-extractor"
    # notify-only: remediate mode still only alerts, and says a human must act
    assert decision["action"] == "notified"
    assert "no automatic remediation" in decision["reason"]
    alert = run.alerts[0]
    assert alert["subject"] == f"[CRITICAL] {RULE}: feature-extractor non-compliant"
    assert alert["body"]["remediation"].endswith("rebuild the deployment package or layer and redeploy the function")


def test_finding_closed_since_is_compliant_and_silent(aws, harness):
    event = finding_event()
    inspector_holds(harness, {**event["detail"], "status": "CLOSED"})
    run = harness.invoke(RULE, event)
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == "CVE-2023-38545 is CLOSED now"
    assert run.alerts == []


def test_finding_inspector_no_longer_has_is_not_applicable(aws, harness):
    inspector_holds(harness)  # nothing
    run = harness.invoke(RULE, finding_event())
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


def test_medium_finding_is_ignored_by_default_without_asking_inspector(aws, harness):
    event = finding_event(severity="MEDIUM")
    inspector_holds(harness, event["detail"])
    run = harness.invoke(RULE, event)
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["reason"] == "CVE-2023-38545 is MEDIUM; inspectorSeverities is CRITICAL/HIGH"
    assert run.alerts == []
    assert harness.clients.operations("inspector2") == []


def test_inspector_severities_option_decides_what_alerts(aws, harness):
    medium = finding_event(severity="MEDIUM")
    inspector_holds(harness, medium["detail"])
    run = harness.invoke(RULE, medium, options=json.dumps({"inspectorSeverities": ["CRITICAL", "HIGH", "MEDIUM"]}))
    assert run.decision["action"] == "notified"
    assert run.alerts[0]["subject"] == f"[MEDIUM] {RULE}: ml-inference non-compliant"
    # and narrowing it to CRITICAL silences HIGH findings
    high = finding_event()
    inspector_holds(harness, high["detail"])
    quiet = harness.invoke(RULE, high, options=json.dumps({"inspectorSeverities": ["CRITICAL"]}))
    assert quiet.decision["compliance"] == "NOT_APPLICABLE"
    assert quiet.alerts == []


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_resource_tagged_exempt_is_reported_once_but_not_acted_on(aws, harness, mode):
    event = finding_event()
    event["detail"]["resources"][0]["tags"] = {
        "mlwarden:exempt": RULE,
        "mlwarden:exempt-reason": "base image replaced next sprint",
        "mlwarden:exempt-until": EXEMPT_UNTIL,
    }
    inspector_holds(harness, event["detail"])
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, event)
    assert run.decision["action"] == "exempt"
    assert "base image replaced next sprint" in run.decision["reason"]
    assert_exempt_alert(run)


def test_scan_lists_active_findings_of_the_configured_severities(aws, harness):
    high = finding_event()["detail"]
    low = {**finding_event()["detail"], "findingArn": high["findingArn"] + "-low", "severity": "LOW"}
    inspector_holds(harness, high, low)
    ctx = RuleContext(RuntimeSettings(rule_id=RULE), clients=harness.clients)
    refs = INSPECTOR_RULE.list_refs(ctx, "us-east-1")
    assert [r.context["finding_arn"] for r in refs] == [high["findingArn"]]
