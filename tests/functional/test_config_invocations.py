"""AWS Config custom-rule invocations through the Lambda handler (the backstop path): change-triggered,
deleted resources, periodic sweeps, oversized items, other resource types, and what PutEvaluations gets."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from botocore.stub import ANY, Stubber

from tests.conftest import ACCOUNT, REGION, load_event

RULE = "s3-bucket-kms-encryption"
EC2_CHANGE = "config-invocation/powertools-config-change-ec2-instance-real.json"
OVERSIZED = "config-invocation/powertools-config-oversized-change-ec2-instance.json"
SCHEDULED = "config-invocation/powertools-config-scheduled-notification.json"
RULE_ARN = f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-i9y8j9"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def s3_change_invocation(bucket: str, status: str = "OK") -> dict:
    """The real EC2 change invocation, its configuration item turned into one for an S3 bucket."""
    event = load_event(EC2_CHANGE)
    invoking = json.loads(event["invokingEvent"])
    invoking.pop("configurationItemDiff")
    deleted = status.startswith("ResourceDeleted")
    invoking["configurationItem"].update(
        resourceType="AWS::S3::Bucket",
        resourceId=bucket,
        resourceName=bucket,
        ARN=f"arn:aws:s3:::{bucket}",
        awsAccountId=ACCOUNT,
        awsRegion=REGION,
        availabilityZone="Regional",
        configurationItemStatus=status,
        relationships=[],
        tags={},
        configuration=None if deleted else {"name": bucket, "creationDate": "2026-11-25T08:00:00.000Z"},
        supplementaryConfiguration={},
    )
    event.update(
        invokingEvent=json.dumps(invoking),
        resultToken="TESTMODE",
        configRuleArn=RULE_ARN,
        accountId=ACCOUNT,
        ruleParameters="{}",
    )
    return event


def unencrypted_bucket(aws, name: str) -> None:
    aws.client("s3").create_bucket(Bucket=name)


def kms_bucket(aws, name: str, key_id: str = "") -> None:
    default = {"SSEAlgorithm": "aws:kms", **({"KMSMasterKeyID": key_id} if key_id else {})}
    aws.client("s3").create_bucket(Bucket=name)
    aws.client("s3").put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
    )


def evaluations_sent(harness) -> list[dict]:
    calls = [c for c in harness.clients.calls if (c.service, c.operation) == ("config", "PutEvaluations")]
    assert all(c.status == 200 for c in calls), "Config rejected PutEvaluations"
    assert all(c.params["ResultToken"] == "TESTMODE" and c.params["TestMode"] is True for c in calls)
    return [e for c in calls for e in c.params["Evaluations"]]


def test_change_notification_for_a_bucket_is_judged_and_reported_to_config(aws, harness):
    # Given an unencrypted bucket and Config's change notification for it
    unencrypted_bucket(aws, "config-watched")
    # When Config invokes the rule's function
    run = harness.invoke(RULE, s3_change_invocation("config-watched"))
    # Then the bucket is judged on its live state, alerted, and the verdict is put back to Config
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_id"] == "config-watched"
    assert decision["event_id"] == "MyRule"  # the Config rule name stands in for an event id
    assert len(run.alerts) == 1
    assert evaluations_sent(harness) == [
        {
            "ComplianceResourceType": "AWS::S3::Bucket",
            "ComplianceResourceId": "config-watched",
            "ComplianceType": "NON_COMPLIANT",
            "Annotation": "no default encryption; SSE-KMS required",
            "OrderingTimestamp": datetime(2023, 4, 27, 15, 3, 11, 636000, tzinfo=UTC),  # the item's capture time
        }
    ]


def test_change_notification_for_a_compliant_bucket_reports_compliant_without_alert(aws, harness):
    kms_bucket(aws, "already-kms")
    run = harness.invoke(RULE, s3_change_invocation("already-kms"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.alerts == []
    assert [e["ComplianceType"] for e in evaluations_sent(harness)] == ["COMPLIANT"]


def test_deleted_bucket_is_not_applicable_without_reading_it(aws, harness):
    # Even if a bucket of that name exists again and is unencrypted, a ResourceDeleted item is not judged
    unencrypted_bucket(aws, "deleted-bucket")
    run = harness.invoke(RULE, s3_change_invocation("deleted-bucket", status="ResourceDeleted"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["action"] == "none"
    assert harness.clients.operations("s3") == []
    assert run.alerts == []
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in evaluations_sent(harness)] == [
        ("deleted-bucket", "NOT_APPLICABLE")
    ]


def test_scheduled_notification_sweeps_every_bucket_of_the_region(aws, harness):
    # Given three buckets in us-east-1 and one elsewhere
    unencrypted_bucket(aws, "sweep-plain")
    kms_bucket(aws, "sweep-kms")
    aws.client("s3").create_bucket(Bucket="sweep-sse-s3")
    aws.client("s3").put_bucket_encryption(
        Bucket="sweep-sse-s3",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    aws.client("s3", "eu-west-1").create_bucket(
        Bucket="sweep-elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    event = load_event(SCHEDULED)
    assert event["configRuleArn"].split(":")[3] == REGION
    event["resultToken"] = "TESTMODE"
    # When Config's periodic trigger fires
    run = harness.invoke(RULE, event)
    # Then every bucket of the rule's region gets one decision, and only those
    verdicts = {d["resource_id"]: d["compliance"] for d in run.decisions}
    assert verdicts == {
        "sweep-plain": "NON_COMPLIANT",
        "sweep-kms": "COMPLIANT",
        "sweep-sse-s3": "NON_COMPLIANT",
    }
    assert len(run.decisions) == 3
    assert sorted(a["body"]["resource_id"] for a in run.alerts) == ["sweep-plain", "sweep-sse-s3"]
    sent = evaluations_sent(harness)
    assert {e["ComplianceResourceId"]: e["ComplianceType"] for e in sent} == verdicts
    assert all(e["ComplianceResourceType"] == "AWS::S3::Bucket" for e in sent)


def test_oversized_notification_fetches_the_item_from_config_history(aws, harness):
    unencrypted_bucket(aws, "big-item")
    event = load_event(OVERSIZED)
    invoking = json.loads(event["invokingEvent"])
    invoking["configurationItemSummary"].update(
        resourceType="AWS::S3::Bucket",
        resourceId="big-item",
        ARN="arn:aws:s3:::big-item",
        awsRegion=REGION,
        availabilityZone="Regional",
    )
    event.update(invokingEvent=json.dumps(invoking), resultToken="TESTMODE", configRuleArn=RULE_ARN)
    run = harness.invoke(RULE, event)
    # The summary is not enough: the full item comes from Config's history, then the bucket is judged
    history = [c for c in harness.clients.calls if c.operation == "GetResourceConfigHistory"]
    assert [(c.params["resourceType"], c.params["resourceId"], c.status) for c in history] == [
        ("AWS::S3::Bucket", "big-item", 200)
    ]
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["account"] == ACCOUNT
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in evaluations_sent(harness)] == [
        ("big-item", "NON_COMPLIANT")
    ]


def test_real_ec2_invocation_is_not_applicable_to_the_s3_rule(aws, harness):
    # The published invocation, real result token and all; Config must hear NOT_APPLICABLE with that token
    event = load_event(EC2_CHANGE)
    config = harness.clients.client("config", REGION)
    with Stubber(config) as stub:
        stub.add_response(
            "put_evaluations",
            {"FailedEvaluations": []},
            {
                "Evaluations": [
                    {
                        "ComplianceResourceType": "AWS::EC2::Instance",
                        "ComplianceResourceId": "i-042dd005362091826",
                        "ComplianceType": "NOT_APPLICABLE",
                        "Annotation": "AWS::EC2::Instance is not judged by this rule",
                        "OrderingTimestamp": datetime(2023, 4, 27, 15, 3, 11, 636000, tzinfo=UTC),
                    }
                ],
                "ResultToken": event["resultToken"],
                "TestMode": False,
            },
        )
        run = harness.invoke(RULE, event)
        stub.assert_no_pending_responses()
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.decision["resource_type"] == "AWS::EC2::Instance"
    assert harness.clients.operations("ec2") == []
    assert harness.clients.operations("s3") == []
    assert run.alerts == []


def test_put_evaluations_payload_is_what_config_accepts(aws, harness):
    # A reason longer than Config's 256-character annotation limit: a bucket on another, long-named key
    long_key = "arn:aws:kms:us-east-1:123456789012:alias/" + "training-data-key-" * 14
    kms_bucket(aws, "right-key", KEY_ARN)  # created first and first by name: ListBuckets order either way
    kms_bucket(aws, "wrong-key", long_key)
    event = load_event(SCHEDULED)
    expected_reason = (
        f"default encryption uses {long_key} (KMS could not resolve it: NotFoundException; judged on the text "
        f"alone); cdk.json kmsKeyArn requires {KEY_ARN}"
    )
    assert len(expected_reason) > 256
    config = harness.clients.client("config", REGION)
    with Stubber(config) as stub:
        stub.add_response(
            "put_evaluations",
            {"FailedEvaluations": []},
            {
                "Evaluations": [
                    {
                        "ComplianceResourceType": "AWS::S3::Bucket",
                        "ComplianceResourceId": "right-key",
                        "ComplianceType": "COMPLIANT",
                        "Annotation": f"default encryption is aws:kms with {KEY_ARN}",
                        "OrderingTimestamp": datetime(2023, 4, 27, 13, 26, 17, 741000, tzinfo=UTC),
                    },
                    {
                        "ComplianceResourceType": "AWS::S3::Bucket",
                        "ComplianceResourceId": "wrong-key",
                        "ComplianceType": "NON_COMPLIANT",
                        "Annotation": expected_reason[:256],
                        "OrderingTimestamp": ANY,
                    },
                ],
                "ResultToken": event["resultToken"],
                "TestMode": False,
            },
        )
        run = harness.invoke(RULE, event, kms_key_arn=KEY_ARN)
        stub.assert_no_pending_responses()
    wrong = next(d for d in run.decisions if d["resource_id"] == "wrong-key")
    assert wrong["reason"] == expected_reason  # the full reason stays in the decision and the alert
    assert run.alerts[0]["body"]["reason"] == expected_reason
