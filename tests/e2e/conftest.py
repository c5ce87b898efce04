from __future__ import annotations

import pytest

from mlwarden import handler as handler_module
from mlwarden.cli.demo import DEMO_CONTEXT
from mlwarden.cli.local_account import LocalDeployment, synthesize_template


@pytest.fixture(scope="session")
def demo_template() -> dict:
    """The stack as `make demo` synthesizes it (two rules switched to remediate)."""
    return synthesize_template(DEMO_CONTEXT)


@pytest.fixture
def deployment(aws, demo_template) -> LocalDeployment:
    handler_module._runtimes.clear()
    return LocalDeployment(demo_template, aws.endpoint, quiet=True).deploy()
