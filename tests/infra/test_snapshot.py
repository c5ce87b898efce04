"""Every template (the root stack and each rules' nested stack) against a reviewed snapshot, one file per stack,
so every change to the deployed resources shows in review.

After an intended change (a new rule, new wiring), refresh it and review the diff:
    MLWARDEN_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/infra -k snapshot
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Synth

pytestmark = pytest.mark.slow

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("MLWARDEN_UPDATE_SNAPSHOTS") == "1"


def snapshot_file(stack_path: str) -> Path:
    """``Mlwarden`` -> Mlwarden.template.json, ``Mlwarden/Rules03`` -> Mlwarden.Rules03.template.json."""
    return SNAPSHOTS / f"{stack_path.replace('/', '.')}.template.json"


def normalized(template: dict[str, Any]) -> dict[str, Any]:
    """The template without what changes on every code edit: the Lambda asset's content hash, and the nested
    templates' (which hold it) in the root's TemplateURL."""
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"]["S3Key"] = "<asset-hash>.zip"
        if resource["Type"] == "AWS::CloudFormation::Stack":
            resource["Properties"]["TemplateURL"] = "<nested-template-asset>"
            resource.get("Metadata", {}).pop("aws:asset:path", None)
    return template


def test_templates_match_the_reviewed_snapshots(default: Synth) -> None:
    current = {
        snapshot_file(path): json.dumps(normalized(template), indent=1, sort_keys=True) + "\n"
        for path, template in default.templates.items()
    }
    if UPDATE:
        for stale in SNAPSHOTS.glob("*.template.json"):
            if stale not in current:
                stale.unlink()
        for path, text in current.items():
            path.write_text(text)
        pytest.skip(f"{len(current)} snapshots written to {SNAPSHOTS}")
    missing = [path for path in current if not path.exists()]
    if missing:
        for path in missing:
            path.write_text(current[path])
        pytest.fail(f"there was no snapshot: wrote {', '.join(p.name for p in missing)}; review and commit")
    stale = sorted(p.name for p in SNAPSHOTS.glob("*.template.json") if p not in current)
    assert stale == [], "snapshots of stacks that no longer exist; rerun with MLWARDEN_UPDATE_SNAPSHOTS=1"
    changed = sorted(path.name for path, text in current.items() if text != path.read_text())
    assert changed == [], (
        "the synthesized templates changed; if intended, run "
        "MLWARDEN_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/infra -k snapshot and review the diff"
    )
