"""Organization mode at run time (DESIGN §2.8): acting in member accounts, and knowing who is a member.

- ``MemberAccess``: credentials for a member account from ``sts:AssumeRole`` of the rule's member role (with the
  organization's ExternalId and a session name naming the rule), refreshed by botocore before they expire. A role
  that is missing or refuses us raises ``MemberRoleUnavailable``, which the engine turns into a ``failed``
  decision naming the account and the role (never a silent skip).
- ``Directory``: what AWS Organizations says about an account, read with the central account's own credentials
  and cached: whether it is an ACTIVE member under the organizational units the deployment guards (only those are
  acted on), its name (for alerts), its OU ancestry (per-OU mode overrides), and the accounts a sweep covers.

Nothing here is used in a single-account deployment (no ``MLWARDEN_ORG_ID`` in the environment).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from mlwarden.core import org
from mlwarden.core.errors import describe_error, error_code

# What a rule's central function calls in organization mode besides its rule's own actions (granted by the
# stack only in organization mode; tests/functional/test_zz_least_privilege.py counts them as engine actions).
CENTRAL_ACTIONS: tuple[str, ...] = (
    "sts:AssumeRole",  # on arn:<partition>:iam::*:role/<member role of the rule>
    "organizations:DescribeAccount",
    "organizations:ListParents",
    "organizations:ListChildren",  # sweeps of the organization
    "organizations:ListAccountsForParent",  # sweeps of the organization
    "ssm:GetParametersByPath",  # on parameter/mlwarden/rules/<rule id> (per-account / per-OU mode overrides)
)
CREDENTIAL_SECONDS = 3600  # the member role's session; botocore refreshes it ~15 minutes before it ends
DIRECTORY_SECONDS = 900  # how long what Organizations said about an account is believed
MAX_SESSION_NAME = 64
OU_ID = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$")
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")


def is_ou_id(value: str) -> bool:
    return bool(OU_ID.match(value))


def organizations_region(partition: str) -> str:
    """AWS Organizations' endpoint Region in a partition."""
    return {"aws-cn": "cn-northwest-1", "aws-us-gov": "us-gov-west-1"}.get(partition, "us-east-1")


def partition_of(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def session_name(rule_id: str) -> str:
    """The RoleSessionName: it names the rule in the member account's CloudTrail."""
    return _SESSION_NAME_CHARS.sub("-", f"mlwarden-{rule_id}")[:MAX_SESSION_NAME]


class MemberRoleUnavailable(ClientError):
    """The rule's member role in an account could not be assumed (missing, trust refused, denied, throttled).

    A ``ClientError`` with the STS error's code, so retry and error handling treat it like the failed call it
    is; the engine reads ``account`` and ``role_arn`` to say which account and role a human must fix."""

    def __init__(self, account: str, role_arn: str, cause: BaseException) -> None:
        if isinstance(cause, ClientError):
            response: Any = cause.response
        else:
            response = {"Error": {"Code": type(cause).__name__, "Message": describe_error(cause)}}
        super().__init__(response, "AssumeRole")
        self.account = account
        self.role_arn = role_arn
        self.cause = describe_error(cause)

    def __str__(self) -> str:
        return (
            f"cannot act in account {self.account}: sts:AssumeRole of {self.role_arn} failed ({self.cause}) — "
            "deploy the member template (StackSet) to this account, or check that role and its trust policy"
        )


@dataclass(frozen=True)
class MemberAccess:
    """How a central function reaches member accounts: its own account (never assumed into), the
    organization's ExternalId and the partition; ``sts`` gives an STS client on the function's own credentials."""

    own_account: str
    external_id: str  # "" for a role of the user's choosing (``scan --member-role``): no ExternalId is sent
    partition: str
    sts: Callable[[], Any]

    def role_arn(self, account: str, role_name: str) -> str:
        return org.role_arn(self.partition, account, role_name)

    def credentials(self, account: str, role_name: str, rule_id: str) -> RefreshableCredentials:
        """Refreshable credentials of ``role_name`` in ``account`` (thread-safe: botocore refreshes them
        under its own lock). Raises ``MemberRoleUnavailable`` now, or at a later refresh."""
        role_arn = self.role_arn(account, role_name)

        def fetch() -> dict[str, str]:
            params: dict[str, Any] = {
                "RoleArn": role_arn,
                "RoleSessionName": session_name(rule_id),
                "DurationSeconds": CREDENTIAL_SECONDS,
            }
            if self.external_id:  # mlwarden's own member roles; a role of the user's choosing takes none
                params["ExternalId"] = self.external_id
            try:
                answer = self.sts().assume_role(**params)
            except (ClientError, BotoCoreError) as exc:
                raise MemberRoleUnavailable(account, role_arn, exc) from exc
            creds = answer["Credentials"]
            expiration = creds["Expiration"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": expiration.isoformat() if hasattr(expiration, "isoformat") else str(expiration),
            }

        return RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
        )


@dataclass(frozen=True)
class Coverage:
    covered: bool
    reason: str = ""  # why not (for the decision)
    name: str = ""  # the account's name, where Organizations told it


class Directory:
    """What AWS Organizations says about accounts, cached for ``max_age`` seconds (per function instance)."""

    def __init__(
        self,
        organizations: Callable[[], Any],
        organization_id: str,
        units: tuple[str, ...] = (),
        own_account: str = "",
        max_age: float = DIRECTORY_SECONDS,
    ) -> None:
        self._client = organizations
        self.organization_id = organization_id
        self.units = units
        self.own_account = own_account
        self._max_age = max_age
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

    def _cached(self, kind: str, key: str, read: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            found = self._cache.get((kind, key))
        if found is not None and found[0] > now:
            return found[1]
        value = read()
        with self._lock:
            self._cache[(kind, key)] = (now + self._max_age, value)
        return value

    def describe(self, account: str) -> dict[str, Any] | None:
        """organizations:DescribeAccount; None when the account is not in the organization."""

        def read() -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = self._client().describe_account(AccountId=account)["Account"]
            except ClientError as exc:
                if error_code(exc) == "AccountNotFoundException":
                    return None
                raise
            # The account's ARN names its organization: arn:aws:organizations::<management>:account/o-…/<id>
            if f"/{self.organization_id}/" not in str(found.get("Arn", "")):
                return None
            return found

        value: dict[str, Any] | None = self._cached("account", account, read)
        return value

    def name(self, account: str) -> str:
        """The account's name ("" when unreadable): for alerts, never for a decision."""
        try:
            found = self.describe(account)
        except (ClientError, BotoCoreError):
            return ""
        return str((found or {}).get("Name") or "")

    def ancestry(self, account: str) -> list[str]:
        """The account's parents, nearest first, up to the root (organizations:ListParents, cached)."""

        def read() -> list[str]:
            chain: list[str] = []
            child = account
            while len(chain) < 10:  # Organizations nests OUs at most five deep under the root
                parents = self._client().list_parents(ChildId=child).get("Parents") or []
                if not parents:
                    break
                parent = str(parents[0]["Id"])
                chain.append(parent)
                if parents[0].get("Type") == "ROOT" or parent.startswith("r-"):
                    break
                child = parent
            return chain

        value: list[str] = self._cached("parents", account, read)
        return value

    def coverage(self, account: str) -> Coverage:
        """Whether this deployment acts in ``account``: its own, or an ACTIVE member of the organization under one
        of the organizational units it guards. Raises the Organizations error when it cannot tell."""
        if account == self.own_account:
            return Coverage(True)
        found = self.describe(account)
        if found is None:
            return Coverage(False, f"not in the organization {self.organization_id}")
        name = str(found.get("Name") or "")
        status = str(found.get("Status") or "ACTIVE")
        if status != "ACTIVE":
            return Coverage(False, f"the account is {status} in the organization", name)
        whole = not self.units or any(unit.startswith("r-") for unit in self.units)
        if not whole and not set(self.ancestry(account)) & set(self.units):
            units = ", ".join(self.units)
            return Coverage(False, f"not under the organizational units this deployment guards ({units})", name)
        return Coverage(True, "", name)

    def is_member(self, account: str) -> bool:
        try:
            return self.coverage(account).covered
        except (ClientError, BotoCoreError):
            return False

    def accounts(self) -> list[str]:
        """Every ACTIVE account under the guarded organizational units (the whole organization when none or the
        root is named: name the root r-… to sweep every account), sorted: what a sweep of the organization covers."""
        client = self._client()
        units = list(self.units)
        if not units:
            raise ValueError(f"no organizational units are configured ({org.ENV_ORG_OUS} is empty)")
        found: set[str] = set()
        seen: set[str] = set()
        while units:
            unit = units.pop()
            if unit in seen:
                continue
            seen.add(unit)
            for page in client.get_paginator("list_accounts_for_parent").paginate(ParentId=unit):
                found.update(str(a["Id"]) for a in page.get("Accounts", []) if a.get("Status", "ACTIVE") == "ACTIVE")
            for page in client.get_paginator("list_children").paginate(ParentId=unit, ChildType="ORGANIZATIONAL_UNIT"):
                units.extend(str(child["Id"]) for child in page.get("Children", []))
        return sorted(found)
