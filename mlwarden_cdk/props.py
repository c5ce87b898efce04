"""The ``Guardrails`` construct's keyword props: the cdk.json ``mlwarden`` block, one keyword per top-level key.

A keyword is the key in snake case (``notificationEmails`` -> ``notification_emails``; ``PROP_KEYS``). The props
are laid into the same block cdk.json holds and parsed by ``Settings.from_context``, so a construct user gets
exactly the app's validation and its messages (an unknown rule id, a bad mode or e-mail address, a misspelt
rule option). Rule options (top-level keys a rule spec declares, like ``trustedAccounts``) go in ``options``
under their cdk.json key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mlwarden.core.registry import all_specs
from mlwarden.core.settings import TOP_LEVEL_KEYS, Settings, SettingsError
from mlwarden.core.spec import RuleSpec


def snake_case(key: str) -> str:
    """``notificationEmails`` -> ``notification_emails``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


# keyword prop -> cdk.json key, for every key of the block Settings reads
PROP_KEYS: dict[str, str] = {snake_case(key): key for key in TOP_LEVEL_KEYS}


def context_block(props: Mapping[str, Any], options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The cdk.json ``mlwarden`` block the props stand for: props left at None are left out (their default
    applies), tuples become lists (JSON has lists only), ``options`` are laid in under their own keys."""
    unknown = sorted(set(props) - set(PROP_KEYS))
    if unknown:
        raise TypeError(f"Guardrails got unknown prop(s) {', '.join(unknown)}; known: {', '.join(sorted(PROP_KEYS))}")
    block = {PROP_KEYS[name]: _json_like(value) for name, value in props.items() if value is not None}
    for key, value in (options or {}).items():
        if key in TOP_LEVEL_KEYS:
            raise SettingsError(
                f"Guardrails options.{key} is a setting of its own: pass it as the keyword {snake_case(key)}="
            )
        block[key] = _json_like(value)
    return block


def guardrails_settings(
    props: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    specs: Sequence[RuleSpec] | None = None,
) -> Settings:
    """The settings of a ``Guardrails`` built from keyword props, validated like the cdk.json block.

    Raises ``SettingsError`` (one line saying what to change), with the message the app gives for the same
    value in cdk.json.
    """
    specs = all_specs() if specs is None else specs
    return Settings.from_context(context_block(props, options), known={spec.id: spec.default_mode for spec in specs})


def _json_like(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_like(item) for item in value]
    if isinstance(value, list):
        return [_json_like(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _json_like(item) for key, item in value.items()}
    return value
