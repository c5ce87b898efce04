"""s3-bucket-external-access against the local account: grants to other accounts in every principal form,
the trustedAccounts option, Organization conditions, ACL grants, removal of only the offending statements."""

from __future__ import annotations

import copy
import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT, EXEMPT_UNTIL, as_cloudtrail_event, as_securityhub_event, load_event

RULE = "s3-bucket-external-access"
PUT_POLICY = "handwritten/cloudtrail-s3-PutBucketPolicy-cross-account-read.json"
PUT_ACL = "handwritten/cloudtrail-s3-PutBucketAcl-AllUsers-read.json"
PARTNER = "111122223333"
OTHER = "444455556666"
TRUSTED = json.dumps({"trustedAccounts": [PARTNER], "trustedOrganizations": ["o-abc123"]})


def event(sample: str, bucket: str) -> dict:
    return as_cloudtrail_event(load_event(sample), requestParameters__bucketName=bucket)


def allow(bucket: str, principal, sid: str | None = None, condition: dict | None = None) -> dict:
    statement = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    if sid:
        statement = {"Sid": sid, **statement}
    if condition:
        statement["Condition"] = condition
    return statement


def tls_deny(bucket: str) -> dict:
    return {
        "Sid": "DenyHttp",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def with_policy(aws, bucket: str, *statements: dict) -> dict:
    aws.client("s3").create_bucket(Bucket=bucket)
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    aws.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return policy


def policy_of(aws, bucket: str) -> dict | None:
    try:
        return json.loads(aws.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


@pytest.mark.parametrize(
    ("principal", "condition", "who"),
    [
        ({"AWS": f"arn:aws:iam::{OTHER}:root"}, None, OTHER),
        ({"AWS": OTHER}, None, OTHER),
        ({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/own", f"arn:aws:iam::{OTHER}:role/reader"]}, None, OTHER),
        ("*", None, "any AWS account (Principal *)"),
        ("*", {"StringEquals": {"aws:PrincipalAccount": OTHER}}, OTHER),
        ("*", {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}, "any AWS account (Principal *)"),
    ],
    ids=["root-arn", "bare-id", "role-in-list", "star", "star-pinned-to-other", "ifexists-org-restricts-nothing"],
)
def test_grants_outside_the_allow_list_are_notified(aws, harness, principal, condition, who):
    with_policy(aws, "shared", allow("shared", principal, "Share", condition))
    run = harness.invoke(RULE, event(PUT_POLICY, "shared"), options=TRUSTED)
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["reason"] == f"bucket policy statement 'Share' grants {who}"
    assert run.decision["action"] == "notified"


@pytest.mark.parametrize(
    ("principal", "condition"),
    [
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, None),
        ({"AWS": f"arn:aws:iam::{PARTNER}:role/reader"}, None),
        ("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
        ({"AWS": "*"}, {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/r-ab12/*"}}),
        ("*", {"StringEquals": {"aws:PrincipalAccount": [ACCOUNT, PARTNER]}}),
        ({"Service": "logging.s3.amazonaws.com"}, None),
    ],
    ids=["own-account", "trusted-role", "org-id", "org-paths", "pinned-to-trusted", "service"],
)
def test_own_trusted_and_organization_grants_are_compliant(aws, harness, principal, condition):
    with_policy(aws, "inside", allow("inside", principal, "Share", condition))
    run = harness.invoke(RULE, event(PUT_POLICY, "inside"), options=TRUSTED)
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.alerts == []


def test_without_trusted_accounts_the_partner_is_external(aws, harness):
    # The handwritten PutBucketPolicy event records exactly this policy (read access for 111122223333)
    recorded = load_event(PUT_POLICY)["requestParameters"]["bucketPolicy"]
    bucket = recorded["Statement"][0]["Resource"][0].split(":::")[1]
    aws.client("s3").create_bucket(Bucket=bucket)
    aws.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(recorded))
    run = harness.invoke(RULE, as_cloudtrail_event(load_event(PUT_POLICY)))
    assert run.decision["reason"] == f"bucket policy statement 'PartnerRead' grants {PARTNER}"
    (alert,) = run.alerts
    assert alert["subject"] == f"[HIGH] {RULE}: {bucket} non-compliant"
    assert alert["body"]["controls"] == ["S3.6"]
    assert alert["body"]["before"]["offending_statements"] == recorded["Statement"]
    assert alert["body"]["before"]["trusted_accounts"] == [ACCOUNT]
    assert "trustedAccounts" in alert["body"]["remediation"]


def test_remediation_removes_only_the_offending_statements(aws, harness):
    # Given a trusted grant, a TLS deny, and two external grants (one unnamed)
    trusted = allow("mixed", {"AWS": PARTNER}, "PartnerRead")
    external = allow("mixed", {"AWS": f"arn:aws:iam::{OTHER}:root"}, "OtherRead")
    anyone = allow("mixed", "*")
    original = with_policy(aws, "mixed", trusted, external, tls_deny("mixed"), anyone)
    harness.set_mode(RULE, "remediate")
    # When
    run = harness.invoke(RULE, event(PUT_POLICY, "mixed"), options=TRUSTED)
    # Then the two offending statements are gone and the others kept, in order
    assert run.decision["action"] == "remediated"
    assert policy_of(aws, "mixed") == {"Version": "2012-10-17", "Statement": [trusted, tls_deny("mixed")]}
    body = run.alerts[0]["body"]
    assert body["before"]["offending_statements"] == [external, anyone]
    assert body["after"]["removed_statements"] == [external, anyone]
    assert body["after"]["policy"] == policy_of(aws, "mixed")
    assert body["remediation"] == (
        "removed bucket policy statement 'OtherRead', statement #4; kept 2 other statement(s)"
    )
    assert original["Statement"][0] == trusted
    # A second run changes nothing
    again = harness.invoke(RULE, event(PUT_POLICY, "mixed"), options=TRUSTED)
    assert again.decision["compliance"] == "COMPLIANT"
    assert again.alerts == []


def test_policy_holding_only_offending_statements_is_deleted(aws, harness):
    with_policy(aws, "only-external", allow("only-external", {"AWS": OTHER}, "OtherRead"))
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(PUT_POLICY, "only-external"))
    assert run.decision["action"] == "remediated"
    assert policy_of(aws, "only-external") is None
    assert "DeleteBucketPolicy" in harness.clients.operations("s3")
    assert "held only the offending statements" in run.alerts[0]["body"]["remediation"]
    assert run.alerts[0]["body"]["after"]["policy"] is None


def test_public_acl_grant_is_reported_and_left_for_a_human(aws, harness):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="acl-open")
    s3.put_bucket_acl(Bucket="acl-open", ACL="public-read")
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(PUT_ACL, "acl-open"))
    assert run.decision["reason"].startswith("ACL grants READ to everyone (AllUsers)")
    assert run.decision["action"] == "notified"
    assert "mlwarden does not change ACLs" in run.decision["reason"]
    grants = s3.get_bucket_acl(Bucket="acl-open")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)


def test_deleted_bucket_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, event(PUT_POLICY, "vanished"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert run.alerts == []


def test_exempt_bucket_is_never_changed(aws, harness):
    policy = with_policy(aws, "data-exchange", allow("data-exchange", {"AWS": OTHER}, "Exchange"))
    aws.client("s3").put_bucket_tagging(
        Bucket="data-exchange",
        Tagging={
            "TagSet": [
                {"Key": "mlwarden:exempt", "Value": "all"},
                {"Key": "mlwarden:exempt-reason", "Value": "data exchange agreement"},
                {"Key": "mlwarden:exempt-until", "Value": EXEMPT_UNTIL},
            ]
        },
    )
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(PUT_POLICY, "data-exchange"))
    assert run.decision["action"] == "exempt"
    assert policy_of(aws, "data-exchange") == policy


def test_failed_s3_6_finding_reaches_the_rule(aws, harness):
    finding = copy.deepcopy(load_event("securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json"))
    finding["ProductFields"]["ControlId"] = "S3.6"
    finding["Resources"][0]["Id"] = "arn:aws:s3:::s3-6-target"
    finding["AwsAccountId"] = ACCOUNT
    with_policy(aws, "s3-6-target", allow("s3-6-target", {"AWS": OTHER}, "OtherRead"))
    run = harness.invoke(RULE, as_securityhub_event(finding))
    assert run.decision["resource_id"] == "s3-6-target"
    assert run.decision["compliance"] == "NON_COMPLIANT"


def test_scheduled_sweep_judges_every_bucket_of_the_region(aws, harness):
    with_policy(aws, "sweep-external", allow("sweep-external", {"AWS": OTHER}))
    aws.client("s3").create_bucket(Bucket="sweep-private")
    scheduled = load_event("config-invocation/powertools-config-scheduled-notification.json")
    scheduled["resultToken"] = "TESTMODE"
    run = harness.invoke(RULE, scheduled)
    assert {d["resource_id"]: d["compliance"] for d in run.decisions} == {
        "sweep-external": "NON_COMPLIANT",
        "sweep-private": "COMPLIANT",
    }


def test_attack_any_organization_wildcard_is_external_and_removed(aws, harness):
    # Given a statement admitting "*" from any organization (StringLike o-*) next to a trusted grant
    trusted = allow("org-wild", {"AWS": PARTNER}, "PartnerRead")
    anyone = allow("org-wild", "*", "AnyOrg", {"StringLike": {"aws:PrincipalOrgID": "o-*"}})
    with_policy(aws, "org-wild", trusted, anyone)
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, event(PUT_POLICY, "org-wild"), options=TRUSTED)
    assert run.decision["reason"] == "bucket policy statement 'AnyOrg' grants any AWS account (Principal *)"
    assert run.decision["action"] == "remediated"
    assert policy_of(aws, "org-wild")["Statement"] == [trusted]


def test_own_organization_is_trusted_by_default_and_read_once(aws, harness):
    # Given the account's own organization and buckets admitting it and another organization
    org = aws.client("organizations").create_organization(FeatureSet="ALL")["Organization"]["Id"]
    condition = {"StringEquals": {"aws:PrincipalOrgID": org}}
    with_policy(aws, "own-org", allow("own-org", "*", "OwnOrg", condition))
    with_policy(aws, "other-org", allow("other-org", "*", "OtherOrg", {"StringEquals": {"aws:PrincipalOrgID": "o-zz"}}))
    run = harness.invoke(RULE, event(PUT_POLICY, "own-org"))
    assert run.decision["compliance"] == "COMPLIANT"
    assert harness.clients.operations("organizations").count("DescribeOrganization") == 1
    other = harness.invoke(RULE, event(PUT_POLICY, "other-org"))
    assert other.decision["reason"] == "bucket policy statement 'OtherOrg' grants accounts of organization o-zz"
    assert other.alerts[0]["body"]["before"]["trusted_organizations"] == [org]
    # The option replaces the default: [] trusts no organization, and then no organization is read
    harness.clients.clear()
    none = harness.invoke(RULE, event(PUT_POLICY, "own-org"), options=json.dumps({"trustedOrganizations": []}))
    assert none.decision["reason"] == f"bucket policy statement 'OwnOrg' grants accounts of organization {org}"
    assert "DescribeOrganization" not in harness.clients.operations("organizations")
    # A sweep judges both buckets with one DescribeOrganization (cached for the function instance)
    harness.clients.clear()
    verdicts = {d["resource_id"]: d["compliance"] for d in harness.scan(RULE)}
    assert verdicts == {"own-org": "COMPLIANT", "other-org": "NON_COMPLIANT"}
    assert harness.clients.operations("organizations").count("DescribeOrganization") == 1


def test_attack_account_in_no_organization_trusts_no_organization(aws, harness):
    with_policy(aws, "no-org", allow("no-org", "*", "SomeOrg", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))
    run = harness.invoke(RULE, event(PUT_POLICY, "no-org"))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert run.decision["reason"] == "bucket policy statement 'SomeOrg' grants accounts of organization o-abc123"


def test_attack_canonical_user_grants_to_other_accounts_are_external(aws, harness):
    # Given a bucket whose policy and ACL name another account's canonical user, and its owner's
    s3 = aws.client("s3")
    other = "b" * 64
    with_policy(aws, "canonical", allow("canonical", {"CanonicalUser": other}, "OtherCanonical"))
    owner = s3.get_bucket_acl(Bucket="canonical")["Owner"]
    with_policy(aws, "owner-canonical", allow("owner-canonical", {"CanonicalUser": owner["ID"]}, "Owner"))
    s3.put_bucket_acl(
        Bucket="canonical",
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "CanonicalUser", "ID": other}, "Permission": "READ"},
            ],
        },
    )
    run = harness.invoke(RULE, event(PUT_POLICY, "canonical"))
    assert run.decision["reason"] == (
        f"bucket policy statement 'OtherCanonical' grants canonical user {other}; ACL grants READ to canonical user "
        f"{other}"
    )
    assert harness.invoke(RULE, event(PUT_POLICY, "owner-canonical")).decision["compliance"] == "COMPLIANT"
