"""Build the mlwarden CDK app: the one place the cdk.json ``mlwarden`` context is read.

``app.py`` (what ``cdk synth`` runs) calls ``build_app()``; tests and the local demo call ``build_app`` or
``synth_template`` in-process, with context overrides and without cdk-nag::

    app, stack = build_app({"mlwarden": {"rules": {"<rule-id>": {"mode": "remediate"}}}}, nag=False)
    template = synth_template({"mlwarden": {"macieQuarantine": True}})  # the CloudFormation template, a dict
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App

from mlwarden.core.registry import all_specs
from mlwarden.core.settings import CONTEXT_KEY, Settings
from stacks.nag import add_nag
from stacks.stack import STACK_NAME, MlwardenStack

ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = ROOT / "cdk.json"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` of cdk.json (feature flags and the mlwarden block); empty when the file is absent."""
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("context") or {})


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` laid over ``base``: objects are merged key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge(current, value)
        else:
            merged[key] = value
    return merged


def load_settings(app: App, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The app's ``mlwarden`` context (cdk.json, then ``cdk -c``), with ``overrides`` merged in, parsed once.

    Raises ``SettingsError`` (one line saying what to change) for an unknown rule id or a bad value.
    """
    block = app.node.try_get_context(CONTEXT_KEY) or {}
    if overrides:
        block = merge(block, overrides)
    return Settings.from_context(block, known={spec.id: spec.default_mode for spec in all_specs()})


def build_app(
    context_overrides: Mapping[str, Any] | None = None,
    *,
    nag: bool = True,
    outdir: str | None = None,
) -> tuple[App, MlwardenStack]:
    """The app with its one stack, ``Mlwarden``.

    ``context_overrides`` maps context keys to values laid over cdk.json's context; the ``mlwarden`` block is
    merged key by key, so ``{"mlwarden": {"rules": {"<rule-id>": {"mode": "remediate"}}}}`` changes one mode
    and keeps the rest. ``nag`` adds the cdk-nag AwsSolutions checks, which run when the app is synthesized.
    """
    overrides = dict(context_overrides or {})
    block_overrides = overrides.pop(CONTEXT_KEY, None)
    # cdk.json's context is only a default: under the CDK CLI, its own context (cdk.json, cdk.context.json,
    # -c flags) takes precedence; in-process (tests, demo) the template then matches what the CLI produces.
    app = App(context=cdk_json_context(), post_cli_context=overrides or None, outdir=outdir)
    settings = load_settings(app, block_overrides)
    stack = MlwardenStack(app, STACK_NAME, stack_name=STACK_NAME, settings=settings)
    if nag:
        add_nag(app)
    return app, stack


def synth_template(context_overrides: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> dict[str, Any]:
    """The synthesized CloudFormation template of the stack (no cdk-nag), as a dict.

    Without ``outdir`` the cloud assembly goes to a temporary directory that is removed afterwards.
    """
    if outdir is None:
        with tempfile.TemporaryDirectory(prefix="mlwarden-cdk-") as tmp:
            return synth_template(context_overrides, outdir=tmp)
    app, stack = build_app(context_overrides, nag=False, outdir=outdir)
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template
