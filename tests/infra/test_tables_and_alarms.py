"""What makes remediation safe to leave on, deployed: the idempotency and audit tables, and per-rule alarms."""

from __future__ import annotations

from typing import Any

import pytest

from mlwarden.core.registry import rule_ids
from mlwarden_cdk.watch import WATCH_ALARM_SIGNALS
from tests.infra.cfn import Synth

pytestmark = pytest.mark.slow

FIVE_MINUTES = 300


def encrypted_with_the_stack_key_and_recoverable(synth: Synth, table: str) -> None:
    key, _ = synth.only("AWS::KMS::Key")
    props = synth.props(table)
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": [key, "Arn"]},
    }
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_idempotency_table_fits_powertools_idempotency_and_expires_its_records(default: Synth) -> None:
    # Given the table the IdempotencyTableName output names
    table = default.output_ref("IdempotencyTableName")
    props = default.props(table)
    # Then Powertools' DynamoDB persistence layer finds its default key and expiry attributes
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert "GlobalSecondaryIndexes" not in props
    encrypted_with_the_stack_key_and_recoverable(default, table)
    # And its transient records go with the stack
    assert default.template["Resources"][table]["DeletionPolicy"] == "Delete"


def test_audit_table_is_keyed_by_rule_indexed_by_resource_expiring_and_kept(default: Synth) -> None:
    # Given the table the AuditTableName output names
    table = default.output_ref("AuditTableName")
    props = default.props(table)
    # Then decisions are read by rule (rule_id + sk) and by resource (the by-resource index), and expire
    assert props["KeySchema"] == [
        {"AttributeName": "rule_id", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "resource_id", "AttributeType": "S"},
        {"AttributeName": "rule_id", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-resource",
            "KeySchema": [
                {"AttributeName": "resource_id", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    encrypted_with_the_stack_key_and_recoverable(default, table)
    # And the audit trail outlives the stack
    resource = default.template["Resources"][table]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


def test_the_stack_has_exactly_the_two_tables(default: Synth) -> None:
    tables = {logical_id for logical_id, _ in default.resources("AWS::DynamoDB::Table")}
    assert tables == {default.output_ref("IdempotencyTableName"), default.output_ref("AuditTableName")}


def expected_alarms(synth: Synth, rule_id: str) -> dict[str, tuple[str, dict[str, Any], str, str]]:
    """signal -> (namespace, dimensions, metric name, statistic) of the alarm the rule must have."""
    function = {"FunctionName": {"Ref": synth.function_of(rule_id)}}
    queue = {"QueueName": {"Fn::GetAtt": [synth.dead_letter_queue_of(rule_id), "QueueName"]}}
    # The handler's Powertools metrics (EMF): namespace mlwarden, dimensions rule_id and service
    emf = {"rule_id": rule_id, "service": "mlwarden"}
    return {
        "dead-lettered events": ("AWS/SQS", queue, "ApproximateNumberOfMessagesVisible", "Maximum"),
        "function errors": ("AWS/Lambda", function, "Errors", "Sum"),
        "function throttles": ("AWS/Lambda", function, "Throttles", "Sum"),
        "failed decisions": ("mlwarden", emf, "Failures", "Sum"),
        "flapping resources": ("mlwarden", emf, "Flapping", "Sum"),
    }


@pytest.mark.parametrize("rule_id", rule_ids())
@pytest.mark.parametrize(
    "signal",
    ["dead-lettered events", "function errors", "function throttles", "failed decisions", "flapping resources"],
)
def test_each_rule_has_an_alarm_per_failure_signal_that_notifies_the_alarm_topic(
    default: Synth, rule_id: str, signal: str
) -> None:
    # Given the rule's metric for the signal
    namespace, dimensions, metric_name, statistic = expected_alarms(default, rule_id)[signal]
    # When looking for the alarms on it
    (alarm,) = [a for a in default.alarms_on(namespace, dimensions) if a["MetricName"] == metric_name]
    # Then one alarm fires at the first occurrence in 5 minutes, stays quiet without data, and notifies
    # the alarm topic
    assert alarm["Statistic"] == statistic
    assert alarm["Period"] == FIVE_MINUTES
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": default.output_ref("AlarmTopicArn")}]
    assert alarm["AlarmName"].startswith(f"mlwarden-{rule_id}-")


def test_a_failed_alert_of_any_rule_raises_one_stack_wide_alarm(default: Synth) -> None:
    (alarm,) = [a for a in default.alarms_on("mlwarden", {"service": "mlwarden"}) if a["MetricName"] == "AlertFailures"]
    assert alarm["AlarmName"] == "mlwarden-alert-failures"
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == FIVE_MINUTES and alarm["Threshold"] == 1
    assert alarm["AlarmActions"] == [{"Ref": default.output_ref("AlarmTopicArn")}]


def test_every_alarm_is_one_of_a_rules_five_or_a_stack_alarm_and_notifies_the_alarm_topic(default: Synth) -> None:
    alarms = [r["Properties"] for _, r in default.resources("AWS::CloudWatch::Alarm")]
    stack_alarms = {"mlwarden-alert-failures"}
    assert stack_alarms <= {a["AlarmName"] for a in alarms}
    # (plus the tamper watch's own: tests/infra/test_tamper_watch.py)
    assert len(alarms) == 5 * len(rule_ids()) + len(stack_alarms) + len(WATCH_ALARM_SIGNALS)
    assert len({a["AlarmName"] for a in alarms}) == len(alarms)
    topic = default.output_ref("AlarmTopicArn")
    assert all(a["AlarmActions"] == [{"Ref": topic}] for a in alarms)
