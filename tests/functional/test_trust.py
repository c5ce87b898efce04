"""Trust under attack (issue 9): the detection bypasses and silent paths, each shown closed.

Every test is named after the attack or failure it stops, and fails on the code before the fix.
"""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from botocore.exceptions import ClientError

from mlwarden.core.errors import AlertNotDelivered
from mlwarden.core.safety import read_history
from tests.conftest import EXEMPT_UNTIL
from tests.functional.test_iam_admin_policy_attached import (
    ADMIN,
    attach,
    attached,
    principal,
)
from tests.functional.test_safety import (
    AUDIT,
    IDEMPOTENCY,
    RULE,
    algorithm,
    event,
    sse_s3,
)

ACCOUNT = "123456789012"
OWN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Mlwarden-RuleS3BucketKmsEncryptionRole-1A2B"


def as_session(evt: dict, role_arn: str, session: str) -> dict:
    role = role_arn.rsplit("/", 1)[-1]
    evt["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "userName": role}},
    }
    return evt


def puts(harness) -> int:
    return harness.clients.operations("s3").count("PutBucketEncryption")


# ----------------------------------------------------------------------------- 1.1 loop guard by role
def test_attack_session_named_mlwarden_x_is_judged_and_fixed(aws, harness):
    aws.client("s3").create_bucket(Bucket="sneaky")
    harness.set_mode(RULE, "remediate")
    evt = as_session(event("sneaky"), f"arn:aws:iam::{ACCOUNT}:role/Admin", "mlwarden-x")
    run = harness.invoke(RULE, evt, own_role_arn=OWN_ROLE)
    assert run.decision["action"] == "remediated"
    assert algorithm(aws, "sneaky") == "aws:kms"


def test_only_the_rules_own_role_is_ignored_whatever_its_session_name(aws, harness):
    aws.client("s3").create_bucket(Bucket="looped")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, as_session(event("looped"), OWN_ROLE, "any-name"), own_role_arn=OWN_ROLE)
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "loop guard" in run.decision["reason"]
    assert run.alerts == [] and algorithm(aws, "looped") is None
    assert [c for c in harness.clients.calls if c.service == "s3"] == []  # not even read


# ---------------------------------------------------------------------------- 1.2 exactly once, not blind
def test_attack_violation_redone_after_a_fix_inside_the_window_is_fixed_again(aws, harness, tables):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="undone")
    harness.set_mode(RULE, "remediate")
    kwargs = {"idempotency_table": IDEMPOTENCY, "audit_table": AUDIT}
    first = harness.invoke(RULE, event("undone", eventID="e1"), **kwargs)
    assert first.decision["action"] == "remediated" and algorithm(aws, "undone") == "aws:kms"
    # a minute later the attacker removes the encryption again: a different event about the same bucket
    s3.delete_bucket_encryption(Bucket="undone")
    second = harness.invoke(RULE, event("undone", eventID="e2", eventName="DeleteBucketEncryption"), **kwargs)
    assert second.decision["action"] == "remediated"
    assert algorithm(aws, "undone") == "aws:kms"
    assert len(first.alerts) == 1 and len(second.alerts) == 1
    assert puts(harness) == 2
    # and both fixes count toward the flapping limit
    counters = tables.scan(
        TableName=AUDIT, FilterExpression="begins_with(sk, :c)", ExpressionAttributeValues={":c": {"S": "counter#"}}
    )["Items"]
    assert [int(c["remediations"]["N"]) for c in counters] == [2]


def test_same_event_delivered_twice_acts_and_alerts_once(aws, harness, tables):
    aws.client("s3").create_bucket(Bucket="twice")
    harness.set_mode(RULE, "remediate")
    same = event("twice", eventID="same")
    runs = [harness.invoke(RULE, same, idempotency_table=IDEMPOTENCY) for _ in range(2)]
    assert [r.decision["action"] for r in runs] == ["remediated", "none"]
    assert "the same event was delivered again" in runs[1].decision["reason"]
    assert sum(len(r.alerts) for r in runs) == 1 and puts(harness) == 1


def test_burst_of_distinct_events_about_one_unchanged_violation_alerts_once_in_notify_mode(aws, harness, tables):
    aws.client("s3").create_bucket(Bucket="noisy")
    runs = [harness.invoke(RULE, event("noisy", eventID=f"b{i}"), idempotency_table=IDEMPOTENCY) for i in range(3)]
    assert [r.decision["action"] for r in runs] == ["notified", "none", "none"]
    assert sum(len(r.alerts) for r in runs) == 1
    assert "unchanged violation was already alerted" in runs[2].decision["reason"]


def test_a_different_violation_of_the_same_resource_alerts_again_in_notify_mode(aws, harness, tables):
    aws.client("s3").create_bucket(Bucket="changing")
    first = harness.invoke(RULE, event("changing", eventID="c1"), idempotency_table=IDEMPOTENCY)
    sse_s3(aws, "changing")  # now SSE-S3 instead of nothing: a different violating state
    second = harness.invoke(RULE, event("changing", eventID="c2"), idempotency_table=IDEMPOTENCY)
    assert [first.decision["action"], second.decision["action"]] == ["notified", "notified"]
    assert len(first.alerts) == len(second.alerts) == 1


# ----------------------------------------------------------------------------- 1.3 other accounts
def test_attack_security_hub_finding_about_another_accounts_role_leaves_the_local_namesake_alone(
    aws_managed_policies,
    aws,
    harness,
):
    rule = "iam-admin-policy-attached"
    principal(aws, "role", "break-glass")
    attach(aws, "role", "break-glass")
    harness.set_mode(rule, "remediate")
    member = "999999999999"
    finding = {
        "SchemaVersion": "2018-10-08",
        "Id": "f-1",
        "GeneratorId": "security-control/IAM.1",
        "AwsAccountId": member,
        "Compliance": {"Status": "FAILED", "SecurityControlId": "IAM.1"},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
        "Resources": [{"Type": "AwsIamRole", "Id": f"arn:aws:iam::{member}:role/break-glass", "Region": "us-east-1"}],
    }
    evt = {
        "version": "0",
        "id": "sh-1",
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": ACCOUNT,
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"findings": [finding]},
    }
    run = harness.invoke(rule, evt, account=ACCOUNT)
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "another account's resource (999999999999): not handled by this deployment" in run.decision["reason"]
    assert attached(aws, "role", "break-glass") == [ADMIN]
    assert run.alerts == []
    assert harness.clients.operations("iam") == []  # the local namesake is not even read


# ----------------------------------------------------------------------------- 1.4 exemptions are visible
def test_attack_self_service_exemption_is_reported_once_per_resource_and_exemption(aws, harness, tables):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="mine")
    tags = {"mlwarden:exempt": "all", "mlwarden:exempt-reason": "trust me", "mlwarden:exempt-until": EXEMPT_UNTIL}
    s3.put_bucket_tagging(Bucket="mine", Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
    harness.set_mode(RULE, "remediate")
    first = harness.invoke(RULE, event("mine", eventID="x1"), idempotency_table=IDEMPOTENCY)
    again = harness.invoke(RULE, event("mine", eventID="x2"), idempotency_table=IDEMPOTENCY)
    assert first.decision["action"] == again.decision["action"] == "exempt"
    (alert,) = first.alerts
    assert alert["attributes"]["status"] == "exempt" and alert["attributes"]["severity"] == "LOW"
    assert "trust me" in alert["body"]["reason"] and EXEMPT_UNTIL in alert["body"]["reason"]
    assert alert["body"]["details"]["rule_severity"] == "HIGH"
    assert again.alerts == []
    assert algorithm(aws, "mine") is None
    # a changed exemption is a new one: reported again
    s3.put_bucket_tagging(
        Bucket="mine",
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in {**tags, "mlwarden:exempt-reason": "new"}.items()]},
    )
    third = harness.invoke(RULE, event("mine", eventID="x3"), idempotency_table=IDEMPOTENCY)
    assert len(third.alerts) == 1


# ----------------------------------------------------------------------------- 1.5 the switches
@pytest.mark.parametrize("value", ["true", "1", "enabled", "ON", "Off", "yes"])
def test_attack_kill_switch_any_value_but_exactly_off_stops_remediation(aws, harness, value):
    aws.client("s3").create_bucket(Bucket="held")
    harness.set_mode(RULE, "remediate")
    harness.kill_switch(value)
    run = harness.invoke(RULE, event("held"))
    assert run.decision["action"] == "notified"
    assert "kill switch is on" in run.decision["reason"]
    assert algorithm(aws, "held") is None


def test_kill_switch_exactly_off_lets_remediation_run(aws, harness):
    aws.client("s3").create_bucket(Bucket="free")
    harness.set_mode(RULE, "remediate")
    harness.kill_switch("off")
    assert harness.invoke(RULE, event("free")).decision["action"] == "remediated"


def test_violations_skipped_because_the_rule_is_off_are_counted(aws, harness, capsys):
    aws.client("s3").create_bucket(Bucket="unheard")
    harness.set_mode(RULE, "off")
    run = harness.invoke(RULE, event("unheard"))
    assert run.alerts == [] and "rule is off" in run.decision["reason"]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert any(m.get("SkippedOff") == [1.0] for m in emitted)


# ----------------------------------------------------------------------------- 3. nothing lost
def test_failed_alert_after_a_fix_is_audited_first_and_retried_as_an_alert(aws, harness, tables, capsys):
    aws.client("s3").create_bucket(Bucket="fixed-quietly")
    harness.set_mode(RULE, "remediate")
    same = event("fixed-quietly", eventID="once")
    kwargs = {"idempotency_table": IDEMPOTENCY, "audit_table": AUDIT}
    harness.clients.fail("sns", "Publish", "KMSDisabledException", "topic key is disabled")
    with pytest.raises(AlertNotDelivered):
        harness.invoke(RULE, same, **kwargs)  # the Lambda retries the event; the DLQ keeps it if all fail
    # the change is on record before anyone was told
    (item,) = read_history(tables, AUDIT, rule_id=RULE)
    assert item["action"] == "remediated" and algorithm(aws, "fixed-quietly") == "aws:kms"
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert any(m.get("AlertFailures") == [1.0] and "rule_id" not in m for m in metrics), "stack-wide alarm metric"
    # the retry (same event) finds the resource compliant, but sends the stored alert instead of a new verdict
    harness.clients.clear()
    retry = harness.invoke(RULE, same, **kwargs)
    (alert,) = retry.alerts
    assert alert["attributes"]["status"] == "remediated"
    assert retry.decision["action"] == "remediated"
    assert puts(harness) == 0  # not decided or fixed again
    assert len(read_history(tables, AUDIT, rule_id=RULE)) == 1
    # and a third delivery of the same event is a plain duplicate
    assert harness.invoke(RULE, same, **kwargs).alerts == []


def test_idempotency_table_unreachable_alerts_that_nothing_was_fixed(aws, harness):
    aws.client("s3").create_bucket(Bucket="unguarded")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event("unguarded"), idempotency_table="no-such-table")
    assert run.decision["action"] == "notified"
    assert "could not ensure exactly-once" in run.decision["reason"] and "not remediated" in run.decision["reason"]
    (alert,) = run.alerts
    assert "could not ensure exactly-once" in alert["body"]["reason"]
    assert algorithm(aws, "unguarded") is None  # fails closed: nothing changed


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "RequestLimitExceeded", "TransactionConflictException"]
)
def test_dynamodb_throttling_is_retried_not_reported_as_a_failure(aws, harness, tables, code):
    aws.client("s3").create_bucket(Bucket="throttled")
    harness.set_mode(RULE, "remediate")
    harness.clients.fail("dynamodb", "UpdateItem", code)  # the flapping counter
    with pytest.raises(ClientError):
        harness.invoke(RULE, event("throttled"), audit_table=AUDIT)
    assert algorithm(aws, "throttled") is None


def test_dynamodb_throttling_of_the_idempotency_table_is_retried(aws, harness, tables):
    aws.client("s3").create_bucket(Bucket="busy")
    harness.set_mode(RULE, "remediate")
    harness.clients.fail("dynamodb", "PutItem", "ProvisionedThroughputExceededException")
    with pytest.raises(IdempotencyPersistenceLayerError):
        harness.invoke(RULE, event("busy"), idempotency_table=IDEMPOTENCY)
    assert algorithm(aws, "busy") is None
