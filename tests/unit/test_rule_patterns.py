"""A rule's trigger patterns merged into as few EventBridge patterns as fit (``rule_patterns``): what the stack
deploys and ``mlwarden evaluate`` routes with. Merging changes which EventBridge rules exist, never which
events reach the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto.events.models import EventPattern

from mlwarden.core.patterns import (
    LONGEST_DEPLOYMENT,
    MAX_PATTERN_CHARS,
    Deployment,
    event_patterns,
    matches,
    merge_groups,
    rule_patterns,
)
from mlwarden.core.registry import all_specs
from tests.conftest import as_cloudtrail_event

SPECS = all_specs()
EVENTS = sorted((Path(__file__).parent.parent / "events").rglob("*.json"))


def load(path: Path) -> dict | None:
    """A sample as EventBridge delivers it (bare CloudTrail records wrapped), or None."""
    event = json.loads(path.read_text())
    if isinstance(event, dict) and "eventSource" in event:
        return as_cloudtrail_event(event)
    return event if isinstance(event, dict) and "source" in event else None


def test_the_samples_reach_rules() -> None:
    events = [e for e in map(load, EVENTS) if e is not None]
    assert sum(1 for spec in SPECS for e in events if any(matches(p, e) for p in rule_patterns(spec))) > 20


def _length(pattern: dict) -> int:
    return len(json.dumps(pattern, separators=(",", ":")))


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_every_registered_rule_needs_as_few_eventbridge_rules_as_the_pattern_limit_allows(spec) -> None:
    patterns = rule_patterns(spec, LONGEST_DEPLOYMENT)
    triggers = event_patterns(spec, LONGEST_DEPLOYMENT)
    assert all(_length(p) <= MAX_PATTERN_CHARS for p in patterns)
    # one EventBridge rule whenever all the triggers fit in one pattern; two otherwise (the rule with eight
    # SageMaker controls and eight managed Config rules, since Security Hub v2's OCSF findings route too)
    assert len(patterns) == (1 if _length({"$or": triggers}) <= MAX_PATTERN_CHARS else 2)
    flattened = [t for p in patterns for t in (p["$or"] if list(p) == ["$or"] else [p])]
    assert flattened == triggers


def test_the_deployment_stays_far_within_the_eventbridge_rule_quota() -> None:
    # 300 rules per bus (default bus, adjustable); the account's own rules share it.
    counts = [len(rule_patterns(spec, LONGEST_DEPLOYMENT)) for spec in SPECS]
    assert sum(counts) <= len(SPECS) + 3
    assert sum(counts) < 150


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_the_merged_patterns_match_exactly_the_events_one_trigger_pattern_matches(spec) -> None:
    deployment = Deployment(role_arn="arn:aws:iam::123456789012:role/mlwarden-rule", account="123456789012")
    for path in EVENTS:
        event = load(path)
        if event is None:
            continue
        for given in (None, deployment):
            by_trigger = any(matches(p, event) for p in event_patterns(spec, given))
            assert any(matches(p, event) for p in rule_patterns(spec, given)) == by_trigger, path.name


def test_moto_accepts_and_applies_a_merged_pattern() -> None:
    # The local account (mlwarden demo) routes through moto's EventBridge with the merged patterns
    (spec,) = [s for s in SPECS if s.id == "s3-bucket-kms-encryption"]
    (pattern,) = rule_patterns(spec)
    assert "$or" in pattern
    cloudtrail = {
        "source": "aws.s3",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucketEncryption"},
    }
    assert EventPattern.load(json.dumps(pattern)).matches_event(cloudtrail)
    assert not EventPattern.load(json.dumps(pattern)).matches_event({**cloudtrail, "source": "aws.ec2"})


def test_patterns_that_do_not_fit_one_limit_are_split_in_order() -> None:
    wrapper = len('{"$or":[]}')
    assert merge_groups([]) == []
    assert merge_groups([100]) == [(0, 1)]
    assert merge_groups([100, 100, 100], limit=wrapper + 201) == [(0, 2), (2, 3)]
    assert merge_groups([100, 100, 100], limit=wrapper + 302) == [(0, 3)]
    assert merge_groups([3000, 10]) == [(0, 1), (1, 2)]
