"""Organization mode (DESIGN §2.8): the names the central deployment and the member template agree on.

With an ``organization`` block in the cdk.json ``mlwarden`` context, one central deployment (the rule functions,
switches, tables, topics and a central event bus admitting only the organization) guards every account of the
organizational units it names, in the Regions it names. A service-managed StackSet puts into each member account
and Region the forwarding rules (the same narrow patterns as the central rules) and, once per account, one role
per rule that only that rule's central function may assume. Without the block nothing here is used.

Both sides are built from the names below, so a function always knows which role to assume in which account:

- the central function of rule ``r`` runs as ``central_role_name(r)`` (a fixed name: member trust policies name it);
- in every member account, ``member_role_name(r)`` holds exactly rule ``r``'s actions and trusts only that role,
  inside the organization (``aws:PrincipalOrgID``) and with ``external_id(org)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Environment of every rule function in organization mode (absent in a single-account deployment).
ENV_ORG_ID = "MLWARDEN_ORG_ID"  # the organization: member roles are assumed only inside it
ENV_MEMBER_ROLE = "MLWARDEN_MEMBER_ROLE"  # this rule's role name in member accounts
ENV_EXTERNAL_ID = "MLWARDEN_EXTERNAL_ID"  # sts:ExternalId the member roles require
ENV_ORG_REGIONS = "MLWARDEN_ORG_REGIONS"  # comma-separated Regions the organization deployment covers
ENV_ORG_OUS = "MLWARDEN_ORG_OUS"  # comma-separated OU ids the member template is deployed to

CONTEXT_BLOCK = "organization"
CENTRAL_BUS_NAME = "mlwarden-central"
# IAM (a global service) delivers its CloudTrail events in us-east-1 only: the member template forwards them, and
# creates the member roles (global too), only in this Region, so nothing global is made or forwarded twice.
GLOBAL_REGION = "us-east-1"
MAX_ROLE_NAME = 64
CALL_AS = ("SELF", "DELEGATED_ADMIN")

_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_OU_ID = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _role_name(prefix: str, rule_id: str) -> str:
    name = f"{prefix}{rule_id}"
    if len(name) > MAX_ROLE_NAME:
        raise ValueError(f"{name}: longer than {MAX_ROLE_NAME} characters (IAM role name); shorten the rule id")
    return name


def central_role_name(rule_id: str) -> str:
    """The fixed name of rule ``rule_id``'s function role in the central account (organization mode only)."""
    return _role_name("mlwarden-central-", rule_id)


def member_role_name(rule_id: str) -> str:
    """The name of rule ``rule_id``'s role in every member account."""
    return _role_name("mlwarden-member-", rule_id)


def forwarder_role_name(region: str) -> str:
    """The role EventBridge assumes in a member account to forward from ``region`` to the central bus (IAM is
    global: one per Region, so the StackSet's instances in several Regions of an account do not collide)."""
    return f"mlwarden-forwarder-{region}"


def role_arn(partition: str, account: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{role_name}"


def external_id(organization_id: str) -> str:
    """The ``sts:ExternalId`` every member role requires of its central function."""
    return f"mlwarden-{organization_id}"


def is_account_id(value: str) -> bool:
    return bool(_ACCOUNT.match(value))


class OrganizationError(ValueError):
    """The cdk.json ``mlwarden.organization`` block is invalid; the message says what to change."""


@dataclass(frozen=True)
class OrganizationSettings:
    """The cdk.json ``mlwarden.organization`` block::

    "organization": {
      "organizationId": "o-a1b2c3d4e5",
      "organizationalUnitIds": ["ou-ab12-cdef3456"],
      "regions": ["us-east-1", "eu-west-1"],
      "centralRegion": "us-east-1",
      "callAs": "SELF"
    }

    ``callAs``: ``SELF`` when the central account is the management account, ``DELEGATED_ADMIN`` when it is a
    delegated administrator for CloudFormation StackSets.
    """

    organization_id: str
    organizational_unit_ids: tuple[str, ...]
    regions: tuple[str, ...]
    central_region: str
    call_as: str = "SELF"

    KEYS = ("organizationId", "organizationalUnitIds", "regions", "centralRegion", "callAs")

    @property
    def external_id(self) -> str:
        return external_id(self.organization_id)

    @classmethod
    def from_context(cls, block: Any) -> OrganizationSettings | None:
        """Parse the block (``None`` when absent). Raises OrganizationError naming the key to change."""
        if block is None:
            return None
        where = "cdk.json mlwarden.organization"
        if not isinstance(block, Mapping):
            raise OrganizationError(f"{where} must be an object (organizationId, organizationalUnitIds, regions...)")
        from mlwarden.core.settings import check_keys

        check_keys(block, cls.KEYS, "mlwarden.organization")
        org_id = block.get("organizationId")
        if not isinstance(org_id, str) or not _ORG_ID.match(org_id):
            raise OrganizationError(f"{where}.organizationId must be an organization id like o-a1b2c3d4e5")
        ous = block.get("organizationalUnitIds")
        if not isinstance(ous, list) or not ous or not all(isinstance(o, str) and _OU_ID.match(o) for o in ous):
            raise OrganizationError(
                f"{where}.organizationalUnitIds must be a non-empty list of OU ids (ou-xxxx-yyyyyyyy) "
                "or the root (r-xxxx)"
            )
        regions = block.get("regions")
        if (
            not isinstance(regions, list)
            or not regions
            or not all(isinstance(r, str) and _REGION.match(r) for r in regions)
        ):
            raise OrganizationError(f"{where}.regions must be a non-empty list of Region names like eu-west-1")
        if len(set(regions)) != len(regions):
            raise OrganizationError(f"{where}.regions lists a Region twice")
        central = block.get("centralRegion", regions[0])
        if not isinstance(central, str) or central not in regions:
            raise OrganizationError(f"{where}.centralRegion must be one of its regions ({', '.join(regions)})")
        call_as = block.get("callAs", "SELF")
        if call_as not in CALL_AS:
            raise OrganizationError(f"{where}.callAs must be SELF (management account) or DELEGATED_ADMIN")
        return cls(
            organization_id=org_id,
            organizational_unit_ids=tuple(dict.fromkeys(ous)),
            regions=tuple(regions),
            central_region=central,
            call_as=call_as,
        )
