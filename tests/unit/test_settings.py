"""Settings: the cdk.json block (deploy time) and the Lambda environment (run time)."""

from __future__ import annotations

import re

import pytest

from mlwarden.core.registry import rule_ids
from mlwarden.core.settings import RuntimeSettings, Settings, SettingsError

KNOWN = rule_ids()


def test_empty_block_gives_every_rule_notify_with_remediation_allowed():
    settings = Settings.from_context({}, known=KNOWN)
    assert set(settings.rules) == set(KNOWN)
    assert all(r.mode == "notify" and r.allow_remediation for r in settings.rules.values())
    assert settings.kms_key_arn is None


def test_rule_entries_are_read():
    settings = Settings.from_context(
        {"rules": {"s3-bucket-kms-encryption": {"mode": "remediate", "allowRemediation": False}}}, known=KNOWN
    )
    rule = settings.rule("s3-bucket-kms-encryption")
    assert (rule.mode, rule.allow_remediation) == ("remediate", False)


def test_unknown_rule_id_fails_with_a_message_naming_it_and_the_known_ids():
    with pytest.raises(SettingsError) as raised:
        Settings.from_context({"rules": {"s3-bucket-kms": {"mode": "notify"}}}, known=KNOWN)
    message = str(raised.value)
    assert "unknown rule id(s) s3-bucket-kms" in message
    assert "s3-bucket-kms-encryption" in message  # the known ids help spot the typo


def test_bad_mode_names_the_rule_and_the_valid_modes():
    with pytest.raises(SettingsError) as raised:
        Settings.from_context({"rules": {"macie-sensitive-data": {"mode": "enforce"}}}, known=KNOWN)
    assert str(raised.value) == (
        "cdk.json mlwarden.rules.macie-sensitive-data.mode is 'enforce'; use one of off, notify, remediate"
    )


@pytest.mark.parametrize("value", ["false", 0, None, "no"])
def test_allow_remediation_must_be_a_boolean(value):
    with pytest.raises(SettingsError, match="allowRemediation must be true or false"):
        Settings.from_context({"rules": {"macie-sensitive-data": {"allowRemediation": value}}}, known=KNOWN)


@pytest.mark.parametrize(
    ("block", "says"),
    [
        ({"rules": ["s3-bucket-kms-encryption"]}, "must be an object keyed by rule id"),
        ({"rules": {"s3-bucket-kms-encryption": "remediate"}}, "must be an object"),
        ({"notificationEmails": ["not-an-email"]}, "notificationEmails"),
        ({"kmsKeyArn": "alias/mine"}, "kmsKeyArn must be a KMS key ARN"),
    ],
)
def test_other_invalid_blocks(block, says):
    with pytest.raises(SettingsError, match=says):
        Settings.from_context(block, known=KNOWN)


def test_runtime_settings_round_trip_through_the_lambda_environment():
    settings = RuntimeSettings(
        rule_id="macie-sensitive-data",
        default_mode="remediate",
        allow_remediation=False,
        topic_arn="arn:aws:sns:us-east-1:123456789012:alerts",
        quarantine_bucket="q",
    )
    assert RuntimeSettings.from_env(settings.to_env()) == settings
    assert settings.to_env()["MLWARDEN_RULE_ID"] == "macie-sensitive-data"


def test_runtime_settings_need_the_rule_id():
    with pytest.raises(SettingsError, match="MLWARDEN_RULE_ID is not set"):
        RuntimeSettings.from_env({})


def test_runtime_settings_for_a_rule_carry_every_cdk_json_setting_it_runs_with():
    from mlwarden.core.registry import get_rule
    from mlwarden.core.settings import runtime_settings_for

    exemption = {"resource": "legacy-*", "reason": "migrating"}
    block = {
        "rules": {"s3-bucket-kms-encryption": {"mode": "remediate", "allowRemediation": False}},
        "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "exemptions": {"s3-bucket-kms-encryption": [exemption], "all": [{"resource": "x", "reason": "y"}]},
        "dedupWindowSeconds": 60,
        "maxRemediationsPerHour": 7,
        "auditRetentionDays": 30,
        "securityHub": True,
        "chatbotNotifications": True,
    }
    settings = Settings.from_context(block, known=KNOWN)
    runtime = runtime_settings_for(get_rule("s3-bucket-kms-encryption").spec, settings, quarantine_bucket="q")
    assert (runtime.default_mode, runtime.allow_remediation) == ("remediate", False)
    assert runtime.kms_key_arn == block["kmsKeyArn"]
    assert runtime.exemption_entries() == [exemption, {"resource": "x", "reason": "y"}]
    assert (runtime.dedup_seconds, runtime.max_remediations_per_hour, runtime.audit_ttl_days) == (60, 7, 30)
    assert runtime.security_hub and runtime.chatbot
    # Only the rule with the quarantine feature gets the bucket, and only when macieQuarantine is on
    assert runtime.quarantine_bucket is None
    macie = get_rule("macie-sensitive-data").spec
    assert runtime_settings_for(macie, settings, quarantine_bucket="q").quarantine_bucket is None
    quarantining = Settings.from_context({**block, "macieQuarantine": True}, known=KNOWN)
    assert runtime_settings_for(macie, quarantining, quarantine_bucket="q").quarantine_bucket == "q"


# ------------------------------------------------------------------ misspelt keys (issue 16): never ignored
@pytest.mark.parametrize(
    ("block", "says"),
    [
        (
            {"notificationEmail": ["secops@example.com"]},
            "cdk.json mlwarden.notificationEmail is not a known key; did you mean notificationEmails?",
        ),
        ({"kmsKeyARN": None}, "cdk.json mlwarden.kmsKeyARN is not a known key; did you mean kmsKeyArn?"),
        ({"securityhub": True}, "cdk.json mlwarden.securityhub is not a known key; did you mean securityHub?"),
        (
            {"rules": {"macie-sensitive-data": {"enabled": False}}},
            "cdk.json mlwarden.rules.macie-sensitive-data.enabled is not a known key; did you mean deploy?",
        ),
        (
            {"rules": {"macie-sensitive-data": {"allowRemediaton": False}}},
            "cdk.json mlwarden.rules.macie-sensitive-data.allowRemediaton is not a known key; "
            "did you mean allowRemediation?",
        ),
        (
            {"exemptions": {"all": [{"resource": "b", "reason": "r", "untill": "2099-01-01"}]}},
            "cdk.json mlwarden.exemptions.all[0].untill is not a known key; did you mean until?",
        ),
        ({"trustedAccount": ["111122223333"]}, "did you mean trustedAccounts?"),
    ],
)
def test_misspelt_key_fails_with_the_nearest_known_key_instead_of_being_ignored(block, says):
    with pytest.raises(SettingsError, match=re.escape(says)):
        Settings.from_context(block, known=KNOWN)


def test_a_key_with_no_near_spelling_fails_naming_the_known_keys():
    with pytest.raises(SettingsError, match=r"mlwarden.rules.macie-sensitive-data.colour is not a known key; known"):
        Settings.from_context({"rules": {"macie-sensitive-data": {"colour": "red"}}}, known=KNOWN)


def test_every_key_the_readme_documents_and_every_rule_option_is_accepted():
    from mlwarden.core.registry import all_specs

    options = {option.key: option.default for spec in all_specs() for option in spec.options}
    block = {
        "rules": {"macie-sensitive-data": {"mode": "notify", "allowRemediation": True, "deploy": True}},
        "notificationEmails": [],
        "kmsKeyArn": None,
        "macieQuarantine": False,
        "powertoolsLayerArn": None,
        "configFrequency": "TwentyFour_Hours",
        "exemptions": {"all": [{"resource": "b", "reason": "r", "until": "2099-01-01"}]},
        "dedupWindowSeconds": 300,
        "maxExemptionDays": 90,
        "maxRemediationsPerHour": 3,
        "auditRetentionDays": 365,
        "alarmEmails": [],
        "securityHub": False,
        "chatbotNotifications": False,
        **options,
    }
    assert options  # the rules declare options, and each is a known key
    Settings.from_context(block, known=KNOWN)


# ------------------------------------------------------------------ deploy: false (issue 16): a subset
def test_every_rule_is_deployed_unless_cdk_json_leaves_it_out():
    settings = Settings.from_context({"rules": {"macie-sensitive-data": {"deploy": False}}}, known=KNOWN)
    assert not settings.deployed("macie-sensitive-data")
    assert settings.left_out() == ["macie-sensitive-data"]
    assert all(settings.deployed(rule_id) for rule_id in KNOWN if rule_id != "macie-sensitive-data")
    assert Settings.from_context({}, known=KNOWN).left_out() == []


@pytest.mark.parametrize("value", ["false", 0, None])
def test_deploy_must_be_a_boolean(value):
    with pytest.raises(SettingsError, match="rules.macie-sensitive-data.deploy must be true or false"):
        Settings.from_context({"rules": {"macie-sensitive-data": {"deploy": value}}}, known=KNOWN)


def test_leaving_out_every_rule_fails_rather_than_deploying_nothing():
    with pytest.raises(SettingsError, match="leaves every rule out of the deployment"):
        Settings.from_context({"rules": {rule_id: {"deploy": False} for rule_id in KNOWN}}, known=KNOWN)
