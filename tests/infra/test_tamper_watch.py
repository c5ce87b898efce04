"""The tamper watch as deployed: function, role with exactly its actions, patterns, delivery, alarms, and the
one exception it needs in the alarm topic's policy. Plus the EventBridge pattern size limit for every rule, and
the names the watch recognises mlwarden's own EventBridge rules, schedules and Config rules by."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlwarden.core import tamper
from mlwarden.core.patterns import matches
from mlwarden.core.registry import all_specs, rule_ids
from mlwarden.core.settings import NAME_PREFIX, resource_name
from mlwarden_cdk.watch import WATCH_ACTIONS, WATCH_FUNCTION_NAME, WATCH_HANDLER
from tests.conftest import as_cloudtrail_event, load_event
from tests.infra.cfn import Synth, as_list, canonical, denied, render

pytestmark = pytest.mark.slow

TLS = {"aws:SecureTransport": "true"}
# EventBridge's default maximum event pattern size (characters).
PATTERN_LIMIT = 2048
SWITCH_EVENTS = [
    "cloudtrail-ssm-PutParameter-rule-mode-off-by-assumed-role.json",
    "cloudtrail-ssm-PutParameter-kill-switch-on-by-iam-user.json",
    "cloudtrail-ssm-DeleteParameters-mlwarden-mode-and-app-parameter.json",
    "cloudtrail-ssm-AddTagsToResource-mode-parameter.json",
]
EXEMPTION_EVENTS = [
    "cloudtrail-s3-PutBucketTagging-mlwarden-exempt-all.json",
    "cloudtrail-sagemaker-AddTags-mlwarden-exempt-notebook.json",
    "cloudtrail-sagemaker-CreateNotebookInstance-with-mlwarden-exempt-tag.json",
    "cloudtrail-ec2-CreateTags-mlwarden-exempt-security-group.json",
    "cloudtrail-kms-TagResource-mlwarden-exempt.json",
    "cloudtrail-iam-TagRole-mlwarden-exempt.json",
    "cloudtrail-lambda-TagResource-mlwarden-exempt-map.json",
    "cloudtrail-s3-CreateBucket-with-mlwarden-exempt-tag.json",
    "cloudtrail-sagemaker-CreateFeatureGroup-with-mlwarden-exempt-tag.json",
]
CONTROL_EVENTS = [
    "cloudtrail-events-DisableRule-mlwarden-rule.json",
    "cloudtrail-events-RemoveTargets-mlwarden-rule.json",
    "cloudtrail-scheduler-DeleteSchedule-mlwarden-sweep.json",
    "cloudtrail-scheduler-UpdateSchedule-mlwarden-sweep-disabled.json",
    "cloudtrail-config-DeleteConfigRule-mlwarden-rule.json",
    "cloudtrail-config-PutConfigRule-mlwarden-scope-narrowed.json",
    "cloudtrail-config-PutConfigRule-named-by-arn-only.json",
]
IGNORED_EVENTS = [
    "cloudtrail-ssm-PutParameter-application-parameter.json",
    "cloudtrail-ssm-PutParameter-kill-switch-AccessDenied.json",
    "cloudtrail-events-DisableRule-other-rule.json",
]


def watch_function(synth: Synth) -> str:
    (logical_id,) = [
        lid for lid, r in synth.resources("AWS::Lambda::Function") if r["Properties"]["Handler"] == WATCH_HANDLER
    ]
    return logical_id


def watch_statements(synth: Synth) -> list[dict[str, Any]]:
    role = synth.props(watch_function(synth))["Role"]["Fn::GetAtt"][0]
    documents = [policy["PolicyDocument"] for policy in synth.props(role).get("Policies", [])]
    documents += [
        r["Properties"]["PolicyDocument"]
        for _, r in synth.resources("AWS::IAM::Policy")
        if {"Ref": role} in r["Properties"].get("Roles", [])
    ]
    return [statement for document in documents for statement in document["Statement"]]


def watch_event_rules(synth: Synth) -> list[str]:
    function = watch_function(synth)
    return [
        lid
        for lid, r in synth.resources("AWS::Events::Rule")
        if any(t["Arn"] == {"Fn::GetAtt": [function, "Arn"]} for t in r["Properties"]["Targets"])
    ]


def test_watch_function_runs_the_watch_handler_on_the_shared_asset(default: Synth) -> None:
    props = default.props(watch_function(default))
    rule_function = default.props(default.function_of(rule_ids()[0]))
    assert props["FunctionName"] == WATCH_FUNCTION_NAME
    assert props["Code"] == rule_function["Code"]
    assert props["Runtime"] == rule_function["Runtime"] and props["Layers"] == rule_function["Layers"]
    env = props["Environment"]["Variables"]
    assert env[tamper.ENV_ALARM_TOPIC_ARN] == {"Ref": default.output_ref("AlarmTopicArn")}
    assert "MLWARDEN_RULE_ID" not in env and "MLWARDEN_TOPIC_ARN" not in env
    assert env["POWERTOOLS_SERVICE_NAME"] == "mlwarden"


def test_watch_role_holds_exactly_its_actions_on_its_own_resources(default: Synth) -> None:
    function = watch_function(default)
    role = default.props(function)["Role"]["Fn::GetAtt"][0]
    (assume,) = default.props(role)["AssumeRolePolicyDocument"]["Statement"]
    assert assume["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert "ManagedPolicyArns" not in default.props(role)
    grants: dict[str, set[str]] = {}
    for statement in watch_statements(default):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            grants.setdefault(action, set()).update(render(r) for r in as_list(statement["Resource"]))
    assert (
        set(grants)
        == set(WATCH_ACTIONS)
        == {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "sns:Publish",
            "kms:GenerateDataKey",
            "kms:Decrypt",
            "ssm:GetParameter",
            "config:DescribeConfigRules",
            "sqs:SendMessage",
        }
    )
    key, _ = default.only("AWS::KMS::Key")
    log_group = default.props(function)["LoggingConfig"]["LogGroup"]["Ref"]
    (config,) = [
        r["Properties"]
        for _, r in default.resources("AWS::Lambda::EventInvokeConfig")
        if r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    queue = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert grants["logs:CreateLogStream"] == grants["logs:PutLogEvents"] == {f"<arn:{log_group}>"}
    # The ALARM topic only: not the alert topic, which admits the rule functions alone
    assert grants["sns:Publish"] == {f"<ref:{default.output_ref('AlarmTopicArn')}>"}
    assert grants["kms:GenerateDataKey"] == grants["kms:Decrypt"] == {f"<arn:{key}>"}
    assert grants["ssm:GetParameter"] == {"arn:aws:ssm:us-east-1:123456789012:parameter/mlwarden/*"}
    # This Region's Config rules (read to tell which one a PutConfigRule named by ARN alone was), nothing else
    assert grants["config:DescribeConfigRules"] == {"arn:aws:config:us-east-1:123456789012:config-rule/*"}
    assert grants["sqs:SendMessage"] == {f"<arn:{queue}>"}
    assert config["MaximumRetryAttempts"] == 2


def test_watch_patterns_are_deployed_by_name_and_route_the_attacks(default: Synth) -> None:
    rules = watch_event_rules(default)
    deployed = {default.props(rule)["Name"]: default.props(rule)["EventPattern"] for rule in rules}
    # One rule per pattern, named after its key: the control patterns know the watch's own rules by these names
    assert {name: canonical(p) for name, p in deployed.items()} == {
        tamper.rule_name(key): canonical(p) for key, p in tamper.patterns().items()
    }

    def kinds_catching(event: dict[str, Any]) -> set[str]:
        return {
            name.removeprefix(f"{WATCH_FUNCTION_NAME}-").split("-")[0]
            for name, p in deployed.items()
            if matches(p, event)
        }

    for names, kind in ((SWITCH_EVENTS, "switch"), (EXEMPTION_EVENTS, "exemption"), (CONTROL_EVENTS, "control")):
        for name in names:
            assert kinds_catching(as_cloudtrail_event(load_event(f"handwritten/{name}"))) == {kind}, name
    for name in IGNORED_EVENTS:
        assert kinds_catching(as_cloudtrail_event(load_event(f"handwritten/{name}"))) == set(), name
    # The watch's own control rule disabled: the switch rule still delivers it
    disabled = as_cloudtrail_event(
        load_event("handwritten/cloudtrail-events-PutRule-tamper-watch-control-disabled.json")
    )
    assert "switch" in kinds_catching(disabled)
    for pattern in deployed.values():
        assert '"wildcard"' not in json.dumps(pattern)


@pytest.mark.parametrize("name", ["default", "full"])
def test_every_mlwarden_trigger_is_named_as_the_watch_recognises_it(name: str, request: pytest.FixtureRequest) -> None:
    # The control patterns match mlwarden's EventBridge rules, schedules and Config rules by NAME_PREFIX: a trigger
    # left unnamed (CloudFormation would make up a name) could be disabled unseen
    synth: Synth = request.getfixturevalue(name)
    names = {
        "AWS::Events::Rule": "Name",
        "AWS::Scheduler::Schedule": "Name",
        "AWS::Config::ConfigRule": "ConfigRuleName",
    }
    found: dict[str, list[str]] = {}
    for type_, key in names.items():
        for logical_id, resource in synth.resources(type_):
            value = resource["Properties"].get(key)
            assert isinstance(value, str) and value.startswith(NAME_PREFIX), f"{logical_id}: {type_} named {value!r}"
            assert len(value) <= 64 and resource["Properties"].get("GroupName") in (None, "default"), logical_id
            found.setdefault(type_, []).append(value)
    for type_, values in found.items():
        assert len(values) == len(set(values)), f"two {type_} share a name"
    # Each deployed rule's triggers carry its own name
    deployed = [spec for spec in all_specs() if synth.settings.deployed(spec.id)]
    assert {resource_name(spec.id) for spec in deployed} <= set(found["AWS::Events::Rule"])
    assert {resource_name(s.id) for s in deployed if s.config} == set(found["AWS::Config::ConfigRule"])
    assert {resource_name(s.id) for s in deployed if s.sweep} == set(found.get("AWS::Scheduler::Schedule", []))


def test_watch_events_are_retried_then_dead_lettered_and_eventbridge_may_invoke(default: Synth) -> None:
    function = watch_function(default)
    key, _ = default.only("AWS::KMS::Key")
    invokers = {
        r["Properties"]["SourceArn"]["Fn::GetAtt"][0]
        for _, r in default.resources("AWS::Lambda::Permission")
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}
    }
    for rule in watch_event_rules(default):
        (target,) = default.props(rule)["Targets"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 7200}
        queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert default.props(queue)["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
        assert rule in invokers


def test_watch_errors_and_dead_letters_alarm_to_the_alarm_topic(default: Synth) -> None:
    function = watch_function(default)
    alarm_topic = default.output_ref("AlarmTopicArn")
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for _, r in default.resources("AWS::CloudWatch::Alarm")
        if r["Properties"]["AlarmName"].startswith(WATCH_FUNCTION_NAME)
    }
    assert set(alarms) == {f"{WATCH_FUNCTION_NAME}-errors", f"{WATCH_FUNCTION_NAME}-dead-letters"}
    errors = alarms[f"{WATCH_FUNCTION_NAME}-errors"]
    assert errors["MetricName"] == "Errors" and errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": function}}
    ]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": alarm_topic}]
        assert alarm["Threshold"] == 1


@pytest.mark.parametrize("name", ["default", "full"])
def test_only_the_watch_role_besides_alarms_may_publish_to_the_alarm_topic(
    name: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(name)
    policy = synth.topic_policy(synth.output_ref("AlarmTopicArn"))
    role = f"<arn:{synth.props(watch_function(synth))['Role']['Fn::GetAtt'][0]}>"
    assert not denied(policy, "sns:Publish", {"AWS": role}, {**TLS, "aws:PrincipalArn": role})
    for other in ["arn:aws:iam::123456789012:role/Admin", f"<arn:{synth.role_of(rule_ids()[0])}>"]:
        assert denied(policy, "sns:Publish", {"AWS": other}, {**TLS, "aws:PrincipalArn": other})
    # The alert topic still admits the rule functions only
    alerts = synth.topic_policy(synth.output_ref("AlertTopicArn"))
    assert denied(alerts, "sns:Publish", {"AWS": role}, {**TLS, "aws:PrincipalArn": role})


@pytest.mark.parametrize("name", ["default", "full"])
def test_every_eventbridge_pattern_fits_the_default_pattern_size(name: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(name)
    for logical_id, resource in synth.resources("AWS::Events::Rule"):
        size = len(json.dumps(resource["Properties"]["EventPattern"]))
        assert size <= PATTERN_LIMIT, f"{logical_id}: pattern of {size} characters"
