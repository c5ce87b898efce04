"""s3-account-public-access-block against the local account: no configuration, partial and full
configurations, the S3.1 finding, Config's periodic managed rule, sweeps.

S3 Control puts the account id in front of the endpoint host (``123456789012.s3-control…``), which a moto
server on 127.0.0.1 cannot answer; the ``s3control`` fixture sends the handler's S3 Control calls to the
moto server with the host name S3 Control uses, so the rule reads and writes moto's real state.
"""

from __future__ import annotations

import copy
import json
from urllib.parse import urlsplit, urlunsplit

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT, REGION, as_cloudtrail_event, as_securityhub_event, load_event

RULE = "s3-account-public-access-block"
FULL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
PUT_OFF = "handwritten/cloudtrail-s3-PutAccountPublicAccessBlock-all-off.json"
DELETE = "handwritten/cloudtrail-s3-DeleteAccountPublicAccessBlock.json"


@pytest.fixture
def s3control(aws, harness):
    """The handler's S3 Control client (the same instance the rule gets), pointed at the moto server."""
    client = harness.clients.client("s3control", REGION, ACCOUNT)
    server = urlsplit(aws.endpoint).netloc

    def to_moto(request, **_):
        request.headers["Host"] = f"{ACCOUNT}.s3-control.{REGION}.amazonaws.com"
        request.url = urlunsplit(urlsplit(request.url)._replace(netloc=server))

    client.meta.events.register("before-send", to_moto)
    return client


def account_bpa(s3control) -> dict | None:
    try:
        return s3control.get_public_access_block(AccountId=ACCOUNT)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return None


def test_account_without_block_public_access_is_notified(aws, harness, s3control):
    # Given an account with no account-level Block Public Access (moto's default)
    # When the DeleteAccountPublicAccessBlock event arrives
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(DELETE)))
    # Then the account is non-compliant, notified once, and nothing changed
    decision = run.decision
    assert decision["resource_type"] == "AWS::S3::AccountPublicAccessBlock"
    assert decision["resource_id"] == ACCOUNT
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["reason"] == "the account has no account-level Block Public Access configuration"
    (alert,) = run.alerts
    assert alert["subject"] == f"[MEDIUM] {RULE}: {ACCOUNT} non-compliant"
    assert alert["body"]["controls"] == ["S3.1"]
    assert alert["body"]["before"] == {"PublicAccessBlockConfiguration": None}
    assert "s3/settings" in alert["body"]["console_url"]
    assert account_bpa(s3control) is None


def test_flags_turned_off_are_remediated_and_a_second_event_changes_nothing(aws, harness, s3control):
    # Given the four flags set to false, and the rule in remediate mode
    s3control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=dict.fromkeys(FULL, False))
    harness.set_mode(RULE, "remediate")
    # When
    first = harness.invoke(RULE, as_cloudtrail_event(load_event(PUT_OFF)))
    # Then all four are on, and the alert shows before and after
    assert first.decision["action"] == "remediated"
    assert first.decision["reason"] == (
        "account-level Block Public Access is not fully on "
        "(BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets off)"
    )
    assert account_bpa(s3control) == FULL
    body = first.alerts[0]["body"]
    assert body["before"] == {"PublicAccessBlockConfiguration": dict.fromkeys(FULL, False)}
    assert body["after"] == {"PublicAccessBlockConfiguration": FULL}
    # The same event again: compliant, silent, one read
    harness.clients.calls.clear()
    second = harness.invoke(RULE, as_cloudtrail_event(load_event(PUT_OFF)))
    assert second.decision["compliance"] == "COMPLIANT"
    assert second.alerts == []
    assert harness.clients.operations("s3control") == ["GetPublicAccessBlock"]


def test_kill_switch_keeps_the_account_setting_as_it_is(aws, harness, s3control):
    harness.set_mode(RULE, "remediate")
    harness.kill_switch("on")
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(DELETE)))
    assert run.decision["action"] == "notified"
    assert account_bpa(s3control) is None


def test_failed_s3_1_finding_names_the_account(aws, harness, s3control):
    # The S3.8 sample re-pointed at S3.1, with the resource Security Hub uses for it ("AwsAccount")
    finding = copy.deepcopy(load_event("securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json"))
    finding["ProductFields"]["ControlId"] = "S3.1"
    finding["AwsAccountId"] = ACCOUNT
    finding["Resources"] = [
        {"Type": "AwsAccount", "Id": f"AWS::::Account:{ACCOUNT}", "Partition": "aws", "Region": REGION}
    ]
    s3control.put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration={**FULL, "IgnorePublicAcls": False}
    )
    run = harness.invoke(RULE, as_securityhub_event(finding))
    assert run.decision["resource_id"] == ACCOUNT
    assert run.decision["reason"].endswith("(IgnorePublicAcls off)")


def test_periodic_managed_rule_compliance_change_reaches_the_rule(aws, harness, s3control):
    # The real NZISM compliance change, re-pointed at the managed rule S3.1 uses (resource type AWS::::Account)
    event = copy.deepcopy(
        load_event("config-compliance-change/nzism-loggroup-retention-NON_COMPLIANT-with-old-result.json")
    )
    event["detail"].update(
        resourceId=ACCOUNT,
        resourceType="AWS::::Account",
        configRuleName="s3-account-level-public-access-blocks-periodic-conformance-pack-x7k2",
        awsRegion=REGION,
        awsAccountId=ACCOUNT,
    )
    event["region"] = REGION
    run = harness.invoke(RULE, event)
    assert run.decision["resource_id"] == ACCOUNT
    assert run.decision["compliance"] == "NON_COMPLIANT"


def test_scheduled_sweep_judges_the_account_and_reports_it_to_config(aws, harness, s3control):
    s3control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=FULL)
    scheduled = load_event("config-invocation/powertools-config-scheduled-notification.json")
    scheduled["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, scheduled)
    assert [(d["resource_id"], d["compliance"]) for d in run.decisions] == [(ACCOUNT, "COMPLIANT")]
    (put,) = [c for c in harness.clients.calls if c.operation == "PutEvaluations"]
    (evaluation,) = put.params["Evaluations"]
    assert evaluation["ComplianceResourceType"] == "AWS::S3::AccountPublicAccessBlock"
    assert evaluation["ComplianceResourceId"] == ACCOUNT


def test_config_change_notification_for_the_account_setting(aws, harness, s3control):
    invocation = load_event("config-invocation/powertools-config-change-ec2-instance-real.json")
    invoking = json.loads(invocation["invokingEvent"])
    invoking.pop("configurationItemDiff")
    invoking["configurationItem"].update(
        resourceType="AWS::S3::AccountPublicAccessBlock",
        resourceId=ACCOUNT,
        resourceName=None,
        ARN=None,
        awsAccountId=ACCOUNT,
        awsRegion=REGION,
        configurationItemStatus="OK",
        relationships=[],
        tags={},
        configuration={**dict.fromkeys(FULL, False)},
    )
    invocation.update(invokingEvent=json.dumps(invoking), resultToken="TESTMODE")
    run = harness.invoke(RULE, invocation)
    assert run.decision["resource_id"] == ACCOUNT
    assert run.decision["compliance"] == "NON_COMPLIANT"
