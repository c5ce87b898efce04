"""Exemption tags (DESIGN §2.2)."""

from __future__ import annotations

from datetime import date

from mlwarden.core.exemptions import check

RULE = "s3-bucket-kms-encryption"
TODAY = date(2026, 11, 25)


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


def test_all_exempts_every_rule():
    result = check(tags(exempt="all", reason="sandbox account"), RULE, TODAY)
    assert result.exempt
    assert result.note == "exempt by tag (sandbox account)"


def test_rule_ids_joined_by_plus():
    value = tags(exempt=f"macie-sensitive-data+{RULE}")
    assert check(value, RULE, TODAY).exempt
    assert check(value, "macie-sensitive-data", TODAY).exempt
    assert not check(value, "sagemaker-notebook-direct-internet", TODAY).exempt
    assert check(tags(exempt=f" macie-sensitive-data + {RULE} "), RULE, TODAY).exempt


def test_another_rules_exemption_does_not_apply():
    result = check(tags(exempt="macie-sensitive-data", reason="x"), RULE, TODAY)
    assert not result.exempt
    assert result.note == ""


def test_missing_reason_is_said():
    assert check(tags(exempt=RULE), RULE, TODAY).note == "exempt by tag (no reason given)"


def test_until_a_future_or_today_date_is_exempt():
    assert check(tags(exempt=RULE, until="2026-12-31"), RULE, TODAY).note.endswith("until 2026-12-31")
    assert check(tags(exempt=RULE, until="2026-11-25"), RULE, TODAY).exempt
    assert check(tags(exempt=RULE, until="2026-12-31T00:00:00Z"), RULE, TODAY).exempt


def test_expired_exemption_is_not_exempt_and_says_so():
    result = check(tags(exempt=RULE, until="2026-11-24"), RULE, TODAY)
    assert not result.exempt
    assert result.note == "exemption expired on 2026-11-24"


def test_unreadable_date_is_not_exempt_and_says_so():
    result = check(tags(exempt="all", until="end of quarter"), RULE, TODAY)
    assert not result.exempt
    assert "is not an ISO date" in result.note
    assert "end of quarter" in result.note
