"""End to end: the tamper watch as the template wires it, on the local account: a rule switched off and a
bucket exempted come out of the ALARM topic naming the caller; a tag without mlwarden keys sends nothing."""

from __future__ import annotations

from mlwarden.core import tamper
from mlwarden.core.settings import mode_parameter_name
from tests.conftest import as_cloudtrail_event, load_event

MODE_OFF = "handwritten/cloudtrail-ssm-PutParameter-rule-mode-off-by-assumed-role.json"
BUCKET_EXEMPT = "handwritten/cloudtrail-s3-PutBucketTagging-mlwarden-exempt-all.json"
BUCKET_OTHER_TAGS = "handwritten/cloudtrail-s3-PutBucketTagging-no-mlwarden-tags.json"
RULE = "iam-admin-policy-attached"


def test_watch_is_wired_from_the_template(deployment):
    assert deployment.watch is not None and deployment.alarm_inbox_url
    assert sorted(map(str, deployment.watch.patterns)) == sorted(map(str, tamper.patterns().values()))
    assert deployment.watch.environment[tamper.ENV_ALARM_TOPIC_ARN].endswith(":mlwarden-alarms")


def test_attack_rule_switched_off_and_bucket_exempted_are_reported_locally(deployment):
    # Given someone switched a rule off and exempted a bucket, and tagged a bucket harmlessly
    deployment.client("ssm").put_parameter(Name=mode_parameter_name(RULE), Value="off", Type="String", Overwrite=True)
    events = [as_cloudtrail_event(load_event(name)) for name in (MODE_OFF, BUCKET_EXEMPT, BUCKET_OTHER_TAGS)]
    # When EventBridge (the template's patterns) delivers their CloudTrail calls to the watch
    deployment.put_events(*events)
    results = deployment.deliver_watch()
    # Then the alarm topic's subscriber got two alarms naming the caller, none for the harmless tag
    assert len(results) == 3
    subjects = sorted(alarm["subject"] for alarm in deployment.alarms())
    assert subjects == [
        "[mlwarden] /mlwarden/rules/iam-admin-policy-attached/mode set to off by role/PlatformOps",
        "[mlwarden] mlwarden:exempt=all set on ml-training-data by role/DataScientist",
    ]
    # And the rule functions received none of these calls
    assert deployment.deliver() == []
