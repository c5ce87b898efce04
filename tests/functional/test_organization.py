"""Organization mode at run time (issue 13, DESIGN §2.8), against a local organization in moto.

The central account (moto's default, 123456789012) is the organization's management account and runs the rule
functions. Member accounts are created with AWS Organizations; each gets the rule's member role, created with that
account's own credentials. A violation is made in a member account with that account's credentials, the event
(as the member template forwards it to the central bus) reaches the central handler, which judges and remediates
in the member account through the member role, and alerts centrally naming the account.

moto does not check that an assumed role exists, nor its trust policy (``sts.assume_role`` into any account ARN
succeeds). ``assume_role_like_aws`` answers AssumeRole as AWS does: AccessDenied unless the role exists in the
target account and its trust policy admits the caller's role with the ExternalId given; otherwise it passes the
call on to moto, whose credentials then act in that account.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mlwarden.core import org
from mlwarden.core.modes import account_override_name, ou_override_name
from tests.conftest import ACCOUNT, as_cloudtrail_event, as_securityhub_event, load_event
from tests.functional.conftest import aws_error

RULE = "s3-bucket-public-access"
OTHER_RULE = "s3-bucket-kms-encryption"
DELETE_BPA = "handwritten/cloudtrail-s3-DeleteBucketPublicAccessBlock.json"
FULL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
CENTRAL_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{org.central_role_name(RULE)}"


_SESSION = boto3.session.Session()  # one session: its service models are loaded once for the module


def _client(endpoint: str, service: str, creds: dict[str, str] | None = None, region: str = "us-east-1") -> Any:
    kwargs: dict[str, Any] = {}
    if creds:
        kwargs = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    return _SESSION.client(
        service, region_name=region, endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}), **kwargs
    )


def trust_policy(external_id: str | None, principal: str = CENTRAL_ROLE) -> str:
    """The member role's trust, as the member template writes it: only the rule's central role, with the
    organization's ExternalId."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal},
                    "Action": "sts:AssumeRole",
                    **({"Condition": {"StringEquals": {"sts:ExternalId": external_id}}} if external_id else {}),
                }
            ],
        }
    )


class LocalOrganization(SimpleNamespace):
    """The organization: its id, OUs (sandbox, prod), member accounts and helpers acting as each account."""

    def as_account(self, account: str, service: str, region: str = "us-east-1") -> Any:
        """A client acting in ``account`` with its own credentials (an administrator of that account)."""
        key = (account, service, region)
        if key not in self.clients:
            if account not in self.credentials:
                self.credentials[account] = self.sts.assume_role(
                    RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="admin"
                )["Credentials"]
            client = _client(self.endpoint, service, self.credentials[account], region)
            if service == "s3control":  # the account in the host name, which a local endpoint cannot resolve
                from mlwarden.core.context import _unprefix_account_host

                client.meta.events.register("before-sign.s3-control", _unprefix_account_host)
            self.clients[key] = client
        return self.clients[key]

    def member_role(self, account: str, rule_id: str = RULE, external_id: str | None = None) -> None:
        """The rule's member role in ``account``, created there with that account's credentials."""
        self.as_account(account, "iam").create_role(
            RoleName=org.member_role_name(rule_id),
            AssumeRolePolicyDocument=trust_policy(external_id or org.external_id(self.id)),
        )

    def settings(self, rule_id: str = RULE, **more: Any) -> dict[str, Any]:
        """The function's environment in organization mode (what the stack gives it), as RuntimeSettings."""
        return {
            "account": ACCOUNT,
            "own_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{org.central_role_name(rule_id)}",
            "organization_id": self.id,
            "member_role": org.member_role_name(rule_id),
            "external_id": org.external_id(self.id),
            "org_regions": "us-east-1,eu-west-1",
            "org_ous": f"{self.sandbox},{self.prod}",
            **more,
        }


@pytest.fixture
def organization(aws, harness) -> LocalOrganization:
    orgs = aws.client("organizations")
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    sandbox = orgs.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]
    prod = orgs.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    team = orgs.create_organizational_unit(ParentId=sandbox, Name="team-a")["OrganizationalUnit"]["Id"]
    elsewhere = orgs.create_organizational_unit(ParentId=root, Name="suspended")["OrganizationalUnit"]["Id"]

    def account(name: str, parent: str) -> str:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        account_id = str(status["AccountId"])
        orgs.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        return account_id

    local = LocalOrganization(
        id=org_id,
        root=root,
        sandbox=sandbox,
        prod=prod,
        team=team,
        elsewhere=elsewhere,
        endpoint=aws.endpoint,
        sts=_client(aws.endpoint, "sts"),
        credentials={},
        clients={},
    )
    local.b = account("sandbox-b", team)  # nested: sandbox / team-a / b
    local.c = account("prod-c", prod)
    local.d = account("unguarded-d", elsewhere)  # in the organization, not under a guarded OU
    local.outsider = "999999999999"  # not in the organization at all

    plain_sts = local.sts

    def assume_role_like_aws(params: dict[str, Any]) -> dict[str, Any]:
        # As AWS: the role must exist in the target account and trust the caller with the ExternalId given.
        target = params["RoleArn"].split(":")[4]
        name = params["RoleArn"].rsplit("/", 1)[-1]
        try:
            role = local.as_account(target, "iam").get_role(RoleName=name)["Role"]
        except ClientError:
            role = None
        statement = (role or {}).get("AssumeRolePolicyDocument", {"Statement": [{}]})["Statement"][0]
        if isinstance(statement, str):  # moto may answer the document URL-encoded
            statement = json.loads(statement)["Statement"][0]
        trusted = statement.get("Principal", {}).get("AWS")
        wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if role is None or trusted != CENTRAL_ROLE or wanted != params.get("ExternalId"):
            raise aws_error(
                "AccessDenied",
                "AssumeRole",
                f"User: {CENTRAL_ROLE}/x is not authorized to perform: sts:AssumeRole on resource: {params['RoleArn']}",
                403,
            )
        answer = plain_sts.assume_role(**params)
        answer.pop("ResponseMetadata", None)
        return answer

    harness.clients.answer("sts", "AssumeRole", assume_role_like_aws)
    return local


def bpa_in(local: LocalOrganization, account: str, bucket: str, region: str = "us-east-1") -> dict | None:
    try:
        return local.as_account(account, "s3", region).get_public_access_block(Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return None


def forwarded(account: str, bucket: str, region: str = "us-east-1", **changes: Any) -> dict[str, Any]:
    """The CloudTrail event of a call made in ``account``, as the central bus delivers it: the record names the
    member account (recipientAccountId) and Region; the envelope's ``account`` is the central one (what moto's
    cross-account delivery gives; AWS keeps the sender's): the record is what counts."""
    record = load_event(DELETE_BPA)
    event = as_cloudtrail_event(
        record,
        requestParameters__bucketName=bucket,
        recipientAccountId=account,
        awsRegion=region,
        userIdentity__accountId=account,
        **changes,
    )
    event["account"] = ACCOUNT
    return event


def make_violation(local: LocalOrganization, account: str, bucket: str, region: str = "us-east-1") -> None:
    s3 = local.as_account(account, "s3", region)
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=FULL)
    s3.delete_public_access_block(Bucket=bucket)  # the violation, made by the member account's administrator


# ----------------------------------------------------------------------------- judged and fixed in the member
def test_violation_in_member_account_is_remediated_there_and_alerted_with_the_account(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "training-data")
    # a namesake in the central account must stay untouched: the member's bucket is the one judged
    aws.client("s3").create_bucket(Bucket="training-data-central")
    harness.set_mode(RULE, "remediate")

    run = harness.invoke(RULE, forwarded(local.b, "training-data"), **local.settings())

    decision = run.decision
    assert decision["account"] == local.b
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "remediated", decision["reason"]
    assert bpa_in(local, local.b, "training-data") == FULL  # fixed in B, with B's member role
    (alert,) = run.alerts
    assert alert["body"]["account"] == local.b
    assert alert["body"]["account_name"] == "sandbox-b"
    # the member role was assumed with the organization's ExternalId and a session naming the rule
    (assume,) = [c for c in harness.clients.calls if c.operation == "AssumeRole"]
    assert assume.params == {
        "RoleArn": f"arn:aws:iam::{local.b}:role/{org.member_role_name(RULE)}",
        "RoleSessionName": f"mlwarden-{RULE}",
        "ExternalId": org.external_id(local.id),
        "DurationSeconds": 3600,
    }


def test_member_in_a_second_region_is_judged_in_that_region(aws, harness, organization):
    local = organization
    local.member_role(local.c)
    make_violation(local, local.c, "eu-features", region="eu-west-1")
    harness.set_mode(RULE, "remediate")

    run = harness.invoke(RULE, forwarded(local.c, "eu-features", region="eu-west-1"), **local.settings())

    assert (run.decision["account"], run.decision["region"]) == (local.c, "eu-west-1")
    assert run.decision["action"] == "remediated", run.decision["reason"]
    assert bpa_in(local, local.c, "eu-features", "eu-west-1") == FULL


def test_member_credentials_are_reused_for_the_next_event_of_the_same_account(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "one")
    make_violation(local, local.b, "two")
    settings = local.settings()
    harness.invoke(RULE, forwarded(local.b, "one", eventID="e-1"), **settings)
    runtime = next(iter(__import__("mlwarden.handler", fromlist=["_runtimes"])._runtimes.values()))
    runtime.engine.handle(forwarded(local.b, "two", eventID="e-2"))
    assert [c.operation for c in harness.clients.calls].count("AssumeRole") == 1


# ----------------------------------------------------------------------------- failures are loud
def test_missing_member_role_is_a_failed_decision_naming_the_account_and_the_role(aws, harness, organization):
    local = organization
    make_violation(local, local.c, "no-role-here")  # the StackSet never reached C: no member role
    harness.set_mode(RULE, "remediate")

    run = harness.invoke(RULE, forwarded(local.c, "no-role-here"), **local.settings())

    decision = run.decision
    role = f"arn:aws:iam::{local.c}:role/{org.member_role_name(RULE)}"
    assert decision["action"] == "failed"
    assert f"cannot act in account {local.c}" in decision["reason"]
    assert role in decision["reason"] and "AccessDenied" in decision["reason"]
    (alert,) = run.alerts  # a human must act
    assert alert["attributes"]["status"] == "failed"
    assert alert["body"]["details"]["member_role_failed"] == local.c
    assert bpa_in(local, local.c, "no-role-here") is None


def test_member_role_with_another_external_id_is_refused_and_said_so(aws, harness, organization):
    local = organization
    local.member_role(local.b, external_id="mlwarden-o-someoneelse")
    make_violation(local, local.b, "wrong-trust")

    run = harness.invoke(RULE, forwarded(local.b, "wrong-trust"), **local.settings())

    assert run.decision["action"] == "failed"
    assert f"arn:aws:iam::{local.b}:role/{org.member_role_name(RULE)}" in run.decision["reason"]


# ----------------------------------------------------------------------------- who is acted on
def test_finding_about_an_account_outside_the_organization_is_not_acted_on(aws, harness, organization):
    local = organization
    finding = json.loads(json.dumps(load_event("securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json")))
    finding["AwsAccountId"] = local.outsider
    finding["Resources"][0]["Id"] = "arn:aws:s3:::victim"
    harness.set_mode(RULE, "remediate")

    run = harness.invoke(RULE, as_securityhub_event(finding), **local.settings())

    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert f"another account's resource ({local.outsider}): not in the organization" in run.decision["reason"]
    assert run.alerts == []
    assert "AssumeRole" not in [c.operation for c in harness.clients.calls]


def test_account_in_the_organization_but_outside_the_guarded_units_is_not_acted_on(aws, harness, organization):
    local = organization
    local.member_role(local.d)
    make_violation(local, local.d, "not-ours")

    run = harness.invoke(RULE, forwarded(local.d, "not-ours"), **local.settings())

    assert "not under the organizational units this deployment guards" in run.decision["reason"]
    assert "AssumeRole" not in [c.operation for c in harness.clients.calls]


def test_delegated_admin_finding_naming_a_member_is_acted_on_in_that_member(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "hub-bucket")
    finding = json.loads(json.dumps(load_event("securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json")))
    finding["AwsAccountId"] = local.b
    finding["Resources"][0]["Id"] = "arn:aws:s3:::hub-bucket"
    finding["Resources"][0]["Region"] = "us-east-1"
    harness.set_mode(RULE, "remediate")

    run = harness.invoke(RULE, as_securityhub_event(finding) | {"account": ACCOUNT}, **local.settings())

    assert run.decision["account"] == local.b
    assert run.decision["action"] == "remediated", run.decision["reason"]
    assert bpa_in(local, local.b, "hub-bucket") == FULL


# ----------------------------------------------------------------------------- switches that scale
def test_account_override_changes_the_mode_for_that_account_only(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    local.member_role(local.c)
    make_violation(local, local.b, "bucket-b")
    make_violation(local, local.c, "bucket-c")
    harness.set_mode(RULE, "notify")
    aws.client("ssm").put_parameter(Name=account_override_name(RULE, local.b), Value="remediate", Type="String")

    in_b = harness.invoke(RULE, forwarded(local.b, "bucket-b"), **local.settings())
    in_c = harness.invoke(RULE, forwarded(local.c, "bucket-c"), **local.settings())

    assert in_b.decision["action"] == "remediated"
    assert in_c.decision["action"] == "notified"
    assert bpa_in(local, local.b, "bucket-b") == FULL
    assert bpa_in(local, local.c, "bucket-c") is None
    assert in_b.alerts[0]["body"]["details"]["mode_from"] == f"account {local.b} override"


def test_nearest_ou_override_wins_and_an_account_override_beats_it(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "nested")
    ssm = aws.client("ssm")
    harness.set_mode(RULE, "remediate")
    ssm.put_parameter(Name=ou_override_name(RULE, local.sandbox), Value="remediate", Type="String")
    ssm.put_parameter(Name=ou_override_name(RULE, local.team), Value="off", Type="String")  # nearer

    off = harness.invoke(RULE, forwarded(local.b, "nested", eventID="n-1"), **local.settings())
    assert off.decision["action"] == "none" and "rule is off" in off.decision["reason"]
    assert off.alerts == []

    ssm.put_parameter(Name=account_override_name(RULE, local.b), Value="notify", Type="String")
    notified = harness.invoke(RULE, forwarded(local.b, "nested", eventID="n-2"), **local.settings())
    assert notified.decision["action"] == "notified"
    assert bpa_in(local, local.b, "nested") is None


def test_kill_switch_beats_an_account_override(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "killed")
    aws.client("ssm").put_parameter(Name=account_override_name(RULE, local.b), Value="remediate", Type="String")
    harness.kill_switch("on")

    run = harness.invoke(RULE, forwarded(local.b, "killed"), **local.settings())

    assert run.decision["action"] == "notified"
    assert "kill switch is on" in run.decision["reason"]
    assert bpa_in(local, local.b, "killed") is None


# ----------------------------------------------------------------------------- exemptions naming accounts
def _exemptions(*entries: dict[str, str]) -> str:
    return json.dumps(list(entries))


def test_exemption_naming_an_account_exempts_there_only(aws, harness, organization):
    local = organization
    for account in (local.b, local.c):
        local.member_role(account)
        make_violation(local, account, f"shared-name-{account}")
    exemption = {"resource": "shared-name-*", "reason": "data lake migration", "account": local.b}
    settings = local.settings(exemptions=_exemptions(exemption))
    harness.set_mode(RULE, "remediate")

    in_b = harness.invoke(RULE, forwarded(local.b, f"shared-name-{local.b}"), **settings)
    in_c = harness.invoke(RULE, forwarded(local.c, f"shared-name-{local.c}"), **settings)

    assert in_b.decision["action"] == "exempt"
    assert in_c.decision["action"] == "remediated"  # the wildcard does not reach another account


def test_whole_account_exemption_and_account_less_wildcard_never_reach_other_accounts(aws, harness, organization):
    local = organization
    for account in (local.b, local.c):
        local.member_role(account)
        make_violation(local, account, f"bucket-{account}")
    settings = local.settings(
        exemptions=_exemptions(
            {"resource": "*", "reason": "sandbox account", "account": local.b},
            {"resource": "*", "reason": "a wildcard without an account: the central account only"},
        )
    )
    harness.set_mode(RULE, "remediate")

    in_b = harness.invoke(RULE, forwarded(local.b, f"bucket-{local.b}"), **settings)
    in_c = harness.invoke(RULE, forwarded(local.c, f"bucket-{local.c}"), **settings)

    assert in_b.decision["action"] == "exempt"
    assert in_c.decision["action"] == "remediated"


# ----------------------------------------------------------------------------- loop guard
def test_call_made_through_this_rules_member_role_is_the_rules_own(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "loop")
    role = f"arn:aws:iam::{local.b}:role/{org.member_role_name(RULE)}"
    event = forwarded(
        local.b,
        "loop",
        userIdentity__type="AssumedRole",
        userIdentity__arn=f"arn:aws:sts::{local.b}:assumed-role/{org.member_role_name(RULE)}/mlwarden-{RULE}",
        userIdentity__sessionContext={"sessionIssuer": {"type": "Role", "arn": role}},
    )

    run = harness.invoke(RULE, event, **local.settings())

    assert "loop guard" in run.decision["reason"]
    assert bpa_in(local, local.b, "loop") is None


def test_call_made_through_another_rules_member_role_is_judged(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "other-rule")
    role = f"arn:aws:iam::{local.b}:role/{org.member_role_name(OTHER_RULE)}"
    event = forwarded(
        local.b,
        "other-rule",
        userIdentity__type="AssumedRole",
        userIdentity__sessionContext={"sessionIssuer": {"type": "Role", "arn": role}},
    )

    run = harness.invoke(RULE, event, **local.settings())

    assert run.decision["compliance"] == "NON_COMPLIANT"


# ----------------------------------------------------------------------------- sweeps reach members
def test_scheduled_sweep_covers_the_guarded_member_accounts(aws, harness, organization):
    from tests.functional.conftest import sweep_event

    local = organization
    local.member_role(local.b)
    local.member_role(local.c)
    make_violation(local, local.b, "swept-b")
    make_violation(local, local.c, "swept-c")

    run = harness.invoke(RULE, sweep_event(RULE), **local.settings())

    by_account = {d["resource_id"]: d["account"] for d in run.decisions if d["resource_id"]}
    assert by_account == {"swept-b": local.b, "swept-c": local.c}
    assert local.d not in {d["account"] for d in run.decisions}  # outside the guarded units: not swept


# ----------------------------------------------------------------------------- the Config backstop
def test_config_invocation_from_a_member_is_judged_and_answered_in_that_member(aws, harness, organization):
    from tests.functional.test_config_invocations import s3_change_invocation

    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "config-item")
    invocation = s3_change_invocation("config-item")
    invoking = json.loads(invocation["invokingEvent"])
    invoking["configurationItem"]["awsAccountId"] = local.b
    invocation.update(
        invokingEvent=json.dumps(invoking),
        accountId=local.b,
        configRuleArn=f"arn:aws:config:us-east-1:{local.b}:config-rule/config-rule-abc123",
    )

    run = harness.invoke(RULE, invocation, **local.settings())

    assert (run.decision["account"], run.decision["compliance"]) == (local.b, "NON_COMPLIANT")
    evaluations = [c for c in harness.clients.calls if c.operation == "PutEvaluations"]
    assert [c.status for c in evaluations] == [200]
    assert evaluations[0].params["Evaluations"][0]["ComplianceResourceId"] == "config-item"


def test_sweep_of_an_account_setting_judges_each_member_accounts_own_setting(aws, harness, organization):
    from tests.functional.conftest import sweep_event

    local = organization
    rule = "s3-account-public-access-block"
    local.member_role(local.b, rule)
    local.member_role(local.c, rule)
    local.as_account(local.c, "s3control").put_public_access_block(
        AccountId=local.c, PublicAccessBlockConfiguration=FULL
    )

    run = harness.invoke(rule, sweep_event(rule), **local.settings(rule))

    verdicts = {d["resource_id"]: (d["account"], d["compliance"]) for d in run.decisions}
    assert verdicts[local.b] == (local.b, "NON_COMPLIANT")  # the member's own setting, not the central one's
    assert verdicts[local.c] == (local.c, "COMPLIANT")
    assert verdicts[ACCOUNT][0] == ACCOUNT


def test_sweep_names_a_member_whose_role_is_missing(aws, harness, organization):
    from tests.functional.conftest import sweep_event

    local = organization
    local.member_role(local.b)  # C has no member role

    run = harness.invoke(RULE, sweep_event(RULE), **local.settings())

    (failed,) = [d for d in run.decisions if d["account"] == local.c]
    assert failed["action"] == "failed"
    assert f"arn:aws:iam::{local.c}:role/{org.member_role_name(RULE)}" in failed["reason"]


# ----------------------------------------------------------------------------- central bus trust
# Any account of the organization may put events on the central bus. On AWS an event forwarded from a member keeps
# that member's id in the envelope's ``account`` (moto rewrites it to the receiver, so these tests set it): such an
# event is trusted about its sender's own account only.
def _metrics() -> Any:
    from mlwarden import handler

    return handler.metrics


def test_cloudtrail_record_of_another_account_sent_by_a_member_is_refused(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "victim-bucket")
    harness.set_mode(RULE, "remediate")
    event = forwarded(local.b, "victim-bucket")
    event["account"] = local.c  # member C forwards a record claiming to be B's

    run = harness.invoke(RULE, event, **local.settings())

    decision = run.decision
    assert decision["compliance"] == "NOT_APPLICABLE" and decision["action"] == "none"
    assert f"a CloudTrail record of account {local.b} sent by account {local.c}" in decision["reason"]
    assert "AssumeRole" not in [c.operation for c in harness.clients.calls]
    assert bpa_in(local, local.b, "victim-bucket") is None  # B untouched
    assert run.alerts == []


def test_finding_about_another_member_sent_by_a_member_is_refused(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "hub-victim")
    finding = json.loads(json.dumps(load_event("securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json")))
    finding["AwsAccountId"] = local.b
    finding["Resources"][0]["Id"] = "arn:aws:s3:::hub-victim"
    finding["Resources"][0]["Region"] = "us-east-1"
    harness.set_mode(RULE, "remediate")
    metrics = _metrics()
    metrics.clear_metrics()
    from mlwarden import handler

    counted: list[str] = []
    original = handler.record_metrics

    def record(decision: Any) -> None:
        original(decision)
        counted.extend(metrics.metric_set)

    harness.monkeypatch.setattr(handler, "record_metrics", record)

    run = harness.invoke(RULE, as_securityhub_event(finding) | {"account": local.c}, **local.settings())

    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert f"a resource of account {local.b} named by an event account {local.c} sent" in run.decision["reason"]
    assert bpa_in(local, local.b, "hub-victim") is None
    assert "AssumeRole" not in [c.operation for c in harness.clients.calls]
    assert "UntrustedSenderRefused" in counted


def test_events_a_member_sends_about_itself_are_acted_on(aws, harness, organization):
    local = organization
    local.member_role(local.b)
    make_violation(local, local.b, "own-record")
    make_violation(local, local.b, "own-finding")
    finding = json.loads(json.dumps(load_event("securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json")))
    finding["AwsAccountId"] = local.b
    finding["Resources"][0]["Id"] = "arn:aws:s3:::own-finding"
    finding["Resources"][0]["Region"] = "us-east-1"
    harness.set_mode(RULE, "remediate")
    record = forwarded(local.b, "own-record")
    record["account"] = local.b  # as AWS delivers it: the sender's account

    first = harness.invoke(RULE, record, **local.settings())
    second = harness.invoke(RULE, as_securityhub_event(finding) | {"account": local.b}, **local.settings())

    assert first.decision["action"] == "remediated", first.decision["reason"]
    assert second.decision["action"] == "remediated", second.decision["reason"]
    assert bpa_in(local, local.b, "own-record") == FULL and bpa_in(local, local.b, "own-finding") == FULL


# ----------------------------------------------------------------------------- scan from a workstation
PERSON = f"arn:aws:iam::{ACCOUNT}:root"  # the person running `mlwarden scan` in the management account


def _workstation(harness: Any, local: LocalOrganization, tmp_path: Any) -> list[dict[str, Any]]:
    """AssumeRole as AWS answers a person (not a rule's central function): the role must exist in the target
    account and trust the person's account; its ExternalId condition, if any, must be met. Returns the calls."""
    assumed: list[dict[str, Any]] = []
    plain_sts = local.sts

    def assume(params: dict[str, Any]) -> dict[str, Any]:
        assumed.append(dict(params))
        target, name = params["RoleArn"].split(":")[4], params["RoleArn"].rsplit("/", 1)[-1]
        try:
            document = local.as_account(target, "iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        except ClientError:
            document = {"Statement": [{}]}
        if isinstance(document, str):
            document = json.loads(document)
        statement = document["Statement"][0]
        wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if statement.get("Principal", {}).get("AWS") != PERSON or wanted != params.get("ExternalId"):
            message = f"User: {PERSON} is not authorized to perform: sts:AssumeRole on resource: {params['RoleArn']}"
            raise aws_error("AccessDenied", "AssumeRole", message, 403)
        answer = plain_sts.assume_role(**params)
        answer.pop("ResponseMetadata", None)
        return answer

    harness.clients.answer("sts", "AssumeRole", assume)
    block = {"organizationId": local.id, "organizationalUnitIds": [local.sandbox], "regions": ["us-east-1"]}
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"mlwarden": {"organization": block}}}))
    return assumed


def _scan(harness: Any, tmp_path: Any, account: str, member_role: str | None) -> tuple[list[Any], list[str]]:
    from mlwarden.cli import organization as cli_organization
    from mlwarden.cli.local import LocalRunner, load_settings
    from mlwarden.core.registry import get_rule

    runner = LocalRunner(
        apply=False,
        settings=load_settings(tmp_path / "cdk.json"),
        clients=harness.clients,
        region="us-east-1",
        account=ACCOUNT,
        member_role=member_role,
    )
    return cli_organization.sweep_accounts(runner, [get_rule(RULE)], [account], workers=1)


def test_scan_from_a_workstation_uses_the_role_the_person_names_without_external_id(
    aws, harness, organization, tmp_path
):
    local = organization
    assumed = _workstation(harness, local, tmp_path)
    local.member_role(local.b)  # mlwarden's own role is there too: it must not be the one assumed
    local.as_account(local.b, "iam").create_role(
        RoleName="AuditReadOnly", AssumeRolePolicyDocument=trust_policy(None, principal=PERSON)
    )
    make_violation(local, local.b, "audited")

    decisions, notes = _scan(harness, tmp_path, local.b, "AuditReadOnly")

    judged = [(d.account, d.resource_id, d.compliance) for d in decisions if d.resource_id]
    assert judged == [(local.b, "audited", "NON_COMPLIANT")], [d.reason for d in decisions]
    assert {a["RoleArn"] for a in assumed} == {f"arn:aws:iam::{local.b}:role/AuditReadOnly"}
    assert all("ExternalId" not in a for a in assumed)
    assert not any("--member-role" in note for note in notes)


def test_scan_from_a_workstation_refused_a_member_role_suggests_member_role(aws, harness, organization, tmp_path):
    local = organization
    _workstation(harness, local, tmp_path)
    local.member_role(local.b)  # trusts the rule's central function only
    make_violation(local, local.b, "unreachable")

    decisions, notes = _scan(harness, tmp_path, local.b, None)

    assert any(d.details.get("member_role_failed") == local.b for d in decisions)
    (hint,) = [note for note in notes if "--member-role" in note]
    assert local.b in hint and "OrganizationAccountAccessRole" in hint

    decisions, notes = _scan(harness, tmp_path, local.b, "NoSuchRole")  # a role named but not there
    assert any(d.details.get("member_role_failed") == local.b for d in decisions)
    assert any("role NoSuchRole could not be assumed" in note for note in notes)
