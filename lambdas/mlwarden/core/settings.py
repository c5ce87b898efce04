"""Settings: the cdk.json ``mlwarden`` block (deploy time) and the Lambda environment (run time).

``Settings.from_context`` is the one place the cdk.json block is read; the CDK stack and the CLI both use it.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlwarden.core import org
from mlwarden.core.model import MODE_NOTIFY, MODES
from mlwarden.core.org import OrganizationError, OrganizationSettings

if TYPE_CHECKING:
    from mlwarden.core.spec import RuleSpec

CONTEXT_KEY = "mlwarden"

# Environment variables of every rule Lambda (MLWARDEN_RULE_ID is the contract; the rest are ours).
ENV_RULE_ID = "MLWARDEN_RULE_ID"
ENV_TOPIC_ARN = "MLWARDEN_TOPIC_ARN"
ENV_DEFAULT_MODE = "MLWARDEN_DEFAULT_MODE"
ENV_ALLOW_REMEDIATION = "MLWARDEN_ALLOW_REMEDIATION"
ENV_KMS_KEY_ARN = "MLWARDEN_KMS_KEY_ARN"
ENV_QUARANTINE_BUCKET = "MLWARDEN_QUARANTINE_BUCKET"
ENV_MAX_ATTEMPTS = "MLWARDEN_MAX_ATTEMPTS"
ENV_OPTIONS = "MLWARDEN_OPTIONS"  # JSON object: the rule's Option values from cdk.json
ENV_EXEMPTIONS = "MLWARDEN_EXEMPTIONS"  # JSON list: cdk.json exemptions of this rule
ENV_IDEMPOTENCY_TABLE = "MLWARDEN_IDEMPOTENCY_TABLE"  # DynamoDB table (Powertools Idempotency)
ENV_AUDIT_TABLE = "MLWARDEN_AUDIT_TABLE"  # DynamoDB table of decisions and remediation counters
ENV_AUDIT_TTL_DAYS = "MLWARDEN_AUDIT_TTL_DAYS"
ENV_DEDUP_SECONDS = "MLWARDEN_DEDUP_SECONDS"
ENV_MAX_REMEDIATIONS = "MLWARDEN_MAX_REMEDIATIONS_PER_HOUR"
ENV_SECURITY_HUB = "MLWARDEN_SECURITY_HUB"  # "true": import every verdict into Security Hub
ENV_CHATBOT = "MLWARDEN_CHATBOT"  # "true": HTTPS subscribers get AWS Chatbot custom notifications
ENV_ROLE_ARN = "MLWARDEN_ROLE_ARN"  # the function's own role: the loop guard ignores calls made by it, no others
ENV_ACCOUNT = "MLWARDEN_ACCOUNT"  # the deployment's account: resources of other accounts are not handled
ENV_MAX_EXEMPTION_DAYS = "MLWARDEN_MAX_EXEMPTION_DAYS"  # furthest mlwarden:exempt-until a tag may set

DEFAULT_DEDUP_SECONDS = 300
DEFAULT_MAX_REMEDIATIONS_PER_HOUR = 3
DEFAULT_AUDIT_RETENTION_DAYS = 365
DEFAULT_MAX_EXEMPTION_DAYS = 90

KILL_SWITCH_PARAMETER = "/mlwarden/kill-switch"
# Tag on each mode parameter: "false" when the deployment withheld the rule's remediation actions.
ALLOW_REMEDIATION_TAG = "mlwarden:allow-remediation"


# The keys of the cdk.json block Settings reads (rule options, declared by the rule specs, are known keys too).
TOP_LEVEL_KEYS = (
    "rules",
    "notificationEmails",
    "kmsKeyArn",
    "macieQuarantine",
    "powertoolsLayerArn",
    "configFrequency",
    "exemptions",
    "dedupWindowSeconds",
    "maxExemptionDays",
    "maxRemediationsPerHour",
    "auditRetentionDays",
    "alarmEmails",
    "securityHub",
    "chatbotNotifications",
    "organization",
)
RULE_KEYS = ("mode", "allowRemediation", "deploy")
# "account" (organization mode): the entry exempts only in that account; without "resource", the whole account.
EXEMPTION_KEYS = ("resource", "reason", "until", "account")
# Words a user may reach for that are no near spelling of the key meant: the key to suggest instead.
KEY_HINTS = {"enabled": "deploy", "enable": "deploy", "disabled": "deploy", "deployed": "deploy"}


def mode_parameter_name(rule_id: str) -> str:
    return f"/mlwarden/rules/{rule_id}/mode"


# Every rule's function, EventBridge rules, AWS Config rule and sweep schedule is named "mlwarden-<rule id>…":
# the tamper watch recognises mlwarden's own EventBridge rules, schedules and Config rules by this prefix.
NAME_PREFIX = "mlwarden-"
# EventBridge rule and Scheduler schedule names: at most 64 characters.
MAX_NAME_LENGTH = 64


def resource_name(rule_id: str, index: int = 0) -> str:
    """The name of a rule's function, Config rule and schedule (``index`` 0), and of its EventBridge rules (the
    first unsuffixed, later ones ``-2``, ``-3`` …)."""
    name = f"{NAME_PREFIX}{rule_id}" + (f"-{index + 1}" if index else "")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{name}: longer than {MAX_NAME_LENGTH} characters; shorten the rule id {rule_id!r}")
    return name


class SettingsError(ValueError):
    """The cdk.json ``mlwarden`` block is invalid; the message says what to change."""


def check_keys(entry: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """SettingsError for the first key of ``entry`` that is not in ``known``, naming the nearest known key:
    a misspelt key would otherwise be ignored silently (``notificationEmail`` and alerts reach nobody)."""
    known = list(known)
    for key in entry:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = KEY_HINTS.get(str(key).lower()) if not close else close[0]
        if hint is None:
            # no near spelling: a key that differs only in case, or else the list of what is known
            hint = next((k for k in known if k.lower() == str(key).lower()), None)
        suggestion = f"did you mean {hint}?" if hint else f"known keys: {', '.join(sorted(known))}"
        raise SettingsError(f"cdk.json {where}.{key} is not a known key; {suggestion}")


@dataclass(frozen=True)
class RuleSettings:
    mode: str = MODE_NOTIFY
    allow_remediation: bool = True
    deploy: bool = True  # false: the rule is left out of the deployment (no function, rules, switch, alarms)


@dataclass(frozen=True)
class Settings:
    rules: Mapping[str, RuleSettings]
    notification_emails: tuple[str, ...] = ()
    kms_key_arn: str | None = None
    macie_quarantine: bool = False
    powertools_layer_arn: str | None = None
    config_frequency: str = "TwentyFour_Hours"
    # Safety (README "Safety"): exemptions for resources without tags, duplicate window, loop limit, audit.
    exemptions: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict)
    dedup_window_seconds: int = DEFAULT_DEDUP_SECONDS
    max_remediations_per_hour: int = DEFAULT_MAX_REMEDIATIONS_PER_HOUR
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS
    alarm_emails: tuple[str, ...] = ()
    max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS
    # Ecosystem (README): Security Hub import, Chatbot-formatted alerts.
    security_hub: bool = False
    chatbot: bool = False
    # Organization mode (DESIGN §2.8, core/org.py): None in a single-account deployment.
    organization: OrganizationSettings | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def rule(self, rule_id: str) -> RuleSettings:
        return self.rules.get(rule_id, RuleSettings())

    def deployed(self, rule_id: str) -> bool:
        """False when cdk.json leaves the rule out of the deployment (``rules.<id>.deploy: false``)."""
        return self.rule(rule_id).deploy

    def left_out(self) -> list[str]:
        """The rule ids cdk.json leaves out of the deployment, sorted."""
        return sorted(rule_id for rule_id, rule in self.rules.items() if not rule.deploy)

    def option_values(self, spec: RuleSpec) -> dict[str, Any]:
        """The rule's options (top-level keys of the cdk.json block), defaults filled in, types checked."""
        values = {}
        for option in spec.options:
            try:
                values[option.key] = option.check(self.raw.get(option.key, option.default))
            except ValueError as exc:
                raise SettingsError(str(exc)) from None
        return values

    def options_json(self, spec: RuleSpec) -> str:
        values = self.option_values(spec)
        return json.dumps(values, sort_keys=True, separators=(",", ":")) if values else ""

    def exemptions_json(self, rule_id: str) -> str:
        entries = list(self.exemptions.get(rule_id, ())) + list(self.exemptions.get("all", ()))
        return json.dumps(entries, sort_keys=True, separators=(",", ":")) if entries else ""

    @classmethod
    def from_context(
        cls,
        block: Mapping[str, Any] | None,
        *,
        known: Mapping[str, str] | Iterable[str],
        option_keys: Iterable[str] | None = None,
    ) -> Settings:
        """Parse the cdk.json block. ``known`` maps rule id -> default mode (or lists the ids); ``option_keys``
        are the top-level keys rule specs declare as options (by default those of every registered rule).

        Every key must be one Settings reads: an unknown key fails with the nearest known one.
        """
        block = dict(block or {})
        defaults = dict(known) if isinstance(known, Mapping) else dict.fromkeys(known, MODE_NOTIFY)
        if option_keys is None:
            from mlwarden.core.registry import all_specs

            option_keys = [option.key for spec in all_specs() for option in spec.options]
        check_keys(block, [*TOP_LEVEL_KEYS, *option_keys], CONTEXT_KEY)
        raw_rules = block.get("rules", {})
        if raw_rules is None:
            raw_rules = {}
        if not isinstance(raw_rules, Mapping):
            raise SettingsError("cdk.json mlwarden.rules must be an object keyed by rule id")
        unknown = sorted(set(raw_rules) - set(defaults))
        if unknown:
            raise SettingsError(
                f"cdk.json mlwarden.rules names unknown rule id(s) {', '.join(unknown)}; "
                f"known ids: {', '.join(sorted(defaults))}"
            )
        rules: dict[str, RuleSettings] = {}
        for rule_id, default_mode in defaults.items():
            entry = raw_rules.get(rule_id) or {}
            if not isinstance(entry, Mapping):
                raise SettingsError(f"cdk.json mlwarden.rules.{rule_id} must be an object")
            check_keys(entry, RULE_KEYS, f"{CONTEXT_KEY}.rules.{rule_id}")
            mode = entry.get("mode", default_mode)
            if mode not in MODES:
                raise SettingsError(
                    f"cdk.json mlwarden.rules.{rule_id}.mode is {mode!r}; use one of {', '.join(MODES)}"
                )
            allow = entry.get("allowRemediation", True)
            if not isinstance(allow, bool):
                raise SettingsError(f"cdk.json mlwarden.rules.{rule_id}.allowRemediation must be true or false")
            deploy = entry.get("deploy", True)
            if not isinstance(deploy, bool):
                raise SettingsError(f"cdk.json mlwarden.rules.{rule_id}.deploy must be true or false")
            rules[rule_id] = RuleSettings(mode=mode, allow_remediation=allow, deploy=deploy)
        if defaults and not any(rule.deploy for rule in rules.values()):
            raise SettingsError(
                "cdk.json mlwarden.rules leaves every rule out of the deployment (deploy: false); "
                "keep at least one rule, or do not deploy mlwarden"
            )
        emails = block.get("notificationEmails") or []
        if not isinstance(emails, list) or not all(isinstance(e, str) and "@" in e for e in emails):
            raise SettingsError("cdk.json mlwarden.notificationEmails must be a list of e-mail addresses")
        kms_key_arn = block.get("kmsKeyArn")
        if kms_key_arn is not None and not (isinstance(kms_key_arn, str) and kms_key_arn.startswith("arn:")):
            raise SettingsError("cdk.json mlwarden.kmsKeyArn must be a KMS key ARN or null")
        exemptions = _parse_exemptions(block.get("exemptions"), set(defaults))
        alarm_emails = block.get("alarmEmails") or []
        if not isinstance(alarm_emails, list) or not all(isinstance(e, str) and "@" in e for e in alarm_emails):
            raise SettingsError("cdk.json mlwarden.alarmEmails must be a list of e-mail addresses")
        try:
            organization = OrganizationSettings.from_context(block.get("organization"))
        except OrganizationError as exc:
            raise SettingsError(str(exc)) from None
        return cls(
            organization=organization,
            rules=rules,
            exemptions=exemptions,
            dedup_window_seconds=_positive_int(block, "dedupWindowSeconds", DEFAULT_DEDUP_SECONDS),
            max_remediations_per_hour=_positive_int(block, "maxRemediationsPerHour", DEFAULT_MAX_REMEDIATIONS_PER_HOUR),
            audit_retention_days=_positive_int(block, "auditRetentionDays", DEFAULT_AUDIT_RETENTION_DAYS),
            alarm_emails=tuple(alarm_emails),
            max_exemption_days=_positive_int(block, "maxExemptionDays", DEFAULT_MAX_EXEMPTION_DAYS),
            security_hub=_bool(block, "securityHub"),
            chatbot=_bool(block, "chatbotNotifications"),
            notification_emails=tuple(emails),
            kms_key_arn=kms_key_arn,
            macie_quarantine=bool(block.get("macieQuarantine", False)),
            powertools_layer_arn=block.get("powertoolsLayerArn"),
            config_frequency=str(block.get("configFrequency", "TwentyFour_Hours")),
            raw=block,
        )

    @classmethod
    def from_cdk_json(cls, path: Path, *, known: Mapping[str, str] | Iterable[str]) -> Settings:
        block: Mapping[str, Any] = {}
        if path.is_file():
            block = json.loads(path.read_text()).get("context", {}).get(CONTEXT_KEY, {})
        return cls.from_context(block, known=known)


def _bool(block: Mapping[str, Any], key: str) -> bool:
    value = block.get(key, False)
    if not isinstance(value, bool):
        raise SettingsError(f"cdk.json mlwarden.{key} must be true or false")
    return value


def _positive_int(block: Mapping[str, Any], key: str, default: int) -> int:
    value = block.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise SettingsError(f"cdk.json mlwarden.{key} must be a whole number of at least 1")


def _parse_exemptions(raw: Any, known: set[str]) -> dict[str, tuple[Mapping[str, str], ...]]:
    """``{"<rule-id>|all": [{"resource": "<id>", "reason": "...", "until": "YYYY-MM-DD"}]}``"""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SettingsError("cdk.json mlwarden.exemptions must be an object keyed by rule id (or 'all')")
    out: dict[str, tuple[Mapping[str, str], ...]] = {}
    for rule_id, entries in raw.items():
        if rule_id != "all" and rule_id not in known:
            raise SettingsError(f"cdk.json mlwarden.exemptions names unknown rule id {rule_id!r}")
        if not isinstance(entries, list):
            raise SettingsError(f"cdk.json mlwarden.exemptions.{rule_id} must be a list")
        for index, entry in enumerate(entries):
            if (
                not isinstance(entry, Mapping)
                or not (entry.get("resource") or entry.get("account"))
                or not entry.get("reason")
            ):
                raise SettingsError(
                    f"cdk.json mlwarden.exemptions.{rule_id}: each entry needs a 'resource' (or an 'account') "
                    "and a 'reason'"
                )
            check_keys(entry, EXEMPTION_KEYS, f"{CONTEXT_KEY}.exemptions.{rule_id}[{index}]")
            account = entry.get("account")
            if account is not None and not (isinstance(account, str) and org.is_account_id(account)):
                raise SettingsError(
                    f"cdk.json mlwarden.exemptions.{rule_id}[{index}].account must be a 12-digit account id "
                    "(no wildcard: an exemption never reaches beyond the account it names)"
                )
        out[rule_id] = tuple({"resource": "*", **e} if not e.get("resource") else dict(e) for e in entries)
    return out


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class RuntimeSettings:
    """What one rule Lambda (or one CLI run for one rule) needs to know besides the rule itself."""

    rule_id: str
    default_mode: str = MODE_NOTIFY
    allow_remediation: bool = True
    topic_arn: str | None = None
    kms_key_arn: str | None = None
    quarantine_bucket: str | None = None
    options: str = ""  # JSON object of the rule's Option values (hashable, so runtimes can be cached by it)
    exemptions: str = ""  # JSON list of cdk.json exemptions for this rule
    idempotency_table: str | None = None
    audit_table: str | None = None
    audit_ttl_days: int = DEFAULT_AUDIT_RETENTION_DAYS
    dedup_seconds: int = DEFAULT_DEDUP_SECONDS
    max_remediations_per_hour: int = DEFAULT_MAX_REMEDIATIONS_PER_HOUR
    security_hub: bool = False
    chatbot: bool = False
    own_role_arn: str | None = None
    account: str | None = None
    max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS
    # Organization mode (core/org.py, DESIGN §2.8): all empty in a single-account deployment.
    organization_id: str = ""
    member_role: str = ""  # this rule's role name in member accounts
    external_id: str = ""
    org_regions: str = ""  # comma-separated
    org_ous: str = ""  # comma-separated OU ids the member template is deployed to

    @property
    def organization_mode(self) -> bool:
        return bool(self.organization_id and self.member_role)

    @property
    def organizational_units(self) -> tuple[str, ...]:
        return tuple(ou.strip() for ou in self.org_ous.split(",") if ou.strip())

    def option(self, key: str, default: Any = None) -> Any:
        if not self.options:
            return default
        return _parse_options(self.options).get(key, default)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RuntimeSettings:
        env = os.environ if environ is None else environ
        rule_id = env.get(ENV_RULE_ID, "")
        if not rule_id:
            raise SettingsError(f"{ENV_RULE_ID} is not set: the function does not know which rule it runs")
        default_mode = env.get(ENV_DEFAULT_MODE) or MODE_NOTIFY
        if default_mode not in MODES:
            default_mode = MODE_NOTIFY
        return cls(
            rule_id=rule_id,
            default_mode=default_mode,
            allow_remediation=_flag(env.get(ENV_ALLOW_REMEDIATION), True),
            topic_arn=env.get(ENV_TOPIC_ARN) or None,
            kms_key_arn=env.get(ENV_KMS_KEY_ARN) or None,
            quarantine_bucket=env.get(ENV_QUARANTINE_BUCKET) or None,
            options=env.get(ENV_OPTIONS, ""),
            exemptions=env.get(ENV_EXEMPTIONS, ""),
            idempotency_table=env.get(ENV_IDEMPOTENCY_TABLE) or None,
            audit_table=env.get(ENV_AUDIT_TABLE) or None,
            audit_ttl_days=_int(env.get(ENV_AUDIT_TTL_DAYS), DEFAULT_AUDIT_RETENTION_DAYS),
            dedup_seconds=_int(env.get(ENV_DEDUP_SECONDS), DEFAULT_DEDUP_SECONDS),
            max_remediations_per_hour=_int(env.get(ENV_MAX_REMEDIATIONS), DEFAULT_MAX_REMEDIATIONS_PER_HOUR),
            security_hub=_flag(env.get(ENV_SECURITY_HUB), False),
            chatbot=_flag(env.get(ENV_CHATBOT), False),
            own_role_arn=env.get(ENV_ROLE_ARN) or None,
            account=env.get(ENV_ACCOUNT) or None,
            max_exemption_days=_int(env.get(ENV_MAX_EXEMPTION_DAYS), DEFAULT_MAX_EXEMPTION_DAYS),
            organization_id=env.get(org.ENV_ORG_ID, ""),
            member_role=env.get(org.ENV_MEMBER_ROLE, ""),
            external_id=env.get(org.ENV_EXTERNAL_ID, ""),
            org_regions=env.get(org.ENV_ORG_REGIONS, ""),
            org_ous=env.get(org.ENV_ORG_OUS, ""),
        )

    def to_env(self) -> dict[str, str]:
        env = {
            ENV_RULE_ID: self.rule_id,
            ENV_DEFAULT_MODE: self.default_mode,
            ENV_ALLOW_REMEDIATION: "true" if self.allow_remediation else "false",
        }
        if self.topic_arn:
            env[ENV_TOPIC_ARN] = self.topic_arn
        if self.kms_key_arn:
            env[ENV_KMS_KEY_ARN] = self.kms_key_arn
        if self.quarantine_bucket:
            env[ENV_QUARANTINE_BUCKET] = self.quarantine_bucket
        if self.options:
            env[ENV_OPTIONS] = self.options
        if self.exemptions:
            env[ENV_EXEMPTIONS] = self.exemptions
        if self.idempotency_table:
            env[ENV_IDEMPOTENCY_TABLE] = self.idempotency_table
        if self.audit_table:
            env[ENV_AUDIT_TABLE] = self.audit_table
        env[ENV_AUDIT_TTL_DAYS] = str(self.audit_ttl_days)
        env[ENV_DEDUP_SECONDS] = str(self.dedup_seconds)
        env[ENV_MAX_REMEDIATIONS] = str(self.max_remediations_per_hour)
        if self.security_hub:
            env[ENV_SECURITY_HUB] = "true"
        if self.chatbot:
            env[ENV_CHATBOT] = "true"
        if self.own_role_arn:
            env[ENV_ROLE_ARN] = self.own_role_arn
        if self.account:
            env[ENV_ACCOUNT] = self.account
        env[ENV_MAX_EXEMPTION_DAYS] = str(self.max_exemption_days)
        for key, value in (
            (org.ENV_ORG_ID, self.organization_id),
            (org.ENV_MEMBER_ROLE, self.member_role),
            (org.ENV_EXTERNAL_ID, self.external_id),
            (org.ENV_ORG_REGIONS, self.org_regions),
            (org.ENV_ORG_OUS, self.org_ous),
        ):
            if value:
                env[key] = value
        return env

    def exemption_entries(self) -> list[dict[str, str]]:
        if not self.exemptions:
            return []
        value = json.loads(self.exemptions)
        return value if isinstance(value, list) else []


# The spec feature (``Permissions.features``) of the rule that moves objects into the quarantine bucket.
QUARANTINE_FEATURE = "macie_quarantine"


def runtime_settings_for(
    spec: RuleSpec,
    settings: Settings,
    *,
    topic_arn: str | None = None,
    quarantine_bucket: str | None = None,
    idempotency_table: str | None = None,
    audit_table: str | None = None,
    own_role_arn: str | None = None,
    account: str | None = None,
) -> RuntimeSettings:
    """One rule's runtime settings, built in this one place for the deployed function's environment
    (``stacks.guarded_rule``) and for `mlwarden evaluate` / `scan` (``mlwarden.cli.local``), so the two run
    the rule alike: mode, remediation allowed, key, options, exemptions, safety limits, ecosystem switches.

    Everything comes from the cdk.json block (``settings``) but the deployment's own resources, which each
    caller passes where it knows them: the alert topic, the quarantine bucket (given only to a rule with the
    quarantine feature, and only when cdk.json ``macieQuarantine`` is on), the tables, the function's own role
    (loop guard) and the deployment's account (the CLI: the caller's, from STS).
    """
    rule = settings.rule(spec.id)
    quarantines = QUARANTINE_FEATURE in dict(spec.permissions.features) and settings.macie_quarantine
    organization = settings.organization
    return RuntimeSettings(
        rule_id=spec.id,
        default_mode=rule.mode,
        allow_remediation=rule.allow_remediation,
        topic_arn=topic_arn,
        kms_key_arn=settings.kms_key_arn,
        quarantine_bucket=quarantine_bucket if quarantines else None,
        options=settings.options_json(spec),
        exemptions=settings.exemptions_json(spec.id),
        idempotency_table=idempotency_table,
        audit_table=audit_table,
        audit_ttl_days=settings.audit_retention_days,
        dedup_seconds=settings.dedup_window_seconds,
        max_remediations_per_hour=settings.max_remediations_per_hour,
        security_hub=settings.security_hub,
        chatbot=settings.chatbot,
        own_role_arn=own_role_arn,
        account=account,
        max_exemption_days=settings.max_exemption_days,
        organization_id=organization.organization_id if organization else "",
        member_role=org.member_role_name(spec.id) if organization else "",
        external_id=organization.external_id if organization else "",
        org_regions=",".join(organization.regions) if organization else "",
        org_ous=",".join(organization.organizational_unit_ids) if organization else "",
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


@lru_cache(maxsize=64)
def _parse_options(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise SettingsError(f"{ENV_OPTIONS} is not JSON") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{ENV_OPTIONS} must be a JSON object")
    return value
