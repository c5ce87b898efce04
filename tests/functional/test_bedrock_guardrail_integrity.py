"""bedrock-guardrail-integrity: a deleted guardrail, or a DRAFT weaker than the guardrail's latest published
version, is reported with exactly what was weakened; the rule never changes a guardrail.

moto has no Bedrock guardrails: GetGuardrail, ListGuardrails and ListTagsForResource are answered through the
harness with responses shaped like the Bedrock API reference's."""

from __future__ import annotations

import copy
import json

import pytest

from mlwarden.core.context import RuleContext
from mlwarden.core.registry import get_rule
from mlwarden.core.settings import RuntimeSettings
from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "bedrock-guardrail-integrity"
DELETE_SAMPLE = "cloudtrail-other/stratus-bedrock-DeleteGuardrail.json"  # real: us-west-2, 847129010505
UPDATE_EVENT = "handwritten/cloudtrail-bedrock-UpdateGuardrail-content-filter-lowered.json"
GID = "14sw4es53xdo"
REGION = "us-west-2"
ARN = f"arn:aws:bedrock:{REGION}:123456789012:guardrail/{GID}"

PUBLISHED = {
    "contentPolicy": {
        "filters": [
            {"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"},
            {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"},
        ]
    },
    "topicPolicy": {"topics": [{"name": "investment-advice", "definition": "Advice on investments", "type": "DENY"}]},
    "sensitiveInformationPolicy": {"piiEntities": [{"type": "EMAIL", "action": "ANONYMIZE"}]},
    "contextualGroundingPolicy": {"filters": [{"type": "GROUNDING", "threshold": 0.8, "action": "BLOCK"}]},
}


class Guardrails:
    """One guardrail with a DRAFT and numbered versions, answered in memory."""

    def __init__(self, clients, draft: dict, versions: dict[str, dict] | None = None, tags: dict | None = None):
        self.draft, self.versions, self.tags = draft, versions or {}, tags or {}
        clients.answer("bedrock", "GetGuardrail", self._get)
        clients.answer("bedrock", "ListGuardrails", self._list)
        clients.answer(
            "bedrock", "ListTagsForResource", lambda p: {"tags": [{"key": k, "value": v} for k, v in self.tags.items()]}
        )

    def _get(self, params: dict) -> dict:
        version = params.get("guardrailVersion", "DRAFT")
        body = self.draft if version == "DRAFT" else self.versions[version]
        return {
            "name": "customer-chat",
            "guardrailId": GID,
            "guardrailArn": ARN,
            "version": version,
            "status": "READY",
            **copy.deepcopy(body),
        }

    def _list(self, params: dict) -> dict:
        versions = ["DRAFT", *self.versions] if params.get("guardrailIdentifier") else ["DRAFT"]
        return {
            "guardrails": [
                {"id": GID, "arn": ARN, "name": "customer-chat", "status": "READY", "version": v} for v in versions
            ]
        }


def weakened_draft() -> dict:
    draft = copy.deepcopy(PUBLISHED)
    draft["contentPolicy"]["filters"][0].update(inputStrength="LOW", outputStrength="LOW")
    draft["sensitiveInformationPolicy"] = {}
    del draft["contextualGroundingPolicy"]
    return draft


def update_event(**changes) -> dict:
    return as_cloudtrail_event(load_event(UPDATE_EVENT), **changes)


def test_sample_delete_guardrail_is_reported_as_deleted(aws, harness):
    # Given the guardrail of the real Stratus Red Team sample is gone
    harness.clients.fail("bedrock", "GetGuardrail", "ResourceNotFoundException", "Guardrail not found", 404)
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(DELETE_SAMPLE)))
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert (decision["resource_type"], decision["resource_id"]) == ("AWS::Bedrock::Guardrail", GID)
    assert (decision["region"], decision["account"]) == ("us-west-2", "847129010505")
    assert decision["resource_arn"] == f"arn:aws:bedrock:us-west-2:847129010505:guardrail/{GID}"
    assert decision["reason"] == f"guardrail {GID} was deleted, with all its versions"
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: {GID} non-compliant"
    # the sample's eventTime is not ISO 8601: it is carried as published
    assert alert["body"]["event_time"] == "2025-03-26 16:43:57.000000000"
    assert "recreate the guardrail" in alert["body"]["remediation"]
    # a deleted guardrail has no tags to read
    assert harness.clients.operations("bedrock") == ["GetGuardrail"]


def test_weakened_draft_is_reported_with_exactly_what_was_weakened(aws, harness):
    Guardrails(harness.clients, weakened_draft(), {"1": {}, "2": PUBLISHED})
    run = harness.invoke(RULE, update_event())
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["resource_arn"] == ARN
    lost = [
        "content filter HATE: input strength HIGH -> LOW",
        "content filter HATE: output strength HIGH -> LOW",
        "PII entity EMAIL removed",
        "contextual grounding GROUNDING removed",
    ]
    assert decision["reason"] == "guardrail customer-chat: DRAFT weakened compared with version 2: " + "; ".join(lost)
    body = run.alerts[0]["body"]
    assert body["details"] == {"guardrail_name": "customer-chat", "compared_with_version": "2", "weakened": lost}
    assert body["before"] == {"compared_with_version": "2", "weakened": lost}
    assert "restore the DRAFT to version 2's settings" in body["remediation"]
    # DRAFT, the version list, the latest version; then tags (non-compliant only)
    assert harness.clients.operations("bedrock") == [
        "GetGuardrail",
        "ListGuardrails",
        "GetGuardrail",
        "ListTagsForResource",
    ]


def test_stronger_draft_is_compliant_and_silent(aws, harness):
    draft = copy.deepcopy(PUBLISHED)
    draft["contentPolicy"]["filters"].append(
        {"type": "VIOLENCE", "inputStrength": "MEDIUM", "outputStrength": "MEDIUM"}
    )
    Guardrails(harness.clients, draft, {"1": PUBLISHED})
    run = harness.invoke(RULE, update_event())
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == "guardrail customer-chat: DRAFT is not weaker than version 1"
    assert run.alerts == []


def test_remediate_mode_still_only_notifies(aws, harness):
    Guardrails(harness.clients, weakened_draft(), {"1": PUBLISHED})
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, update_event())
    assert run.decision["action"] == "notified"
    assert "this rule has no automatic remediation: a human must act" in run.decision["reason"]
    assert set(harness.clients.operations("bedrock")) == {"GetGuardrail", "ListGuardrails", "ListTagsForResource"}


def test_guardrail_without_a_published_version_is_judged_on_its_own(aws, harness):
    Guardrails(harness.clients, PUBLISHED)
    assert harness.invoke(RULE, update_event()).decision["compliance"] == "COMPLIANT"
    Guardrails(harness.clients, {})
    emptied = harness.invoke(RULE, update_event())
    assert emptied.decision["compliance"] == "NON_COMPLIANT"
    assert (
        emptied.decision["reason"]
        == "guardrail customer-chat has no content, topic, word, PII or grounding policy left"
    )


def test_deleting_one_version_keeps_the_guardrail_judged_as_usual(aws, harness):
    Guardrails(harness.clients, PUBLISHED, {"3": PUBLISHED})
    sample = as_cloudtrail_event(load_event(DELETE_SAMPLE), requestParameters__guardrailVersion="2")
    run = harness.invoke(RULE, sample)
    assert run.decision["compliance"] == "COMPLIANT"


def test_updated_guardrail_deleted_since_is_not_applicable(aws, harness):
    harness.clients.fail("bedrock", "GetGuardrail", "ResourceNotFoundException", "Guardrail not found", 404)
    run = harness.invoke(RULE, update_event())
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.alerts == []


def test_guardrails_not_listed_in_guarded_guardrails_are_out_of_scope(aws, harness):
    Guardrails(harness.clients, weakened_draft(), {"1": PUBLISHED})
    other = json.dumps({"guardedGuardrails": ["abcdefghij12"]})
    run = harness.invoke(RULE, update_event(), options=other)
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["reason"] == f"guardrail {GID} is not listed in cdk.json guardedGuardrails"
    assert harness.clients.operations("bedrock") == []
    # listed by ARN: guarded
    listed = json.dumps({"guardedGuardrails": [ARN]})
    assert harness.invoke(RULE, update_event(), options=listed).decision["compliance"] == "NON_COMPLIANT"


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_exempt_guardrail_is_reported_once_but_not_acted_on(aws, harness, mode):
    Guardrails(
        harness.clients,
        weakened_draft(),
        {"1": PUBLISHED},
        tags={
            "mlwarden:exempt": RULE,
            "mlwarden:exempt-reason": "red-team sandbox",
            "mlwarden:exempt-until": EXEMPT_UNTIL,
        },
    )
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, update_event())
    assert run.decision["action"] == "exempt"
    assert "red-team sandbox" in run.decision["reason"]
    assert_exempt_alert(run)


def test_sweep_lists_each_guardrail_once(aws, harness):
    Guardrails(harness.clients, PUBLISHED, {"1": PUBLISHED})
    ctx = RuleContext(settings=RuntimeSettings(rule_id=RULE), clients=harness.clients)
    refs = get_rule(RULE).list_refs(ctx, REGION)
    assert [(r.resource_id, r.arn) for r in refs] == [(GID, ARN)]
