"""Infra tests synthesize the CDK app in-process, once per configuration and session (no cdk-nag here)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template  # noqa: E402

from mlwarden.core.registry import rule_ids  # noqa: E402
from mlwarden_cdk.app import build_app, flat_template, stack_templates  # noqa: E402
from tests.infra.cfn import Synth  # noqa: E402

USER_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LAYER_OVERRIDE = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:30"

# Every rule's remediation withheld and switched off.
WITHHELD = {"mlwarden": {"rules": {rule_id: {"mode": "off", "allowRemediation": False} for rule_id in rule_ids()}}}
# cdk.json exemptions: one for the first registered rule only, one for every rule.
EXEMPT_RULE = rule_ids()[0]
RULE_EXEMPTION = {"resource": "ml-sandbox-bucket", "reason": "research sandbox, reviewed", "until": "2099-01-01"}
ALL_RULES_EXEMPTION = {"resource": "break-glass-notebook", "reason": "incident response"}
# Everything cdk.json can switch on.
FULL = {
    "mlwarden": {
        "rules": {rule_id: {"mode": "remediate"} for rule_id in rule_ids()},
        "macieQuarantine": True,
        "notificationEmails": ["secops@example.com", "ml-platform@example.com"],
        "alarmEmails": ["oncall@example.com", "platform-alarms@example.com"],
        "kmsKeyArn": USER_KEY_ARN,
        "configFrequency": "One_Hour",
        "powertoolsLayerArn": LAYER_OVERRIDE,
        "exemptions": {EXEMPT_RULE: [RULE_EXEMPTION], "all": [ALL_RULES_EXEMPTION]},
        "dedupWindowSeconds": 600,
        "maxRemediationsPerHour": 5,
        "auditRetentionDays": 90,
    }
}


def synthesize(overrides: dict[str, Any] | None, outdir: Path, specs: Any = None) -> Synth:
    """The root stack and the rules' nested stacks read as one template (``flat_template``), and each one."""
    app, stack = build_app(overrides, nag=False, outdir=str(outdir), specs=specs)
    directory = app.synth().directory
    template = flat_template(stack, directory)
    return Synth(
        template=template,
        assertions=Template.from_json(template),
        settings=stack.settings,
        outdir=outdir,
        templates=stack_templates(stack, directory),
    )


@pytest.fixture(scope="session")
def default(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app as `cdk synth` builds it from the repository's cdk.json."""
    return synthesize(None, tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def withheld(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(WITHHELD, tmp_path_factory.mktemp("cdk-withheld"))


@pytest.fixture(scope="session")
def full(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(FULL, tmp_path_factory.mktemp("cdk-full"))
