"""The cdk.json ``organization`` block (DESIGN §2.8) and the names both sides of an org deployment agree on."""

from __future__ import annotations

from typing import Any

import pytest

from mlwarden.core import org
from mlwarden.core.registry import all_specs
from mlwarden.core.settings import Settings, SettingsError

KNOWN = {spec.id: spec.default_mode for spec in all_specs()}
BLOCK = {
    "organizationId": "o-a1b2c3d4e5",
    "organizationalUnitIds": ["ou-ab12-cdef3456", "r-ab12"],
    "regions": ["us-east-1", "eu-west-1"],
    "centralRegion": "eu-west-1",
    "callAs": "DELEGATED_ADMIN",
}


def settings(block: Any) -> Settings:
    return Settings.from_context({"organization": block}, known=KNOWN)


def test_without_the_block_the_deployment_is_single_account() -> None:
    assert Settings.from_context({}, known=KNOWN).organization is None


def test_the_block_is_parsed() -> None:
    parsed = settings(BLOCK).organization
    assert parsed == org.OrganizationSettings(
        organization_id="o-a1b2c3d4e5",
        organizational_unit_ids=("ou-ab12-cdef3456", "r-ab12"),
        regions=("us-east-1", "eu-west-1"),
        central_region="eu-west-1",
        call_as="DELEGATED_ADMIN",
    )
    assert parsed.external_id == "mlwarden-o-a1b2c3d4e5"


def test_central_region_defaults_to_the_first_region_and_call_as_to_self() -> None:
    block = {k: v for k, v in BLOCK.items() if k not in ("centralRegion", "callAs")}
    parsed = settings(block).organization
    assert parsed is not None
    assert (parsed.central_region, parsed.call_as) == ("us-east-1", "SELF")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"organizationId": "123456789012"}, "organizationId"),
        ({"organizationalUnitIds": []}, "organizationalUnitIds"),
        ({"organizationalUnitIds": ["Sandbox"]}, "organizationalUnitIds"),
        ({"regions": []}, "regions"),
        ({"regions": ["us-east-1", "us-east-1"]}, "twice"),
        ({"regions": ["Ireland"]}, "regions"),
        ({"centralRegion": "ap-south-1"}, "centralRegion"),
        ({"callAs": "ADMIN"}, "callAs"),
        ({"region": ["us-east-1"]}, "did you mean regions?"),
    ],
)
def test_a_bad_block_fails_naming_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings({**BLOCK, **change})


def test_a_block_that_is_not_an_object_fails() -> None:
    with pytest.raises(SettingsError, match="must be an object"):
        settings(["o-a1b2c3d4e5"])


def test_every_rule_has_a_central_and_a_member_role_name_within_iams_limit() -> None:
    for spec in all_specs():
        assert org.central_role_name(spec.id) == f"mlwarden-central-{spec.id}"
        assert org.member_role_name(spec.id) == f"mlwarden-member-{spec.id}"
        assert len(org.member_role_name(spec.id)) <= org.MAX_ROLE_NAME


def test_a_rule_id_too_long_for_a_role_name_fails_clearly() -> None:
    with pytest.raises(ValueError, match="longer than 64"):
        org.member_role_name("x" * 60)
