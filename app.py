#!/usr/bin/env python3
"""CDK entry point (``cdk synth`` / ``cdk deploy``): read the context once, build the stack, nag, synth."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Without `pip install -e .` the packages are still importable from a checkout.
for path in (ROOT, ROOT / "lambdas"):
    if str(path) not in sys.path:
        sys.path.append(str(path))

from mlwarden.core.settings import SettingsError  # noqa: E402
from mlwarden_cdk.app import build_app  # noqa: E402


def main() -> None:
    try:
        app, _ = build_app(nag=True)
    except SettingsError as exc:
        sys.exit(f"mlwarden: {exc}")
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings arrive as a jsii error; the report itself is the message
        if not str(exc).startswith("ValidationFailed"):
            raise
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
