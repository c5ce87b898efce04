"""The runtime switches: per-rule mode and the global kill switch, read from SSM through Powertools
Parameters (cached, so a burst of events costs one read per minute)."""

from __future__ import annotations

import threading
import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from mlwarden.core.context import ClientFactory
from mlwarden.core.errors import error_code
from mlwarden.core.model import MODES
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
