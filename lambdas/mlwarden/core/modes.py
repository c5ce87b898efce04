"""The runtime switches: per-rule mode and the global kill switch, read from SSM through Powertools
Parameters (cached, so a burst of events costs one read per minute).

Organization mode adds optional overrides of a rule's mode per account and per organizational unit,
``/mlwarden/rules/<rule-id>/accounts/<account-id>/mode`` and ``/mlwarden/rules/<rule-id>/ous/<ou-id>/mode``, read
in one GetParametersByPath per rule per cache period: the account's override wins, then the nearest OU's (the
account's ancestry, nearest first), then the rule's global mode. The kill switch stays global."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from mlwarden.core.context import ClientFactory
from mlwarden.core.errors import error_code
from mlwarden.core.model import MODE_NOTIFY, MODE_REMEDIATE, MODES
from mlwarden.core.settings import KILL_SWITCH_PARAMETER, mode_parameter_name

logger = Logger(service="mlwarden", child=True)

CACHE_SECONDS = 60
KILL_SWITCH_OFF = "off"


def _not_found(exc: BaseException) -> bool:
    if isinstance(exc, _Missing):
        return True
    cause = exc.__cause__ or exc.__context__
    return error_code(cause) == "ParameterNotFound"


class _Missing(GetParameterError):
    """A parameter known missing (cached). A new one each time: re-raising one shared instance grows its
    traceback by every raise, keeping each raising frame (and its locals) alive for the life of the process."""


def rule_parameters_path(rule_id: str) -> str:
    return f"/mlwarden/rules/{rule_id}"


def account_override_name(rule_id: str, account: str) -> str:
    return f"{rule_parameters_path(rule_id)}/accounts/{account}/mode"


def ou_override_name(rule_id: str, ou: str) -> str:
    return f"{rule_parameters_path(rule_id)}/ous/{ou}/mode"


def resolve_override(
    overrides: dict[str, str], account: str, ancestry: Callable[[], list[str]] | None
) -> tuple[str, str] | None:
    """(mode, where from) of the override that applies to ``account``: its own, else its nearest OU's; None when
    none does. ``overrides`` are the rule's parameters named relative to its path ("accounts/<id>/mode" …);
    ``ancestry`` (read only when an OU override exists) gives the account's parents, nearest first. An override
    holding anything but a mode is ignored (and logged)."""
    value = overrides.get(f"accounts/{account}/mode")
    if value is not None:
        if value.strip() in MODES:
            return value.strip(), f"account {account} override"
        logger.warning("account mode override has an invalid value; ignored", account=account)
    if ancestry is None or not any(key.startswith("ous/") for key in overrides):
        return None
    for unit in ancestry():
        value = overrides.get(f"ous/{unit}/mode")
        if value is None:
            continue
        if value.strip() in MODES:
            return value.strip(), f"organizational unit {unit} override"
        logger.warning("OU mode override has an invalid value; ignored", ou=unit)
    return None


class ModeSource:
    def __init__(self, clients: ClientFactory, region: str, max_age: int = CACHE_SECONDS) -> None:
        self._clients = clients
        self._region = region
        self._max_age = max_age
        self._provider: SSMProvider | None = None
        # Powertools caches values, not absences: remember missing parameters for as long.
        self._missing: dict[str, float] = {}
        # One read per parameter at a time: threads of a CLI sweep asking together make one request.
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _get(self, name: str) -> str:
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            return self._get_once(name)

    def _get_once(self, name: str) -> str:
        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._clients.client("ssm", self._region))
        missing_until = self._missing.get(name)
        if missing_until is not None and time.monotonic() < missing_until:
            raise _Missing("parameter not found (cached)")
        try:
            return str(self._provider.get(name, max_age=self._max_age)).strip()
        except GetParameterError as exc:
            if _not_found(exc):
                self._missing[name] = time.monotonic() + self._max_age
            raise

    def overrides(self, rule_id: str) -> dict[str, str]:
        """The rule's parameters below its path (one GetParametersByPath, cached like the mode)."""
        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._clients.client("ssm", self._region))
        found: Any = self._provider.get_multiple(rule_parameters_path(rule_id), max_age=self._max_age, recursive=True)
        return {str(key): str(value) for key, value in dict(found).items()}

    def mode_for(
        self, rule_id: str, default: str, account: str, ancestry: Callable[[], list[str]] | None = None
    ) -> tuple[str, str]:
        """Organization mode: (mode, where it comes from) for a resource of ``account``. Overrides that cannot be
        read never widen what the global mode allows: a global ``remediate`` is then only ``notify``."""
        base = self.mode(rule_id, default)
        try:
            found = resolve_override(self.overrides(rule_id), account, ancestry)
        except Exception as exc:  # SSM or Organizations unreadable: fail safe, and say so
            logger.warning("mode overrides unreadable", rule_id=rule_id, account=account, error=type(exc).__name__)
            if base == MODE_REMEDIATE:
                return MODE_NOTIFY, "overrides unreadable: remediate withheld"
            return base, "global (overrides unreadable)"
        return found if found is not None else (base, "global")

    def mode(self, rule_id: str, default: str) -> str:
        """The rule's mode; the deploy-time default when the parameter is missing, unreadable or invalid."""
        name = mode_parameter_name(rule_id)
        try:
            value = self._get(name)
        except GetParameterError as exc:
            if not _not_found(exc):
                logger.warning("mode parameter unreadable; using deploy default", parameter=name, default=default)
            return default
        if value not in MODES:
            logger.warning("mode parameter has an invalid value; using deploy default", parameter=name, default=default)
            return default
        return value

    def kill_switch_on(self) -> bool:
        """True stops every remediation: any value but exactly ``off`` (``on``, ``true``, ``1``, ``enabled``, a
        typo…) stops it. Unreadable counts as on: never act when we cannot tell. A missing parameter is off
        (no switch deployed, e.g. the CLI against an account without mlwarden; deleting it is reported by the
        tamper watch)."""
        try:
            return self._get(KILL_SWITCH_PARAMETER) != KILL_SWITCH_OFF
        except GetParameterError as exc:
            if _not_found(exc):
                return False
            logger.warning("kill switch unreadable; remediation withheld", parameter=KILL_SWITCH_PARAMETER)
            return True
