"""Tamper watch (issue 9 §1.4, §1.5): reading the CloudTrail calls that switch mlwarden off, exempt a resource or
silence a rule's triggers, and the alarm that names who did it. Pure: the SSM and Config reads are fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlwarden import watch
from mlwarden.core import tamper
from mlwarden.core.patterns import matches
from tests.conftest import as_cloudtrail_event, load_event

HANDWRITTEN = "handwritten/"
MODE_OFF = "cloudtrail-ssm-PutParameter-rule-mode-off-by-assumed-role.json"
KILL_SWITCH_ON = "cloudtrail-ssm-PutParameter-kill-switch-on-by-iam-user.json"
DELETE_PARAMETERS = "cloudtrail-ssm-DeleteParameters-mlwarden-mode-and-app-parameter.json"
TAG_PARAMETER = "cloudtrail-ssm-AddTagsToResource-mode-parameter.json"
APP_PARAMETER = "cloudtrail-ssm-PutParameter-application-parameter.json"
DENIED = "cloudtrail-ssm-PutParameter-kill-switch-AccessDenied.json"
BUCKET_EXEMPT = "cloudtrail-s3-PutBucketTagging-mlwarden-exempt-all.json"
BUCKET_OTHER_TAGS = "cloudtrail-s3-PutBucketTagging-no-mlwarden-tags.json"
NOTEBOOK_TAGGED = "cloudtrail-sagemaker-AddTags-mlwarden-exempt-notebook.json"
NOTEBOOK_CREATED_EXEMPT = "cloudtrail-sagemaker-CreateNotebookInstance-with-mlwarden-exempt-tag.json"
SECURITY_GROUP = "cloudtrail-ec2-CreateTags-mlwarden-exempt-security-group.json"
KMS_KEY = "cloudtrail-kms-TagResource-mlwarden-exempt.json"
IAM_ROLE = "cloudtrail-iam-TagRole-mlwarden-exempt.json"
LAMBDA_MAP = "cloudtrail-lambda-TagResource-mlwarden-exempt-map.json"
AGENTCORE_GATEWAY = "cloudtrail-bedrock-agentcore-TagResource-mlwarden-exempt-gateway.json"
BUCKET_CREATED_EXEMPT = "cloudtrail-s3-CreateBucket-with-mlwarden-exempt-tag.json"
FEATURE_GROUP_CREATED_EXEMPT = "cloudtrail-sagemaker-CreateFeatureGroup-with-mlwarden-exempt-tag.json"
RULE_DISABLED = "cloudtrail-events-DisableRule-mlwarden-rule.json"
TARGETS_REMOVED = "cloudtrail-events-RemoveTargets-mlwarden-rule.json"
WATCH_RULE_DISABLED = "cloudtrail-events-PutRule-tamper-watch-control-disabled.json"
OTHER_RULE_DISABLED = "cloudtrail-events-DisableRule-other-rule.json"
SCHEDULE_DELETED = "cloudtrail-scheduler-DeleteSchedule-mlwarden-sweep.json"
SCHEDULE_DISABLED = "cloudtrail-scheduler-UpdateSchedule-mlwarden-sweep-disabled.json"
CONFIG_RULE_DELETED = "cloudtrail-config-DeleteConfigRule-mlwarden-rule.json"
CONFIG_RULE_NARROWED = "cloudtrail-config-PutConfigRule-mlwarden-scope-narrowed.json"
CONFIG_RULE_BY_ARN = "cloudtrail-config-PutConfigRule-named-by-arn-only.json"

SWITCH_EVENTS = [MODE_OFF, KILL_SWITCH_ON, DELETE_PARAMETERS, TAG_PARAMETER]
EXEMPTION_EVENTS = [
    BUCKET_EXEMPT,
    NOTEBOOK_TAGGED,
    NOTEBOOK_CREATED_EXEMPT,
    SECURITY_GROUP,
    KMS_KEY,
    IAM_ROLE,
    LAMBDA_MAP,
    AGENTCORE_GATEWAY,
    BUCKET_CREATED_EXEMPT,
    FEATURE_GROUP_CREATED_EXEMPT,
]
CONTROL_EVENTS = [
    RULE_DISABLED,
    TARGETS_REMOVED,
    WATCH_RULE_DISABLED,
    SCHEDULE_DELETED,
    SCHEDULE_DISABLED,
    CONFIG_RULE_DELETED,
    CONFIG_RULE_NARROWED,
    CONFIG_RULE_BY_ARN,
]
NOW = "2026-11-25T10:00:05Z"


def event(name: str, **changes: Any) -> dict[str, Any]:
    return as_cloudtrail_event(load_event(HANDWRITTEN + name), **changes)


class FakeSsm:
    """get_parameter answers from a dict; a missing name is ParameterNotFound, a code string is that error."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: list[str] = []

    def get_parameter(self, Name: str) -> dict[str, Any]:  # noqa: N803 (boto3's casing)
        self.asked.append(Name)
        value = self.values.get(Name)
        if value is None:
            raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": ""}}, "GetParameter")
        if isinstance(value, Exception):
            raise value
        if isinstance(value, tuple):
            return {"Parameter": {"Name": Name, "Type": value[0], "Value": value[1]}}
        return {"Parameter": {"Name": Name, "Type": "String", "Value": value}}


def caught_by(kind: str, delivered: dict[str, Any]) -> bool:
    return any(matches(pattern, delivered) for pattern in tamper.patterns_of(kind))


# -- patterns -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SWITCH_EVENTS)
def test_switch_pattern_catches_every_change_to_an_mlwarden_parameter(name: str) -> None:
    delivered = event(name)
    assert matches(tamper.switch_pattern(), delivered)
    assert not caught_by(tamper.KIND_EXEMPTION, delivered) and not caught_by(tamper.KIND_CONTROL, delivered)
    assert tamper.kind_of(delivered) == tamper.KIND_SWITCH


@pytest.mark.parametrize("name", EXEMPTION_EVENTS + [BUCKET_OTHER_TAGS])
def test_exemption_pattern_catches_the_tagging_calls_of_every_service_a_rule_reads_tags_from(name: str) -> None:
    delivered = event(name)
    assert caught_by(tamper.KIND_EXEMPTION, delivered)
    assert not caught_by(tamper.KIND_SWITCH, delivered) and not caught_by(tamper.KIND_CONTROL, delivered)
    assert tamper.kind_of(delivered) == tamper.KIND_EXEMPTION


@pytest.mark.parametrize("name", CONTROL_EVENTS)
def test_control_pattern_catches_changes_to_mlwardens_rules_schedules_and_config_rules(name: str) -> None:
    delivered = event(name)
    assert caught_by(tamper.KIND_CONTROL, delivered)
    assert not caught_by(tamper.KIND_EXEMPTION, delivered)
    assert tamper.kind_of(delivered) == tamper.KIND_CONTROL


@pytest.mark.parametrize(
    "changes",
    [
        {"requestParameters": {"name": "nightly-report"}},  # another team's rule
        {"requestParameters": {"name": "MLWARDEN-s3-bucket-public-access"}},  # rule names are case-sensitive
        {"requestParameters": {"name": "x-mlwarden-s3-bucket-public-access"}},
        {"errorCode": "AccessDeniedException"},  # a denied attempt changed nothing
        {"eventName": "EnableRule"},  # turning a rule on silences nothing
        {"eventName": "DescribeRule"},
    ],
    ids=["other-rule", "upper-case", "not-a-prefix", "denied", "enable", "read"],
)
def test_control_pattern_ignores_other_rules_failed_calls_and_harmless_calls(changes: dict[str, Any]) -> None:
    delivered = event(RULE_DISABLED, **changes)
    assert not any(matches(p, delivered) for p in tamper.patterns().values())


def test_control_pattern_ignores_other_schedules_and_config_rules() -> None:
    others = [
        event(SCHEDULE_DELETED, requestParameters={"Name": "nightly-export", "GroupName": "default"}),
        event(CONFIG_RULE_DELETED, requestParameters={"configRuleName": "securityhub-s3-bucket-ssl"}),
        event(CONFIG_RULE_NARROWED, requestParameters__configRule__configRuleName="team-rule"),
        event(CONFIG_RULE_DELETED, eventName="PutConfigRule"),  # no configRule object: nothing to change
    ]
    for delivered in others:
        assert not any(matches(p, delivered) for p in tamper.patterns().values()), delivered["detail"]


def test_attack_scheduler_record_matched_whatever_the_casing_of_its_name() -> None:
    # No published Scheduler record settles whether CloudTrail writes "Name" or "name": both are matched
    lower = event(SCHEDULE_DELETED, requestParameters={"name": "mlwarden-bedrock-agentcore-memory-kms"})
    assert caught_by(tamper.KIND_CONTROL, lower)
    _, (report,) = watch.reports_for(lower, FakeSsm({}), NOW)
    assert report.target == "mlwarden-bedrock-agentcore-memory-kms"


def test_attack_disabling_the_watchs_own_control_rule_is_caught_by_another_of_its_rules() -> None:
    # The control rule may no longer deliver the change that disabled it: the switch rule watches it by name
    delivered = event(WATCH_RULE_DISABLED)
    control_keys = [key for key in tamper.patterns() if key.split("-", 1)[0] == tamper.KIND_CONTROL]
    assert control_keys and all(tamper.rule_name(key).startswith(tamper.WATCH_NAME) for key in control_keys)
    for key in control_keys:
        named = event(WATCH_RULE_DISABLED, requestParameters__name=tamper.rule_name(key))
        others = [p for k, p in tamper.patterns().items() if k != key]
        assert any(matches(p, named) for p in others), key
    assert matches(tamper.switch_pattern(), delivered)


def test_attack_failed_switch_attempt_and_other_parameters_do_not_reach_the_watch() -> None:
    for name in (APP_PARAMETER, DENIED, OTHER_RULE_DISABLED):
        assert not any(matches(p, event(name)) for p in tamper.patterns().values()), name


def test_patterns_use_no_wildcard_and_fit_eventbridge_size_limit() -> None:
    for key, pattern in tamper.patterns().items():
        text = json.dumps(pattern)
        assert '"wildcard"' not in text, key
        assert len(text) <= 2048, (key, len(text))
    assert {key.split("-", 1)[0] for key in tamper.patterns()} == set(tamper.KINDS)


def test_moto_matcher_agrees_for_the_local_demo() -> None:
    from moto.events.models import EventPattern

    for name in SWITCH_EVENTS + EXEMPTION_EVENTS + CONTROL_EVENTS + [APP_PARAMETER, DENIED, OTHER_RULE_DISABLED]:
        delivered = event(name)
        for key, pattern in tamper.patterns().items():
            ours = matches(pattern, delivered)
            assert EventPattern.load(json.dumps(pattern)).matches_event(delivered) == ours, (name, key)


# -- switches ---------------------------------------------------------------------------------------------
def test_attack_rule_switched_off_silently_is_reported_naming_role_and_session() -> None:
    # Given an assumed-role session "alice" of PlatformOps set the IAM admin rule's mode (value hidden)
    ssm = FakeSsm({"/mlwarden/rules/iam-admin-policy-attached/mode": "off"})
    # When the watch reads the event
    kind, (report,) = watch.reports_for(event(MODE_OFF), ssm, NOW)
    # Then it read the value back and names the role, the session and the call
    assert kind == tamper.KIND_SWITCH and ssm.asked == ["/mlwarden/rules/iam-admin-policy-attached/mode"]
    # (the ARN does not fit in 100 characters with the parameter: the account is left to the body)
    assert (
        report.subject() == "[mlwarden] /mlwarden/rules/iam-admin-policy-attached/mode set to off by role/PlatformOps"
    )
    body = json.loads(report.message())
    assert body["kind"] == "switch"
    assert body["parameter"] == "/mlwarden/rules/iam-admin-policy-attached/mode"
    assert body["value"] == "off"
    assert body["caller_arn"] == "arn:aws:sts::123456789012:assumed-role/PlatformOps/alice"
    assert body["role_arn"] == "arn:aws:iam::123456789012:role/PlatformOps"
    assert body["session_name"] == "alice"
    assert body["source_ip"] == "203.0.113.7"
    assert body["user_agent"].startswith("aws-cli/2.15.0")
    assert body["event_time"] == "2026-11-25T10:00:00Z"
    assert body["event_id"] == load_event(HANDWRITTEN + MODE_OFF)["eventID"]
    assert "neither alerts nor remediates" in body["summary"]
    assert "session name 'alice' is chosen by the caller" in body["summary"]
    assert "HIDDEN" not in report.message()


def test_attack_kill_switch_pulled_by_a_user_is_reported() -> None:
    ssm = FakeSsm({"/mlwarden/kill-switch": "on"})
    _, (report,) = watch.reports_for(event(KILL_SWITCH_ON), ssm, NOW)
    assert report.subject() == "[mlwarden] /mlwarden/kill-switch set to on by arn:aws:iam::123456789012:user/mallory"
    body = report.body()
    assert body["role_arn"] == "" and body["session_name"] == ""
    assert "every remediation is stopped" in body["summary"]


def test_attack_mode_parameter_deleted_in_a_batch_is_reported_alone() -> None:
    # DeleteParameters named an application parameter too: only the mlwarden one is reported
    _, reports = watch.reports_for(event(DELETE_PARAMETERS), FakeSsm({}), NOW)
    assert [r.target for r in reports] == ["/mlwarden/rules/s3-bucket-kms-encryption/mode"]
    (report,) = reports
    assert report.subject().startswith("[mlwarden] /mlwarden/rules/s3-bucket-kms-encryption/mode deleted by ")
    assert report.value is None
    assert "falls back to its deploy-time default" in report.value_note


def test_switch_tags_changed_are_reported_with_the_tags() -> None:
    _, (report,) = watch.reports_for(event(TAG_PARAMETER), FakeSsm({}), NOW)
    assert report.tags == {"mlwarden:allow-remediation": "true"}
    assert "tagged" in report.subject()


def test_unreadable_or_secret_value_still_alerts() -> None:
    name = "/mlwarden/kill-switch"
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": ""}}, "GetParameter")
    _, (report,) = watch.reports_for(event(KILL_SWITCH_ON), FakeSsm({name: denied}), NOW)
    assert report.value is None and "AccessDeniedException" in report.value_note
    _, (report,) = watch.reports_for(event(KILL_SWITCH_ON), FakeSsm({name: ("SecureString", "AQICAH...")}), NOW)
    assert report.value is None and "SecureString" in report.value_note


def test_throttled_read_back_is_retried_not_reported_half() -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": ""}}, "GetParameter")
    with pytest.raises(ClientError):
        watch.reports_for(event(KILL_SWITCH_ON), FakeSsm({"/mlwarden/kill-switch": throttled}), NOW)


@pytest.mark.parametrize(
    ("code", "status"), [("TooManyUpdates", 400), ("RequestLimitExceeded", 400), ("InternalServerError", 500)]
)
def test_read_back_errors_a_retry_can_cure_are_retried(code: str, status: int) -> None:
    error = {"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}}
    with pytest.raises(ClientError):
        watch.reports_for(
            event(KILL_SWITCH_ON), FakeSsm({"/mlwarden/kill-switch": ClientError(error, "GetParameter")}), NOW
        )


def test_attack_session_named_like_mlwarden_is_still_reported() -> None:
    # The rules' loop guard skips sessions named "mlwarden-*"; the watch has no such exclusion
    name = "arn:aws:sts::123456789012:assumed-role/PlatformOps/mlwarden-iam-admin-policy-attached"
    delivered = event(MODE_OFF, userIdentity__arn=name)
    assert matches(tamper.switch_pattern(), delivered)
    _, (report,) = watch.reports_for(delivered, FakeSsm({}), NOW)
    assert report.caller.session_name == "mlwarden-iam-admin-policy-attached"
    assert report.subject().endswith("by role/PlatformOps")


def test_federated_user_is_named_by_the_iam_user_that_issued_the_session() -> None:
    identity = {
        "type": "FederatedUser",
        "arn": "arn:aws:sts::123456789012:federated-user/admin",
        "accountId": "123456789012",
        "sessionContext": {
            "sessionIssuer": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
        },
    }
    _, (report,) = watch.reports_for(event(KILL_SWITCH_ON, userIdentity=identity), FakeSsm({}), NOW)
    body = report.body()
    assert body["issuer_arn"] == "arn:aws:iam::123456789012:user/mallory" and body["role_arn"] == ""
    assert body["session_name"] == "admin"
    assert report.subject().endswith("by arn:aws:iam::123456789012:user/mallory")


# -- exemptions -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "resource", "tags"),
    [
        (
            BUCKET_EXEMPT,
            "ml-training-data",
            {"mlwarden:exempt": "all", "mlwarden:exempt-reason": "needed for the demo"},
        ),
        (
            NOTEBOOK_TAGGED,
            "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/examplenotebook",
            {
                "mlwarden:exempt": "sagemaker-notebook-direct-internet+sagemaker-notebook-root-access",
                "mlwarden:exempt-until": "2099-01-01",
            },
        ),
        (
            NOTEBOOK_CREATED_EXEMPT,
            "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/exemptnotebook",
            {"mlwarden:exempt": "all"},
        ),
        (SECURITY_GROUP, "sg-0123456789abcdef0", {"mlwarden:exempt": "ec2-security-group-open-ingress"}),
        (
            KMS_KEY,
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            {"mlwarden:exempt": "kms-key-rotation+kms-key-deletion"},
        ),
        (
            IAM_ROLE,
            "sagemaker-execution",
            {"mlwarden:exempt": "iam-admin-policy-attached", "mlwarden:exempt-reason": "temporary"},
        ),
        (
            LAMBDA_MAP,
            "arn:aws:lambda:us-east-1:123456789012:function:inference-preprocess",
            {"mlwarden:exempt": "inspector-critical-finding"},
        ),
        (
            AGENTCORE_GATEWAY,
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/tools-gw-0a1b2c3d4e",
            {"mlwarden:exempt": "bedrock-agentcore-gateway-security", "mlwarden:exempt-reason": "public demo gateway"},
        ),
        # Created already exempt: the tags ride in the create call (CreateBucketConfiguration.Tags for S3)
        (BUCKET_CREATED_EXEMPT, "ml-exempt-scratch", {"mlwarden:exempt": "all"}),
        (
            FEATURE_GROUP_CREATED_EXEMPT,
            "arn:aws:sagemaker:us-east-1:123456789012:feature-group/customer-features",
            {"mlwarden:exempt": "sagemaker-feature-group-kms"},
        ),
    ],
)
def test_attack_resource_exempted_by_tag_is_reported_whatever_the_tag_shape(name, resource, tags) -> None:
    kind, (report,) = watch.reports_for(event(name), FakeSsm({}), NOW)
    assert kind == tamper.KIND_EXEMPTION
    assert report.target == resource
    assert report.tags == tags
    assert report.value == tags["mlwarden:exempt"]
    body = report.body()
    assert body["resource"] == resource and body["kind"] == "exemption"
    assert report.subject().startswith(f"[mlwarden] mlwarden:exempt={tags['mlwarden:exempt'][:33]}")
    assert len(report.subject()) <= 100


def test_tag_change_without_mlwarden_keys_reports_nothing() -> None:
    ssm = FakeSsm({})
    assert watch.reports_for(event(BUCKET_OTHER_TAGS), ssm, NOW) == (tamper.KIND_EXEMPTION, [])
    assert ssm.asked == []


def test_exemption_tags_found_in_every_service_shape() -> None:
    shapes = [
        {"Tagging": {"TagSet": {"Tag": {"Key": "mlwarden:exempt", "Value": "all"}}}},  # S3, one tag
        {"tagSet": {"items": [{"key": "mlwarden:exempt", "value": "all"}]}},  # EC2 CreateTags
        {
            "tagSpecificationSet": {
                "items": [{"resourceType": "security-group", "tags": [{"key": "mlwarden:exempt", "value": "all"}]}]
            }
        },  # noqa: E501
        {"tagsList": [{"key": "mlwarden:exempt", "value": "all"}]},  # CloudTrail AddTags
        {"tags": [{"TagKey": "mlwarden:exempt", "TagValue": "all"}]},
        {"tags": {"mlwarden:exempt": "all"}},  # maps
        {"Tags": [{"Key": "MLWARDEN:EXEMPT", "Value": "all"}]},  # case is no escape
    ]
    for shape in shapes:
        assert list(tamper.exemption_tags(shape).values()) == ["all"], shape
    assert tamper.exemption_tags({"tags": [{"key": "mlwarden:quarantined", "value": "x"}]}) == {}


# -- control: mlwarden's own EventBridge rules, schedules and Config rules ------------------------------------
class FakeConfig:
    """describe_config_rules pages answering ``rules``, or raising ``error``."""

    def __init__(self, rules: list[dict[str, Any]], error: Exception | None = None) -> None:
        self.rules, self.error, self.asked = rules, error, 0

    def get_paginator(self, name: str) -> Any:
        assert name == "describe_config_rules"
        fake = self

        class Paginator:
            def paginate(self) -> Any:
                fake.asked += 1
                if fake.error is not None:
                    raise fake.error
                for start in range(0, len(fake.rules), 2):  # two per page: the search reads every page
                    yield {"ConfigRules": fake.rules[start : start + 2]}

        return Paginator()


MLWARDEN_CONFIG_RULE = {
    "ConfigRuleName": "mlwarden-kms-key-rotation",
    "ConfigRuleArn": "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc123",
    "ConfigRuleId": "config-rule-abc123",
    "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": "arn:aws:lambda:us-east-1:1:function:mlwarden-x"},
}
OTHER_CONFIG_RULES = [
    {"ConfigRuleName": f"team-{n}", "ConfigRuleArn": f"arn:aws:config:us-east-1:1:config-rule/config-rule-t{n}"}
    for n in range(3)
]


@pytest.mark.parametrize(
    ("name", "subject", "resource_kind", "changes", "meaning"),
    [
        (
            RULE_DISABLED,
            "[mlwarden] EventBridge rule mlwarden-s3-bucket-public-access disabled by role/PlatformOps",
            "EventBridge rule",
            {},
            "no longer reach mlwarden",
        ),
        (
            TARGETS_REMOVED,
            "[mlwarden] EventBridge rule mlwarden-iam-admin-policy-attached lost its targets by user/mallory",
            "EventBridge rule",
            {"targets removed": "RuleFunction"},
            "no longer reach mlwarden's function",
        ),
        (
            WATCH_RULE_DISABLED,
            "[mlwarden] EventBridge rule mlwarden-tamper-watch-control replaced by role/PlatformOps",
            "EventBridge rule",
            {"state": "DISABLED", "event pattern": '{"source":["aws.none"]}'},
            "the tamper watch's own rule",
        ),
        (
            SCHEDULE_DELETED,
            "[mlwarden] schedule mlwarden-bedrock-agentcore-memory-kms deleted by role/PlatformOps",
            "schedule",
            {"group": "default"},
            "periodic sweep no longer runs",
        ),
        (
            SCHEDULE_DISABLED,
            "[mlwarden] schedule mlwarden-sagemaker-model-approval replaced by role/PlatformOps",
            "schedule",
            {"state": "DISABLED", "schedule": "rate(24 hours)"},
            "check its state and target",
        ),
        (
            CONFIG_RULE_DELETED,
            "[mlwarden] Config rule mlwarden-sagemaker-notebook-kms deleted by user/mallory",
            "Config rule",
            {},
            "no longer evaluates",
        ),
        (
            CONFIG_RULE_NARROWED,
            "[mlwarden] Config rule mlwarden-kms-key-rotation replaced by role/PlatformOps",
            "Config rule",
            {"state": "ACTIVE (the default)", "scope": "AWS::KMS::Alias"},
            "check its state, scope and source",
        ),
    ],
)
def test_attack_rule_silenced_through_its_triggers_is_reported_naming_what_changed(
    name: str, subject: str, resource_kind: str, changes: dict[str, str], meaning: str
) -> None:
    # Given someone changed one of mlwarden's EventBridge rules, schedules or Config rules (no SSM switch touched)
    ssm, config = FakeSsm({}), FakeConfig([])
    # When the watch reads the CloudTrail call
    kind, (report,) = watch.reports_for(event(name), ssm, NOW, config)
    # Then it reports what was changed, how, and by whom, without reading anything
    assert kind == tamper.KIND_CONTROL and ssm.asked == [] and config.asked == 0
    assert report.subject() == subject and len(subject) <= 100
    body = report.body()
    assert body["kind"] == "control" and body["resource_kind"] == resource_kind
    assert body["resource"] == subject.split(f"{resource_kind} ", 1)[1].split(" ", 1)[0]
    assert changes.items() <= body["changes"].items()
    assert meaning in body["summary"] and "redeploy mlwarden" in body["summary"]
    assert body["event_id"] == load_event(HANDWRITTEN + name)["eventID"]


def test_other_teams_rules_are_not_reported_even_if_delivered() -> None:
    # The function re-checks the name: a pattern that ever let another rule through would not make an alarm
    assert watch.reports_for(event(OTHER_RULE_DISABLED), FakeSsm({}), NOW, FakeConfig([])) == (
        tamper.KIND_CONTROL,
        [],
    )


def test_attack_config_rule_changed_by_arn_alone_is_resolved_and_reported_by_name() -> None:
    # Given PutConfigRule named mlwarden's rule by ARN only (its ARN carries no part of its name)
    config = FakeConfig([*OTHER_CONFIG_RULES, MLWARDEN_CONFIG_RULE])
    # When the watch reads it, it asks AWS Config which rule that is (reading every page)
    _, (report,) = watch.reports_for(event(CONFIG_RULE_BY_ARN), FakeSsm({}), NOW, config)
    # Then the alarm names the rule and how the call named it
    assert config.asked == 1
    assert report.target == "mlwarden-kms-key-rotation"
    assert report.body()["named_by"] == MLWARDEN_CONFIG_RULE["ConfigRuleArn"]
    assert report.subject().startswith("[mlwarden] Config rule mlwarden-kms-key-rotation replaced by ")


def test_config_rule_id_naming_a_rule_that_runs_an_mlwarden_function_is_mlwardens() -> None:
    renamed = {**MLWARDEN_CONFIG_RULE, "ConfigRuleName": "innocent-looking"}
    by_id = event(CONFIG_RULE_BY_ARN, requestParameters={"configRule": {"configRuleId": "config-rule-abc123"}})
    _, (report,) = watch.reports_for(by_id, FakeSsm({}), NOW, FakeConfig([renamed]))
    assert report.target == "innocent-looking"


def test_config_rule_named_by_arn_that_is_another_teams_is_dropped() -> None:
    other = {**OTHER_CONFIG_RULES[0], "ConfigRuleArn": MLWARDEN_CONFIG_RULE["ConfigRuleArn"]}
    assert watch.reports_for(event(CONFIG_RULE_BY_ARN), FakeSsm({}), NOW, FakeConfig([other])) == (
        tamper.KIND_CONTROL,
        [],
    )


@pytest.mark.parametrize(
    ("config", "note"),
    [
        (FakeConfig(OTHER_CONFIG_RULES), "no Config rule is"),
        (
            FakeConfig([], ClientError({"Error": {"Code": "AccessDeniedException", "Message": ""}}, "Describe")),
            "could not be read (AccessDeniedException)",
        ),
    ],
    ids=["gone", "unreadable"],
)
def test_attack_config_rule_that_cannot_be_resolved_is_reported_as_possibly_mlwardens(config, note) -> None:
    _, (report,) = watch.reports_for(event(CONFIG_RULE_BY_ARN), FakeSsm({}), NOW, config)
    assert report.target == MLWARDEN_CONFIG_RULE["ConfigRuleArn"] and note in report.value_note


def test_throttled_config_read_is_retried_not_guessed() -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": ""}}, "DescribeConfigRules")
    with pytest.raises(ClientError):
        watch.reports_for(event(CONFIG_RULE_BY_ARN), FakeSsm({}), NOW, FakeConfig([], throttled))


# -- hostile values ---------------------------------------------------------------------------------------
def test_attack_control_characters_in_caller_values_are_stripped_from_subject_and_body() -> None:
    hostile = "evil\n[mlwarden] all clear\r\x1b[2J\u202e\u2028"
    delivered = event(
        IAM_ROLE,
        userAgent=hostile,
        userIdentity__arn=f"arn:aws:iam::123456789012:user/{hostile}",
        requestParameters__tags=[{"key": "mlwarden:exempt", "value": hostile}],
    )
    _, (report,) = watch.reports_for(delivered, FakeSsm({}), NOW)
    subject = report.subject()
    assert all(32 <= ord(ch) < 127 for ch in subject) and len(subject) <= 100
    message = report.message()
    body = json.loads(message)
    for value in (body["user_agent"], body["caller_arn"], body["tags"]["mlwarden:exempt"], body["summary"]):
        assert not any(ch in value for ch in "\n\r\x1b\u202e\u2028"), value
    assert body["user_agent"] == "evil[mlwarden] all clear[2J"


def test_attack_braces_in_tag_values_are_text_not_templates() -> None:
    delivered = event(IAM_ROLE, requestParameters__tags=[{"key": "mlwarden:exempt", "value": "{target}{0}{x"}])
    _, (report,) = watch.reports_for(delivered, FakeSsm({}), NOW)
    assert report.subject() == "[mlwarden] mlwarden:exempt={target}{0}{x set on sagemaker-execution by user/mallory"
    assert "{target}{0}{x" in report.summary()


def test_long_values_are_capped() -> None:
    delivered = event(IAM_ROLE, requestParameters__tags=[{"key": "mlwarden:exempt", "value": "a" * 5000}])
    _, (report,) = watch.reports_for(delivered, FakeSsm({}), NOW)
    assert len(report.tags["mlwarden:exempt"]) <= 256
    assert len(report.subject()) <= 100


def test_unknown_or_malformed_input_is_no_report() -> None:
    assert watch.reports_for({"source": "aws.ssm", "detail-type": "x", "detail": {}}, FakeSsm({}), NOW) == (None, [])
    weird = event(MODE_OFF, requestParameters="not an object", userIdentity=["x"])
    assert watch.reports_for(weird, FakeSsm({}), NOW) == (tamper.KIND_SWITCH, [])


# ----------------------------------------------------------------------------- organization: member accounts
MEMBER = "210987654321"
ROLE_DETACHED = "cloudtrail-iam-AttachRolePolicy-AdministratorAccess.json"  # made a DetachRolePolicy below


def member_event(name: str, **changes: Any) -> dict[str, Any]:
    """A call made in a member account, as the central bus delivers it (the record names the member)."""
    return as_cloudtrail_event(load_event(HANDWRITTEN + name), recipientAccountId=MEMBER, **changes)


def member_keys(delivered: dict[str, Any]) -> set[str]:
    return {key for key, pattern in tamper.member_patterns().items() if matches(pattern, delivered)}


def test_attack_in_a_member_account_exemption_tags_and_disabled_forwarding_rules_are_forwarded() -> None:
    assert member_keys(member_event(BUCKET_EXEMPT)) & {"member-exemption-1", "member-exemption-2"}
    assert member_keys(member_event(RULE_DISABLED)) == {"member-control"}
    assert member_keys(member_event(OTHER_RULE_DISABLED)) == set()
    # the watch's own control forwarding rule, disabled: its own change is matched by the exemption rule
    disabled = member_event(RULE_DISABLED, requestParameters__name=tamper.rule_name("member-control"))
    assert member_keys(disabled) & {"member-exemption-1", "member-exemption-2"}
    # switches, schedules and Config rules live in the central account only
    assert member_keys(member_event(MODE_OFF)) == member_keys(member_event(SCHEDULE_DELETED)) == set()


@pytest.mark.parametrize(
    ("event_name", "role"),
    [
        ("DetachRolePolicy", "mlwarden-member-s3-bucket-public-access"),
        ("DeleteRole", "mlwarden-member-iam-admin-policy-attached"),
        ("UpdateAssumeRolePolicy", "mlwarden-member-s3-bucket-public-access"),
        ("PutRolePermissionsBoundary", "mlwarden-forwarder-eu-west-1"),
        ("DeleteRolePolicy", "mlwarden-forwarder-us-east-1"),
    ],
)
def test_attack_member_roles_detached_deleted_or_edited_are_forwarded_from_us_east_1(event_name, role) -> None:
    delivered = member_event(ROLE_DETACHED, eventName=event_name, requestParameters__roleName=role)
    assert member_keys(delivered) == {"member-role"}
    assert tamper.kind_of(delivered) == tamper.KIND_CONTROL
    report = tamper.control_report(delivered)
    assert report is not None and (report.resource_kind, report.target) == ("IAM role", role)


@pytest.mark.parametrize("role", ["sagemaker-execution", "mlwarden-memberx", "x-mlwarden-member-a"])
def test_other_roles_and_failed_calls_are_not_forwarded(role) -> None:
    assert member_keys(member_event(ROLE_DETACHED, requestParameters__roleName=role)) == set()
    failed = member_event(ROLE_DETACHED, requestParameters__roleName="mlwarden-member-a", errorCode="AccessDenied")
    assert member_keys(failed) == set()


def test_member_patterns_never_mix_iam_with_regional_sources_and_fit_eventbridge() -> None:
    for key, pattern in tamper.member_patterns().items():
        sources = {s for alternative in pattern.get("$or", [pattern]) for s in alternative["source"]}
        assert sources == {"aws.iam"} if key.startswith("member-role") else "aws.iam" not in sources, key
        assert len(json.dumps(pattern)) <= 2048 and '"wildcard"' not in json.dumps(pattern), key


def test_a_member_accounts_change_is_reported_naming_the_account() -> None:
    delivered = member_event(
        ROLE_DETACHED,
        eventName="DetachRolePolicy",
        requestParameters__roleName="mlwarden-member-s3-bucket-public-access",
        requestParameters__policyArn="arn:aws:iam::210987654321:policy/x",
    )
    report = tamper.control_report(delivered)
    assert report is not None
    tamper.mark_member(report, "123456789012")
    subject = report.subject()
    assert subject.startswith(f"[mlwarden] {MEMBER}: IAM role ") and subject.endswith("lost a policy by user/Alice")
    assert report.summary().startswith(f"In member account {MEMBER} (us-east-1): ")
    body = report.body()
    assert body["account"] == MEMBER and body["member_account"] is True
    assert body["changes"]["policy"] == "arn:aws:iam::210987654321:policy/x"
    assert "StackSet" in body["value_note"]
    # the watch's own account: as before
    same = tamper.control_report(member_event(RULE_DISABLED))
    assert same is not None
    tamper.mark_member(same, MEMBER)
    assert not same.member and not same.subject().startswith(f"[mlwarden] {MEMBER}")
