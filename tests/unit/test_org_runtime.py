"""Organization mode at run time, pure parts: mode overrides, membership, member credentials, the loop guard's
member-role match, account-scoped exemptions and the org settings of a function's environment."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlwarden.core import events, exemptions, org
from mlwarden.core.engine import _ROLE_ARN
from mlwarden.core.members import Directory, MemberAccess, MemberRoleUnavailable, is_ou_id, session_name
from mlwarden.core.modes import ModeSource, resolve_override
from mlwarden.core.settings import RuntimeSettings, Settings, SettingsError, runtime_settings_for

ORG = "o-a1b2c3d4e5"
B, C = "111111111111", "222222222222"
SANDBOX, TEAM = "ou-ab12-sandbox1", "ou-ab12-teamaaa1"


def _denied(operation: str, code: str = "AccessDenied") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    return ClientError(response, operation)


# ----------------------------------------------------------------------------- mode resolution
def test_account_override_beats_every_ou_override():
    overrides = {"mode": "notify", f"accounts/{B}/mode": "off", f"ous/{TEAM}/mode": "remediate"}
    assert resolve_override(overrides, B, lambda: [TEAM, SANDBOX, "r-ab12"]) == ("off", f"account {B} override")


def test_nearest_ou_override_beats_farther_ancestors():
    overrides = {f"ous/{SANDBOX}/mode": "remediate", f"ous/{TEAM}/mode": "notify"}
    found = resolve_override(overrides, B, lambda: [TEAM, SANDBOX, "r-ab12"])
    assert found == ("notify", f"organizational unit {TEAM} override")
    assert resolve_override({f"ous/{SANDBOX}/mode": "remediate"}, B, lambda: [TEAM, SANDBOX])[0] == "remediate"


def test_no_override_for_the_account_means_the_global_mode():
    overrides = {"mode": "notify", f"accounts/{C}/mode": "remediate"}
    assert resolve_override(overrides, B, lambda: [TEAM]) is None


def test_ancestry_is_read_only_when_an_ou_override_exists():
    def ancestry() -> list[str]:
        raise AssertionError("ListParents called without any OU override")

    assert resolve_override({"mode": "notify", f"accounts/{C}/mode": "off"}, B, ancestry) is None


def test_an_override_holding_no_mode_is_ignored():
    overrides = {f"accounts/{B}/mode": "REMEDIATE please", f"ous/{TEAM}/mode": "notify"}
    assert resolve_override(overrides, B, lambda: [TEAM]) == ("notify", f"organizational unit {TEAM} override")


class _Modes(ModeSource):
    def __init__(self, mode: str, overrides: Any) -> None:
        super().__init__(clients=None, region="us-east-1")  # type: ignore[arg-type]
        self._mode, self._overrides = mode, overrides

    def mode(self, rule_id: str, default: str) -> str:
        return self._mode

    def overrides(self, rule_id: str) -> dict[str, str]:
        if isinstance(self._overrides, Exception):
            raise self._overrides
        return dict(self._overrides)


def test_unreadable_overrides_never_widen_the_global_mode():
    # A production account may be overridden to notify: if the overrides cannot be read, remediate is withheld.
    assert _Modes("remediate", _denied("GetParametersByPath")).mode_for("r", "notify", B) == (
        "notify",
        "overrides unreadable: remediate withheld",
    )
    assert _Modes("off", _denied("GetParametersByPath")).mode_for("r", "notify", B)[0] == "off"


def test_unreadable_ancestry_never_widens_the_global_mode():
    def ancestry() -> list[str]:
        raise _denied("ListParents")

    modes = _Modes("remediate", {f"ous/{TEAM}/mode": "notify"})
    assert modes.mode_for("r", "notify", B, ancestry)[0] == "notify"


# ----------------------------------------------------------------------------- membership
class _Organizations:
    """AWS Organizations' answers for a small organization (B under team-a under sandbox; C suspended)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.parents = {B: TEAM, TEAM: SANDBOX, SANDBOX: "r-ab12", C: SANDBOX}

    def describe_account(self, AccountId: str) -> dict[str, Any]:  # noqa: N803 (boto3's parameter name)
        self.calls.append(f"DescribeAccount {AccountId}")
        accounts = {
            B: {"Id": B, "Name": "sandbox-b", "Status": "ACTIVE"},
            C: {"Id": C, "Name": "old-c", "Status": "SUSPENDED"},
            "333333333333": {"Id": "333333333333", "Name": "other-org", "Status": "ACTIVE"},
        }
        if AccountId not in accounts:
            raise _denied("DescribeAccount", "AccountNotFoundException")
        found = dict(accounts[AccountId])
        owner = ORG if AccountId != "333333333333" else "o-zzzzzzzzzz"
        found["Arn"] = f"arn:aws:organizations::000000000000:account/{owner}/{AccountId}"
        return {"Account": found}

    def list_parents(self, ChildId: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(f"ListParents {ChildId}")
        parent = self.parents[ChildId]
        return {"Parents": [{"Id": parent, "Type": "ROOT" if parent.startswith("r-") else "ORGANIZATIONAL_UNIT"}]}


def _directory(units: tuple[str, ...] = (SANDBOX,)) -> tuple[Directory, _Organizations]:
    client = _Organizations()
    return Directory(lambda: client, ORG, units, own_account="123456789012"), client


def test_member_under_a_guarded_unit_is_covered_and_named():
    directory, _ = _directory()
    coverage = directory.coverage(B)
    assert coverage.covered and coverage.name == "sandbox-b"
    assert directory.ancestry(B) == [TEAM, SANDBOX, "r-ab12"]


def test_the_deployments_own_account_is_covered_without_asking():
    directory, client = _directory()
    assert directory.coverage("123456789012").covered
    assert client.calls == []


def test_outsiders_suspended_accounts_and_other_organizations_are_not_covered():
    directory, _ = _directory()
    assert directory.coverage("999999999999").reason == f"not in the organization {ORG}"
    assert "SUSPENDED" in directory.coverage(C).reason
    # an account another organization's management account would describe (its ARN names that organization)
    assert not directory.coverage("333333333333").covered


def test_member_outside_the_guarded_units_is_not_covered():
    directory, _ = _directory(units=("ou-ab12-prodprod",))
    coverage = directory.coverage(B)
    assert not coverage.covered and "ou-ab12-prodprod" in coverage.reason


def test_the_root_as_a_guarded_unit_covers_every_member_without_reading_ancestry():
    directory, client = _directory(units=("r-ab12",))
    assert directory.coverage(B).covered
    assert not [c for c in client.calls if c.startswith("ListParents")]


def test_what_organizations_said_is_cached():
    directory, client = _directory()
    for _ in range(3):
        directory.coverage(B)
        directory.name(B)
    assert client.calls.count(f"DescribeAccount {B}") == 1
    assert client.calls.count(f"ListParents {B}") == 1


def test_cannot_tell_is_an_error_not_a_verdict():
    client = SimpleNamespace(describe_account=lambda **_: (_ for _ in ()).throw(_denied("DescribeAccount")))
    directory = Directory(lambda: client, ORG, (SANDBOX,))
    with pytest.raises(ClientError):
        directory.coverage(B)
    assert directory.is_member(B) is False  # the loop guard does not trust what it cannot check
    assert directory.name(B) == ""


# ----------------------------------------------------------------------------- member credentials
class _Sts:
    def __init__(self, expires_in: timedelta, fail: ClientError | None = None) -> None:
        self.expires_in, self.fail, self.calls = expires_in, fail, []

    def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        if self.fail is not None:
            raise self.fail
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"AKIA{n}",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": datetime.now(UTC) + self.expires_in,
            }
        }


def test_member_credentials_come_from_the_member_role_with_the_external_id():
    sts = _Sts(timedelta(hours=1))
    access = MemberAccess("123456789012", org.external_id(ORG), "aws", lambda: sts)
    creds = access.credentials(B, org.member_role_name("s3-bucket-public-access"), "s3-bucket-public-access")
    assert creds.get_frozen_credentials().access_key == "AKIA1"
    assert sts.calls == [
        {
            "RoleArn": f"arn:aws:iam::{B}:role/mlwarden-member-s3-bucket-public-access",
            "RoleSessionName": "mlwarden-s3-bucket-public-access",
            "ExternalId": f"mlwarden-{ORG}",
            "DurationSeconds": 3600,
        }
    ]


def test_member_credentials_are_refreshed_before_they_expire():
    sts = _Sts(timedelta(minutes=5))  # inside botocore's mandatory refresh window
    access = MemberAccess("123456789012", "x", "aws", lambda: sts)
    creds = access.credentials(B, "role", "rule")
    assert creds.get_frozen_credentials().access_key == "AKIA2"  # re-assumed, not the expiring ones
    sts.expires_in = timedelta(hours=1)
    threads = [threading.Thread(target=creds.get_frozen_credentials) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sts.calls) == 3  # one refresh, however many threads ask at once


def test_a_refused_member_role_names_the_account_and_the_role():
    sts = _Sts(timedelta(hours=1), fail=_denied("AssumeRole"))
    access = MemberAccess("123456789012", "x", "aws-us-gov", lambda: sts)
    with pytest.raises(MemberRoleUnavailable) as raised:
        access.credentials(B, "mlwarden-member-r", "r")
    assert raised.value.account == B
    assert raised.value.role_arn == f"arn:aws-us-gov:iam::{B}:role/mlwarden-member-r"
    assert f"cannot act in account {B}" in str(raised.value) and "AccessDenied" in str(raised.value)
    assert isinstance(raised.value, ClientError)  # retry/denied handling treat it as the failed call it is


def test_session_names_are_valid_role_session_names():
    assert session_name("a" * 80) == "mlwarden-" + "a" * 55
    assert session_name("r/x y") == "mlwarden-r-x-y"


# ----------------------------------------------------------------------------- loop guard match
@pytest.mark.parametrize(
    ("issuer", "name"),
    [
        (f"arn:aws:iam::{B}:role/mlwarden-member-r", "mlwarden-member-r"),
        (f"arn:aws-cn:iam::{B}:role/mlwarden-member-r", "mlwarden-member-r"),
    ],
)
def test_member_role_arns_are_recognised(issuer, name):
    match = _ROLE_ARN.match(issuer)
    assert match is not None and match["name"] == name and match["account"] == B


@pytest.mark.parametrize(
    "issuer",
    [
        f"arn:aws:iam::{B}:role/team/mlwarden-member-r",  # a role of that name under another path is another role
        f"arn:aws:iam::{B}:user/mlwarden-member-r",
        f"arn:aws:sts::{B}:assumed-role/mlwarden-member-r/session",  # a session: its name is the caller's choice
    ],
)
def test_lookalike_issuers_are_not_member_roles(issuer):
    match = _ROLE_ARN.match(issuer)
    assert match is None or match["name"] != "mlwarden-member-r"


# ----------------------------------------------------------------------------- exemptions by account
def test_account_scoped_exemption_applies_in_that_account_only():
    entries = [{"resource": "data-*", "reason": "migration", "account": B}]
    assert exemptions.check_configured(entries, ["data-lake"], account=B, own_account="123456789012").exempt
    assert not exemptions.check_configured(entries, ["data-lake"], account=C, own_account="123456789012").exempt
    assert not exemptions.check_configured(entries, ["data-lake"], account="", own_account="123456789012").exempt


def test_exemption_without_account_applies_to_the_deployments_own_account_only():
    entries = [{"resource": "*", "reason": "everything here"}]
    own = "123456789012"
    assert exemptions.check_configured(entries, ["x"], account=own, own_account=own).exempt
    assert not exemptions.check_configured(entries, ["x"], account=B, own_account=own).exempt
    assert exemptions.check_configured(entries, ["x"]).exempt  # single account: as before


def test_cdk_json_exemption_may_name_an_account_and_no_resource():
    settings = Settings.from_context(
        {"exemptions": {"all": [{"account": B, "reason": "sandbox"}]}}, known=["r"], option_keys=[]
    )
    assert settings.exemptions["all"] == ({"resource": "*", "account": B, "reason": "sandbox"},)


@pytest.mark.parametrize("account", ["*", "11111111111*", "1111", 111111111111])
def test_cdk_json_exemption_account_must_be_an_account_id(account):
    with pytest.raises(SettingsError, match="12-digit account id"):
        Settings.from_context(
            {"exemptions": {"r": [{"resource": "x", "account": account, "reason": "r"}]}}, known=["r"], option_keys=[]
        )


# ----------------------------------------------------------------------------- settings and events
def test_org_settings_reach_the_functions_environment_and_back():
    from mlwarden.core.registry import get_rule

    spec = get_rule("s3-bucket-public-access").spec
    settings = Settings.from_context(
        {"organization": {"organizationId": ORG, "organizationalUnitIds": [SANDBOX], "regions": ["us-east-1"]}},
        known=[spec.id],
        option_keys=[],
    )
    runtime = runtime_settings_for(spec, settings, account="123456789012")
    env = runtime.to_env()
    assert env[org.ENV_ORG_ID] == ORG
    assert env[org.ENV_MEMBER_ROLE] == "mlwarden-member-s3-bucket-public-access"
    assert env[org.ENV_EXTERNAL_ID] == f"mlwarden-{ORG}"
    assert env[org.ENV_ORG_OUS] == SANDBOX and env[org.ENV_ORG_REGIONS] == "us-east-1"
    back = RuntimeSettings.from_env(env)
    assert back == runtime and back.organization_mode and back.organizational_units == (SANDBOX,)


def test_single_account_environment_has_no_org_settings():
    env = RuntimeSettings(rule_id="r").to_env()
    assert not any(key in env for key in (org.ENV_ORG_ID, org.ENV_MEMBER_ROLE, org.ENV_EXTERNAL_ID))
    assert not RuntimeSettings.from_env(env).organization_mode


def test_a_forwarded_cloudtrail_event_is_about_the_account_that_made_the_call():
    event = {"source": "aws.s3", "detail-type": "AWS API Call via CloudTrail", "account": "123456789012"}
    event["detail"] = {"recipientAccountId": B, "awsRegion": "eu-west-1"}
    assert (events.account(event), events.region(event)) == (B, "eu-west-1")


def test_ou_ids_are_checked():
    assert is_ou_id(SANDBOX) and is_ou_id("r-ab12")
    assert not is_ou_id("ou-*") and not is_ou_id("123456789012")


# ----------------------------------------------------------------------------- alerts name the account
def _decision(**changes: Any) -> Any:
    from mlwarden.core.model import Decision

    base = {
        "event_id": "e",
        "rule_id": "r",
        "resource_type": "AWS::S3::Bucket",
        "resource_id": "b",
        "resource_arn": "arn:aws:s3:::b",
        "account": B,
        "region": "eu-west-1",
        "compliance": "NON_COMPLIANT",
        "action": "notified",
        "reason": "x",
        "controls": [],
    }
    return Decision(**{**base, **changes})


def test_alert_body_and_email_name_the_account_and_its_name():
    from mlwarden.core import notify

    decision = _decision(account_name="sandbox-b\nSeverity: LOW")  # a name is text someone chose
    body = json.loads(notify.message(decision))
    assert (body["account"], body["account_name"]) == (B, "sandbox-b\nSeverity: LOW")
    resource_line = next(line for line in notify.summary(decision).splitlines() if line.startswith("Resource:"))
    assert f"in {B} (sandbox-b" in resource_line and "\n" not in resource_line


def test_single_account_alert_body_has_no_account_name():
    from mlwarden.core import notify

    assert "account_name" not in json.loads(notify.message(_decision()))


def test_member_role_failures_are_counted():
    from mlwarden import handler

    handler.metrics.clear_metrics()
    handler.record_metrics(_decision(action="failed", details={"member_role_failed": B}))
    assert "MemberRoleFailures" in handler.metrics.metric_set
    handler.metrics.clear_metrics()
