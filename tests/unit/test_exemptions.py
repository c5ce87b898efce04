"""Exemption tags (DESIGN §2.2). Whoever can tag a resource can write them: an exemption needs a reason and an
expiry no further than cdk.json ``maxExemptionDays`` (default 90) ahead, written as a whole ISO date."""

from __future__ import annotations

from datetime import date

import pytest

from mlwarden.core.exemptions import check, check_configured

RULE = "s3-bucket-kms-encryption"
TODAY = date(2026, 11, 25)
SOON = "2026-12-31"


def tags(**values: str) -> dict[str, str]:
    names = {
        "exempt": "mlwarden:exempt",
        "reason": "mlwarden:exempt-reason",
        "until": "mlwarden:exempt-until",
    }
    return {names[k]: v for k, v in values.items()}


def test_no_tags_is_not_exempt():
    assert not check(None, RULE).exempt
    assert not check({}, RULE).exempt
    assert not check({"team": "ml"}, RULE).exempt


def test_all_exempts_every_rule_with_reason_and_expiry():
    result = check(tags(exempt="all", reason="sandbox account", until=SOON), RULE, TODAY)
    assert result.exempt
    assert result.note == f"exempt by tag (sandbox account) until {SOON}"
    assert result.until == date(2026, 12, 31)


def test_rule_ids_joined_by_plus():
    value = tags(exempt=f"macie-sensitive-data+{RULE}", reason="x", until=SOON)
    assert check(value, RULE, TODAY).exempt
    assert check(value, "macie-sensitive-data", TODAY).exempt
    assert not check(value, "sagemaker-notebook-direct-internet", TODAY).exempt
    assert check({**value, "mlwarden:exempt": f" macie-sensitive-data + {RULE} "}, RULE, TODAY).exempt


def test_another_rules_exemption_does_not_apply():
    result = check(tags(exempt="macie-sensitive-data", reason="x", until=SOON), RULE, TODAY)
    assert not result.exempt
    assert result.note == ""


def test_attack_exemption_without_a_reason_is_ignored():
    result = check(tags(exempt=RULE, until=SOON), RULE, TODAY)
    assert not result.exempt
    assert "reason is required" in result.note
    assert not check(tags(exempt=RULE, reason="   ", until=SOON), RULE, TODAY).exempt


def test_attack_exemption_without_an_expiry_is_ignored():
    result = check(tags(exempt="all", reason="forever please"), RULE, TODAY)
    assert not result.exempt
    assert "exempt-until is missing" in result.note


@pytest.mark.parametrize(
    "until", ["2026-12-31T00:00:00Z", "2026-12-31 or later", "2026-12-31x", "31/12/2026", "2026-1-5"]
)
def test_attack_exempt_until_with_trailing_text_or_another_format_is_ignored(until):
    result = check(tags(exempt=RULE, reason="x", until=until), RULE, TODAY)
    assert not result.exempt
    assert "whole ISO date" in result.note
    assert until not in result.note  # tag values are not copied into alerts and logs


def test_attack_exempt_until_far_in_the_future_is_ignored():
    result = check(tags(exempt="all", reason="x", until="2099-01-01"), RULE, TODAY)
    assert not result.exempt
    assert "more than 90 days ahead" in result.note
    # exactly the limit is accepted; the limit comes from cdk.json maxExemptionDays
    assert check(tags(exempt="all", reason="x", until="2027-02-23"), RULE, TODAY).exempt
    assert not check(tags(exempt="all", reason="x", until="2027-02-24"), RULE, TODAY).exempt
    assert check(tags(exempt="all", reason="x", until="2027-11-01"), RULE, TODAY, max_days=365).exempt


def test_until_today_is_still_exempt_and_yesterday_is_expired():
    assert check(tags(exempt=RULE, reason="x", until="2026-11-25"), RULE, TODAY).exempt
    result = check(tags(exempt=RULE, reason="x", until="2026-11-24"), RULE, TODAY)
    assert not result.exempt
    assert result.note == "exemption expired on 2026-11-24"


def test_impossible_date_is_not_exempt():
    result = check(tags(exempt="all", reason="x", until="2026-02-30"), RULE, TODAY)
    assert not result.exempt and "not a valid date" in result.note


def test_cdk_json_exemption_needs_a_reason_and_a_whole_date():
    names = ["legacy-export"]
    assert check_configured([{"resource": "legacy-*", "reason": "migrating"}], names, TODAY).exempt
    assert not check_configured([{"resource": "legacy-*", "reason": ""}], names, TODAY).exempt
    bad = check_configured([{"resource": "legacy-*", "reason": "x", "until": "2099-01-01 maybe"}], names, TODAY)
    assert not bad.exempt and "whole ISO date" in bad.note


def test_an_exemption_in_force_says_where_it_is_declared_and_its_reason_for_the_audit_trail():
    by_tag = check(tags(exempt="all", reason="sandbox account", until=SOON), RULE, TODAY)
    assert (by_tag.source, by_tag.reason) == ("tag", "sandbox account")
    configured = check_configured([{"resource": "legacy-*", "reason": "migrating"}], ["legacy-1"], TODAY)
    assert (configured.source, configured.reason, configured.until) == ("cdk.json", "migrating", None)
    # an exemption that is not in force declares nothing
    assert check(tags(exempt="all", reason="x"), RULE, TODAY).source == ""
