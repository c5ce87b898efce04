"""cloudtrail-logging against the local account: a stopped trail (the real Stratus Red Team StopLogging record),
validation or multi-Region turned off, management events dropped (basic and advanced selectors), KMS removed
(notify only), a deleted trail (CRITICAL, never NOT_APPLICABLE), shadow trails fixed in their home Region,
exemptions, the periodic Config sweep, and a failed call that must not route."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert
from tests.unit.routing import routes

RULE = "cloudtrail-logging"
STOP_SAMPLE = "cloudtrail-other/stratus-cloudtrail-StopLogging.json"
FAILED_UPDATE_SAMPLE = "cloudtrail-other/awsdocs-cloudtrail-UpdateTrail-error-TrailNotFound.json"
UPDATE_EVENT = "handwritten/cloudtrail-cloudtrail-UpdateTrail-log-file-validation-off.json"
SELECTORS_EVENT = "handwritten/cloudtrail-cloudtrail-PutEventSelectors-management-events-off.json"
DELETE_EVENT = "handwritten/cloudtrail-cloudtrail-DeleteTrail.json"
SCHEDULED = "config-invocation/powertools-config-scheduled-notification.json"
STRATUS_TRAIL = "stratus-red-team-ct-stop-trail-buykxbqejv"
DATA_SELECTOR = {
    "ReadWriteType": "All",
    "IncludeManagementEvents": False,
    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::training-data/"]}],
}


def trail(
    aws,
    name: str,
    region: str = "us-east-1",
    *,
    logging: bool = True,
    validation: bool = True,
    multi_region: bool = True,
    kms: bool = True,
) -> str:
    """A trail (compliant unless told otherwise); returns its ARN."""
    s3 = aws.client("s3", region)
    bucket = f"trail-logs-{region}"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)
    ct = aws.client("cloudtrail", region)
    key = {}
    if kms:
        key = {"KmsKeyId": aws.client("kms", region).create_key()["KeyMetadata"]["Arn"]}
    arn = ct.create_trail(
        Name=name,
        S3BucketName=bucket,
        IsMultiRegionTrail=multi_region,
        EnableLogFileValidation=validation,
        **key,
    )["TrailARN"]
    if logging:
        ct.start_logging(Name=name)
    return arn


def is_logging(aws, name: str, region: str = "us-east-1") -> bool:
    return aws.client("cloudtrail", region).get_trail_status(Name=name)["IsLogging"]


def settings(aws, name: str, region: str = "us-east-1") -> dict:
    return aws.client("cloudtrail", region).get_trail(Name=name)["Trail"]


def stop_event(name: str = STRATUS_TRAIL, **changes) -> dict:
    return as_cloudtrail_event(load_event(STOP_SAMPLE), requestParameters__name=name, **changes)


def set_mode(harness, mode: str) -> None:
    harness.set_mode(RULE, mode)


# ------------------------------------------------------------------------------------------ stopped trail
def test_stratus_stop_logging_sample_alerts_on_the_trail_in_the_functions_region(aws, harness):
    # Given the trail Stratus Red Team stopped, in the function's Region (the sample's Region is anonymized)
    trail(aws, STRATUS_TRAIL, logging=False)
    sample = as_cloudtrail_event(load_event(STOP_SAMPLE))
    assert sample["detail"]["awsRegion"] == "apiso-centralnorth-2r"
    # When the real StopLogging record arrives
    run = harness.invoke(RULE, sample)
    # Then the trail is judged in a real Region and reported
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["region"] == "us-east-1"
    assert decision["reason"] == "logging is stopped"
    assert decision["resource_arn"].endswith(f":trail/{STRATUS_TRAIL}")
    assert decision["controls"] == ["CloudTrail.1", "CloudTrail.2", "CloudTrail.4"]
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: {STRATUS_TRAIL} non-compliant"
    assert "StartLogging" in alert["body"]["remediation"]
    assert alert["body"]["before"]["IsLogging"] is False
    # and notify mode changed nothing
    assert not is_logging(aws, STRATUS_TRAIL)


def test_remediate_mode_restarts_logging_and_a_second_delivery_changes_nothing(aws, harness):
    trail(aws, STRATUS_TRAIL, logging=False)
    set_mode(harness, "remediate")
    run = harness.invoke(RULE, stop_event())
    assert run.decision["action"] == "remediated"
    assert is_logging(aws, STRATUS_TRAIL)
    assert run.alerts[0]["body"]["remediation"] == "restarted logging (StartLogging)"
    assert run.alerts[0]["subject"] == f"[HIGH] {RULE}: {STRATUS_TRAIL} remediated"
    # When the same event is delivered again, the trail is already compliant: nothing is called, nothing sent
    again = harness.invoke(RULE, stop_event())
    assert again.decision["compliance"] == "COMPLIANT"
    assert again.alerts == []
    operations = harness.clients.operations("cloudtrail")  # both runs
    assert operations.count("StartLogging") == 1
    assert not {"UpdateTrail", "PutEventSelectors"} & set(operations)


def test_compliant_trail_is_judged_with_two_reads_and_stays_silent(aws, harness):
    trail(aws, STRATUS_TRAIL)
    run = harness.invoke(RULE, stop_event())
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.alerts == []
    # GetTrail + GetTrailStatus: default selectors are not read, and tags only for violations
    assert harness.clients.operations("cloudtrail") == ["GetTrail", "GetTrailStatus"]


def test_trail_that_no_longer_exists_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, stop_event("deleted-since"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


def test_failed_update_trail_sample_reaches_no_cloudtrail_rule():
    assert RULE not in routes(FAILED_UPDATE_SAMPLE)
    assert RULE in routes(STOP_SAMPLE)


# ------------------------------------------------------------------------------- validation, multi-Region
def test_update_trail_turning_validation_and_multi_region_off_is_restored(aws, harness):
    # Given the trail of the UpdateTrail record (us-east-2) with validation off and single-Region
    trail(aws, "myTrail2", "us-east-2", validation=False, multi_region=False)
    set_mode(harness, "remediate")
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(UPDATE_EVENT)))
    decision = run.decision
    assert decision["action"] == "remediated"
    assert decision["reason"] == "log file validation is off; it records only its home Region"
    now = settings(aws, "myTrail2", "us-east-2")
    assert now["LogFileValidationEnabled"] is True
    assert now["IsMultiRegionTrail"] is True
    assert is_logging(aws, "myTrail2", "us-east-2")  # left logging
    alert = run.alerts[0]["body"]
    assert alert["before"]["LogFileValidationEnabled"] is False
    assert alert["after"]["IsMultiRegionTrail"] is True
    assert "EnableLogFileValidation=true" in alert["remediation"]


# ---------------------------------------------------------------------------------------- management events
def test_basic_selectors_without_management_events_are_restored_keeping_data_events(aws, harness):
    trail(aws, "myTrail2", "us-east-2")
    aws.client("cloudtrail", "us-east-2").put_event_selectors(TrailName="myTrail2", EventSelectors=[DATA_SELECTOR])
    set_mode(harness, "remediate")
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(SELECTORS_EVENT)))
    assert run.decision["reason"] == "management events are not logged"
    assert run.decision["action"] == "remediated"
    selectors = aws.client("cloudtrail", "us-east-2").get_event_selectors(TrailName="myTrail2")["EventSelectors"]
    assert selectors == [{**DATA_SELECTOR, "IncludeManagementEvents": True}]
    assert run.alerts[0]["body"]["before"]["ManagementEvents"] == []


def test_advanced_selectors_get_a_management_selector_and_keep_their_data_selectors(aws, harness):
    trail(aws, "myTrail2", "us-east-2")
    data_only = {
        "Name": "S3 training data",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        ],
    }
    aws.client("cloudtrail", "us-east-2").put_event_selectors(TrailName="myTrail2", AdvancedEventSelectors=[data_only])
    set_mode(harness, "remediate")
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(SELECTORS_EVENT)))
    assert run.decision["action"] == "remediated"
    advanced = aws.client("cloudtrail", "us-east-2").get_event_selectors(TrailName="myTrail2")["AdvancedEventSelectors"]
    assert advanced[0]["Name"] == "S3 training data"
    assert advanced[0]["FieldSelectors"][1] == {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}
    assert advanced[1]["FieldSelectors"] == [{"Field": "eventCategory", "Equals": ["Management"]}]


def test_write_only_management_events_found_by_the_sweep_when_selectors_are_custom(aws, harness):
    # A sweep has no PutEventSelectors event: the rule reads selectors because the trail says they are custom
    # (moto does not set HasCustomEventSelectors; AWS does once selectors are put)
    trail(aws, "audit")
    aws.client("cloudtrail").put_event_selectors(
        TrailName="audit", EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]
    )
    harness.clients.patch("cloudtrail", "GetTrail", lambda answer: answer["Trail"].update(HasCustomEventSelectors=True))
    event = load_event(SCHEDULED)
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    assert [(d["resource_id"], d["compliance"], d["reason"]) for d in run.decisions] == [
        ("audit", "NON_COMPLIANT", "read management events are not logged")
    ]


# ----------------------------------------------------------------------------------------------------- KMS
def test_kms_removed_is_notify_only_and_says_which_key_to_set(aws, harness):
    trail(aws, STRATUS_TRAIL, kms=False)
    set_mode(harness, "remediate")
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    run = harness.invoke(RULE, stop_event(), kms_key_arn=key)
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"  # a human must choose a key CloudTrail may use
    assert "log files are not encrypted with a KMS key" in decision["reason"]
    remediation = run.alerts[0]["body"]["remediation"]
    assert f"aws cloudtrail update-trail --name {STRATUS_TRAIL} --kms-key-id" in remediation
    assert key in remediation
    assert "UpdateTrail" not in harness.clients.operations("cloudtrail")
    assert not settings(aws, STRATUS_TRAIL).get("KmsKeyId")


def test_stopped_trail_without_kms_is_restarted_and_still_reported_for_the_key(aws, harness):
    trail(aws, STRATUS_TRAIL, logging=False, kms=False)
    set_mode(harness, "remediate")
    run = harness.invoke(RULE, stop_event())
    assert is_logging(aws, STRATUS_TRAIL)
    assert run.decision["action"] == "notified"
    assert "restarted logging (StartLogging)" in run.decision["reason"]
    assert "a human must set the trail's KMS key" in run.decision["reason"]


# ------------------------------------------------------------------------------------------- deleted trail
def test_deleted_trail_is_critical_and_says_another_trail_still_logs(aws, harness):
    # Given another multi-Region trail, logging from us-east-1, and the DeleteTrail record of myTrail2 (us-east-2)
    trail(aws, "org-audit", "us-east-1")
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(DELETE_EVENT)))
    decision = run.decision
    # Then the deletion is a violation, not a gone resource
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["region"] == "us-east-2"
    assert decision["reason"] == "trail myTrail2 was deleted; 1 other multi-Region trail(s) still logging: org-audit"
    alert = run.alerts[0]
    assert alert["subject"] == f"[CRITICAL] {RULE}: myTrail2 non-compliant"
    assert alert["attributes"]["severity"] == "CRITICAL"
    assert "mlwarden never recreates a deleted trail" in alert["body"]["remediation"]
    assert alert["body"]["before"]["RemainingMultiRegionTrails"][0]["HomeRegion"] == "us-east-1"


def test_deleted_last_trail_says_nothing_is_recorded_and_remediate_mode_only_notifies(aws, harness):
    trail(aws, "regional-only", "us-east-2", multi_region=False)
    set_mode(harness, "remediate")
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(DELETE_EVENT)))
    decision = run.decision
    assert decision["action"] == "notified"
    assert "no other multi-Region trail is logging" in decision["reason"]
    assert run.alerts[0]["attributes"] == {"severity": "CRITICAL", "rule_id": RULE, "status": "notified"}
    assert not {"CreateTrail", "StartLogging"} & set(harness.clients.operations("cloudtrail"))


# -------------------------------------------------------------------------------------------- shadow trails
def test_shadow_trail_is_judged_and_restarted_in_its_home_region(aws, harness):
    # Given a multi-Region trail created in us-east-1, stopped; the event names it from eu-west-1 by name
    trail(aws, "org-wide", "us-east-1", logging=False)
    set_mode(harness, "remediate")
    run = harness.invoke(RULE, stop_event("org-wide", awsRegion="eu-west-1"))
    assert run.decision["action"] == "remediated"
    assert run.decision["resource_arn"] == "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-wide"
    assert run.alerts[0]["body"]["details"] == {"home_region": "us-east-1"}
    assert is_logging(aws, "org-wide", "us-east-1")


def test_trail_named_by_arn_is_judged_in_the_arns_region(aws, harness):
    arn = trail(aws, "by-arn", "us-east-2", logging=False)
    run = harness.invoke(RULE, stop_event(arn, awsRegion="us-east-1"))
    assert run.decision["region"] == "us-east-2"
    assert run.decision["reason"] == "logging is stopped"


# ----------------------------------------------------------------------------------------------- exemption
@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_exempt_trail_is_never_changed(aws, harness, mode):
    arn = trail(aws, STRATUS_TRAIL, logging=False)
    aws.client("cloudtrail").add_tags(
        ResourceId=arn,
        TagsList=[
            {"Key": "mlwarden:exempt", "Value": RULE},
            {"Key": "mlwarden:exempt-reason", "Value": "red-team exercise"},
            {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
        ],
    )
    set_mode(harness, mode)
    run = harness.invoke(RULE, stop_event())
    assert run.decision["action"] == "exempt"
    assert "red-team exercise" in run.decision["reason"]
    assert_exempt_alert(run)
    assert not is_logging(aws, STRATUS_TRAIL)


# ------------------------------------------------------------------------------------------ Config backstop
def test_periodic_sweep_judges_each_trail_once_in_its_home_region(aws, harness):
    # A stopped trail silences the CloudTrail events: the periodic Config evaluation is the backstop
    trail(aws, "stopped-here", "us-east-1", logging=False)
    trail(aws, "fine-here", "us-east-1")
    trail(aws, "elsewhere", "eu-west-1", logging=False)  # multi-Region: a shadow in us-east-1, judged at home
    event = load_event(SCHEDULED)
    event["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, event)
    verdicts = {d["resource_id"]: d["compliance"] for d in run.decisions}
    assert verdicts == {"stopped-here": "NON_COMPLIANT", "fine-here": "COMPLIANT"}
    sent = [c for c in harness.clients.calls if c.operation == "PutEvaluations"]
    evaluations = sent[0].params["Evaluations"]
    assert {e["ComplianceResourceType"] for e in evaluations} == {"AWS::CloudTrail::Trail"}
    assert json.dumps(evaluations, default=str).count("stopped-here") == 1
