"""The rule functions' code asset: the ``mlwarden`` runtime package alone, wherever it is installed.

In a checkout the package is ``lambdas/mlwarden``; from the wheel it is ``site-packages/mlwarden``, next to every
other installed distribution (this package, aws-cdk-lib...). The asset root must hold ``mlwarden/`` and nothing
else, so the package is copied, without ``ASSET_EXCLUDE`` (the CLI, byte code), into a folder of its own once per
process; CDK stages it into the cloud assembly and names it by its content, so the checkout and the wheel give
the same asset. The folder is removed when the process exits (CDK has copied it by then).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import mlwarden

# Left out of the asset: the CLI and local tooling stay out of the Lambda.
ASSET_EXCLUDE = ("cli", "__pycache__", "*.pyc", "tests")


def runtime_package() -> Path:
    """The folder of the installed (or checked-out) ``mlwarden`` package."""
    return Path(mlwarden.__file__).resolve().parent


@functools.cache
def runtime_dir() -> Path:
    """A folder holding only a copy of the runtime package (``<folder>/mlwarden/...``), made once per process."""
    root = Path(tempfile.mkdtemp(prefix="mlwarden-runtime-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    shutil.copytree(runtime_package(), root / "mlwarden", ignore=shutil.ignore_patterns(*ASSET_EXCLUDE))
    return root
