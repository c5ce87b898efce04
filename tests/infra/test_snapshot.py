"""The whole template against a reviewed snapshot, so every change to the deployed resources shows in review.

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

SNAPSHOT = Path(__file__).parent / "snapshots" / "Mlwarden.template.json"
UPDATE = os.environ.get("MLWARDEN_UPDATE_SNAPSHOTS") == "1"


def normalized(template: dict[str, Any]) -> dict[str, Any]:
    """The template without what changes on every code edit: the Lambda asset's content hash."""
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"]["S3Key"] = "<asset-hash>.zip"
    return template


def test_template_matches_the_reviewed_snapshot(default: Synth) -> None:
    current = json.dumps(normalized(default.template), indent=1, sort_keys=True) + "\n"
    if UPDATE:
        SNAPSHOT.write_text(current)
        pytest.skip(f"snapshot written to {SNAPSHOT}")
    if not SNAPSHOT.exists():
        SNAPSHOT.write_text(current)
        pytest.fail(f"there was no snapshot: wrote {SNAPSHOT}; review and commit it")
    assert current == SNAPSHOT.read_text(), (
        "the synthesized template changed; if intended, run "
        "MLWARDEN_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/infra -k snapshot and review the diff"
    )
