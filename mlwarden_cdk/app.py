"""Build the mlwarden CDK app: the one place the cdk.json ``mlwarden`` context is read.

``app.py`` (what ``cdk synth`` runs) calls ``build_app()``; tests and the local demo call ``build_app`` or
``synth_template`` in-process, with context overrides and without cdk-nag::

    app, stack = build_app({"mlwarden": {"rules": {"<rule-id>": {"mode": "remediate"}}}}, nag=False)
    template = synth_template({"mlwarden": {"macieQuarantine": True}})  # the CloudFormation template, a dict
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import App, CfnElement, Stack

from mlwarden.core.registry import all_specs
from mlwarden.core.settings import CONTEXT_KEY, Settings
from mlwarden.core.spec import RuleSpec
from mlwarden_cdk.nag import add_nag
from mlwarden_cdk.stack import STACK_NAME, Guardrails, MlwardenStack

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


def load_settings(
    app: App, overrides: Mapping[str, Any] | None = None, specs: Sequence[RuleSpec] | None = None
) -> Settings:
    """The app's ``mlwarden`` context (cdk.json, then ``cdk -c``), with ``overrides`` merged in, parsed once.

    Raises ``SettingsError`` (one line saying what to change) for an unknown rule id or a bad value.
    """
    block = app.node.try_get_context(CONTEXT_KEY) or {}
    if overrides:
        block = merge(block, overrides)
    specs = all_specs() if specs is None else specs
    return Settings.from_context(block, known={spec.id: spec.default_mode for spec in specs})


def build_app(
    context_overrides: Mapping[str, Any] | None = None,
    *,
    nag: bool = True,
    outdir: str | None = None,
    specs: Sequence[RuleSpec] | None = None,
) -> tuple[App, MlwardenStack]:
    """The app with its stack, ``Mlwarden``, and the rules' nested stacks in it (one ``cdk deploy``).

    ``context_overrides`` maps context keys to values laid over cdk.json's context; the ``mlwarden`` block is
    merged key by key, so ``{"mlwarden": {"rules": {"<rule-id>": {"mode": "remediate"}}}}`` changes one mode
    and keeps the rest. ``nag`` adds the cdk-nag AwsSolutions checks, which run when the app is synthesized.
    ``specs``: the rules to build (default: the registry's); tests build generated catalogs with it.
    """
    overrides = dict(context_overrides or {})
    block_overrides = overrides.pop(CONTEXT_KEY, None)
    # cdk.json's context is only a default: under the CDK CLI, its own context (cdk.json, cdk.context.json,
    # -c flags) takes precedence; in-process (tests, demo) the template then matches what the CLI produces.
    app = App(context=cdk_json_context(), post_cli_context=overrides or None, outdir=outdir)
    settings = load_settings(app, block_overrides, specs)
    stack = MlwardenStack(app, STACK_NAME, stack_name=STACK_NAME, settings=settings, specs=specs)
    if nag:
        add_nag(app)
    return app, stack


def synth_template(context_overrides: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> dict[str, Any]:
    """The synthesized deployment (no cdk-nag) as one template, a dict: see ``flat_template``.

    Without ``outdir`` the cloud assembly goes to a temporary directory that is removed afterwards.
    """
    if outdir is None:
        with tempfile.TemporaryDirectory(prefix="mlwarden-cdk-") as tmp:
            return synth_template(context_overrides, outdir=tmp)
    app, stack = build_app(context_overrides, nag=False, outdir=outdir)
    return flat_template(stack, app.synth().directory)


def stack_templates(deployment: MlwardenStack | Guardrails, assembly_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every template of a synthesized deployment: the root stack's, then each rule stack's, by construct path
    without the ``Default`` ids CDK leaves out of names (``Mlwarden``, ``Mlwarden/Rules03``...). The nested ones
    are the ``*.nested.template.json`` of the assembly. ``deployment``: the app's stack, or a ``Guardrails``
    (the root is then the stack it is in)."""
    directory = Path(assembly_dir)
    stack = Stack.of(deployment)
    templates = {stack.node.path: json.loads((directory / stack.template_file).read_text())}
    for index in sorted(deployment.rule_stacks):
        nested = deployment.rule_stacks[index]
        path = "/".join(part for part in nested.node.path.split("/") if part != "Default")
        templates[path] = json.loads((directory / nested.template_file).read_text())
    return templates


def flat_template(deployment: MlwardenStack | Guardrails, assembly_dir: str | Path) -> dict[str, Any]:
    """The root template with every rule stack's resources laid into it, as if one stack held them all.

    What the root passes to a nested stack's parameters replaces the nested ``Ref``s to them, and a nested
    output the root reads (``Fn::GetAtt [<stack>, Outputs.<name>]``) is replaced by its value: references
    read exactly as in a single template. The local account (``mlwarden demo``) deploys this, and the infra
    tests read it; ``stack_templates`` has the templates CloudFormation receives. ``deployment``: the app's
    stack, or a ``Guardrails`` (the root is then the stack it is in, with whatever else that stack holds).
    """
    directory = Path(assembly_dir)
    stack = Stack.of(deployment)
    root = json.loads((directory / stack.template_file).read_text())
    nested_ids = {
        stack.get_logical_id(nested.nested_stack_resource): nested  # type: ignore[arg-type]
        for nested in deployment.rule_stacks.values()
    }
    # The rules' resources in registry order, as one stack would list them (the demo lists in that order).
    rule_of: dict[str, int] = {}
    for index, rule in enumerate(deployment.rules.values()):
        for element in rule.node.find_all():
            if isinstance(element, CfnElement):
                rule_of[str(Stack.of(element).resolve(element.logical_id))] = index
    nested_resources: list[tuple[int, int, str, Any]] = []
    outputs: dict[tuple[str, str], Any] = {}
    for logical_id, nested in nested_ids.items():
        template = json.loads((directory / nested.template_file).read_text())
        passed = root["Resources"][logical_id].get("Properties", {}).get("Parameters", {})
        template = _substitute(template, refs=passed, outputs={})
        for name, output in template.get("Outputs", {}).items():
            outputs[(logical_id, f"Outputs.{name}")] = output["Value"]
        for position, (nested_id, resource) in enumerate(template["Resources"].items()):
            nested_resources.append((rule_of.get(nested_id, len(rule_of)), position, nested_id, resource))
    resources: dict[str, Any] = {}
    for logical_id, resource in root["Resources"].items():
        if logical_id not in nested_ids:
            resources[logical_id] = resource
            continue
        for _, _, nested_id, nested_resource in sorted(nested_resources, key=lambda r: r[:2]):
            if nested_id in resources or nested_id in root["Resources"]:
                raise ValueError(f"{nested_id} is a logical id of two stacks; the flat template cannot hold both")
            resources[nested_id] = nested_resource
        nested_resources = []
    flat = dict(root, Resources=resources)
    flat = _substitute(flat, refs={}, outputs=outputs)
    for resource in flat["Resources"].values():  # the nested stacks are gone: so are dependencies on them
        depends = resource.get("DependsOn")
        if depends:
            kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d in flat["Resources"]]
            if kept:
                resource["DependsOn"] = kept
            else:
                del resource["DependsOn"]
    return flat


def _substitute(value: Any, *, refs: Mapping[str, Any], outputs: Mapping[tuple[str, str], Any]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "Ref" in value and value["Ref"] in refs:
            return refs[value["Ref"]]
        if len(value) == 1 and "Fn::GetAtt" in value and tuple(value["Fn::GetAtt"]) in outputs:
            return outputs[tuple(value["Fn::GetAtt"])]
        return {k: _substitute(v, refs=refs, outputs=outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, refs=refs, outputs=outputs) for v in value]
    return value
