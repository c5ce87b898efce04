"""What feeds each rule: EventBridge patterns equal to the spec's, delivery that survives failures, Config."""

from __future__ import annotations

import pytest

from mlwarden.core.patterns import rule_patterns
from mlwarden.core.registry import all_specs, rule_ids
from mlwarden_cdk.watch import WATCH_HANDLER
from tests.infra.cfn import Synth, canonical

pytestmark = pytest.mark.slow

SPECS = all_specs()


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_eventbridge_patterns_targeting_the_rule_equal_the_spec_patterns(default: Synth, spec) -> None:
    # Given the rule's function / When collecting the patterns of every EventBridge rule that targets it
    deployed = sorted(canonical(default.props(rule)["EventPattern"]) for rule in default.event_rules_of(spec.id))
    # Then they are exactly the patterns `mlwarden evaluate` routes with: none missing, none extra
    # (the loop guard names this rule's own role; findings are narrowed to the deployment's account)
    assert deployed == sorted(canonical(pattern) for pattern in rule_patterns(spec, default.deployment_of(spec.id)))


def test_every_eventbridge_rule_targets_exactly_one_rule_function(default: Synth) -> None:
    functions = {default.function_of(rule_id) for rule_id in rule_ids()}
    # (or the tamper watch: tests/infra/test_tamper_watch.py)
    functions |= {
        lid for lid, r in default.resources("AWS::Lambda::Function") if r["Properties"]["Handler"] == WATCH_HANDLER
    }
    for logical_id, resource in default.resources("AWS::Events::Rule"):
        targets = resource["Properties"]["Targets"]
        assert len(targets) == 1, logical_id
        assert targets[0]["Arn"]["Fn::GetAtt"][0] in functions, logical_id
        assert resource["Properties"]["State"] == "ENABLED"


@pytest.mark.parametrize("rule_id", rule_ids())
def test_events_are_retried_for_two_hours_then_kept_in_the_rules_encrypted_dead_letter_queue(
    default: Synth, rule_id: str
) -> None:
    key, _ = default.only("AWS::KMS::Key")
    queue = default.dead_letter_queue_of(rule_id)
    for rule in default.event_rules_of(rule_id):
        (target,) = default.props(rule)["Targets"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 7200}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}
    assert default.props(queue)["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}


@pytest.mark.parametrize("rule_id", rule_ids())
def test_eventbridge_may_invoke_the_function_and_write_to_its_dead_letter_queue(default: Synth, rule_id: str) -> None:
    function = default.function_of(rule_id)
    queue = default.dead_letter_queue_of(rule_id)
    invokers = {
        r["Properties"]["SourceArn"]["Fn::GetAtt"][0]
        for _, r in default.resources("AWS::Lambda::Permission")
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}
        and r["Properties"]["Principal"] == "events.amazonaws.com"
    }
    (queue_policy,) = [
        r["Properties"]["PolicyDocument"]
        for _, r in default.resources("AWS::SQS::QueuePolicy")
        if r["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    senders = {
        s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0]
        for s in queue_policy["Statement"]
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}
    }
    rules = set(default.event_rules_of(rule_id))
    assert invokers == rules
    assert senders == rules


@pytest.mark.parametrize("rule_id", rule_ids())
def test_failed_async_invocations_are_retried_twice_then_sent_to_the_dead_letter_queue(
    default: Synth, rule_id: str
) -> None:
    function = default.function_of(rule_id)
    (config,) = [
        r["Properties"]
        for _, r in default.resources("AWS::Lambda::EventInvokeConfig")
        if r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] == default.dead_letter_queue_of(
        rule_id
    )


@pytest.mark.parametrize("spec", [s for s in SPECS if s.config], ids=lambda spec: spec.id)
def test_rules_with_a_config_trigger_get_a_custom_config_rule_on_their_resource_types(default: Synth, spec) -> None:
    # Given a rule whose spec declares a Config trigger
    (rule,) = default.config_rules_of(spec.id)
    # Then its Config rule is named after it, scoped to the spec's types and backed by its function
    assert rule["ConfigRuleName"] == f"mlwarden-{spec.id}"
    assert rule["Scope"] == {"ComplianceResourceTypes": list(spec.config.resource_types)}
    assert rule["Source"]["Owner"] == "CUSTOM_LAMBDA"
    messages = {detail["MessageType"]: detail for detail in rule["Source"]["SourceDetails"]}
    assert "ConfigurationItemChangeNotification" in messages
    assert "OversizedConfigurationItemChangeNotification" in messages
    if spec.config.periodic:
        assert messages["ScheduledNotification"]["MaximumExecutionFrequency"] == "TwentyFour_Hours"
    else:
        assert "ScheduledNotification" not in messages


@pytest.mark.parametrize("spec", [s for s in SPECS if s.config and s.config.periodic], ids=lambda spec: spec.id)
def test_config_frequency_comes_from_context(full: Synth, spec) -> None:
    (rule,) = full.config_rules_of(spec.id)
    scheduled = [d for d in rule["Source"]["SourceDetails"] if d["MessageType"] == "ScheduledNotification"]
    assert [d["MaximumExecutionFrequency"] for d in scheduled] == ["One_Hour"]


@pytest.mark.parametrize("spec", [s for s in SPECS if not s.config], ids=lambda spec: spec.id)
def test_rules_without_a_config_trigger_get_no_config_rule(default: Synth, spec) -> None:
    assert default.config_rules_of(spec.id) == []


def test_config_rules_are_exactly_one_per_rule_with_a_config_trigger(default: Synth) -> None:
    names = sorted(r["Properties"]["ConfigRuleName"] for _, r in default.resources("AWS::Config::ConfigRule"))
    assert names == sorted(f"mlwarden-{s.id}" for s in SPECS if s.config)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.config], ids=lambda spec: spec.id)
def test_aws_config_may_invoke_the_function_of_its_rule(default: Synth, spec) -> None:
    function = default.function_of(spec.id)
    principals = [
        r["Properties"]
        for _, r in default.resources("AWS::Lambda::Permission")
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}
        and r["Properties"]["Principal"] == "config.amazonaws.com"
    ]
    assert [p["SourceAccount"] for p in principals] == [{"Ref": "AWS::AccountId"}]
