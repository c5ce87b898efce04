"""Each registered rule is deployed as exactly one Lambda function, configured as the runtime expects."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from mlwarden.core.registry import all_specs, rule_ids
from mlwarden.core.settings import (
    ENV_ACCOUNT,
    ENV_ALLOW_REMEDIATION,
    ENV_AUDIT_TABLE,
    ENV_AUDIT_TTL_DAYS,
    ENV_DEDUP_SECONDS,
    ENV_DEFAULT_MODE,
    ENV_EXEMPTIONS,
    ENV_IDEMPOTENCY_TABLE,
    ENV_KMS_KEY_ARN,
    ENV_MAX_EXEMPTION_DAYS,
    ENV_MAX_REMEDIATIONS,
    ENV_OPTIONS,
    ENV_QUARANTINE_BUCKET,
    ENV_ROLE_ARN,
    ENV_RULE_ID,
    ENV_TOPIC_ARN,
)
from mlwarden_cdk.watch import WATCH_HANDLER
from tests.infra.cfn import Synth, render
from tests.infra.conftest import (
    ALL_RULES_EXEMPTION,
    EXEMPT_RULE,
    LAYER_OVERRIDE,
    RULE_EXEMPTION,
    USER_KEY_ARN,
)

pytestmark = pytest.mark.slow

POWERTOOLS_LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27"
ASSET_BUDGET_BYTES = 300 * 1024  # DESIGN §4


@pytest.mark.parametrize("rule_id", rule_ids())
def test_every_rule_has_exactly_one_function_that_knows_its_rule(default: Synth, rule_id: str) -> None:
    # Given the default app / When looking for functions whose MLWARDEN_RULE_ID is the rule
    functions = default.functions_of(rule_id)
    # Then there is exactly one
    assert len(functions) == 1, f"{rule_id}: {len(functions)} functions"


def test_the_stack_has_no_function_besides_the_rule_functions(default: Synth) -> None:
    deployed = [
        r["Properties"]["Environment"]["Variables"].get(ENV_RULE_ID) or r["Properties"]["Handler"]
        for _, r in default.resources("AWS::Lambda::Function")
    ]
    # (the one function that runs no rule is the tamper watch)
    assert sorted(deployed) == sorted([*rule_ids(), WATCH_HANDLER])


@pytest.mark.parametrize("rule_id", rule_ids())
def test_rule_function_runs_the_shared_handler_on_python_313_with_powertools(default: Synth, rule_id: str) -> None:
    props = default.props(default.function_of(rule_id))
    assert props["Handler"] == "mlwarden.handler.handler"
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["x86_64"]
    assert [render(layer) for layer in props["Layers"]] == [POWERTOOLS_LAYER]
    assert props["MemorySize"] == 256
    assert props["Timeout"] == 120
    assert props["FunctionName"] == f"mlwarden-{rule_id}"


@pytest.mark.parametrize("name", ["default", "full", "withheld"])
def test_every_function_name_starts_with_mlwarden_so_the_loop_guard_ignores_its_own_calls(
    name: str, request: pytest.FixtureRequest
) -> None:
    # Given the EventBridge patterns drop CloudTrail calls whose caller is an assumed-role session named
    # "mlwarden-*", and Lambda names a function's session after the function
    synth: Synth = request.getfixturevalue(name)
    names = [r["Properties"].get("FunctionName") for _, r in synth.resources("AWS::Lambda::Function")]
    # Then every function has a fixed name with that prefix (a generated name would let its own fixes
    # trigger the rules again), short enough to be the session name unchanged
    assert len(names) == len(rule_ids()) + 1  # and the tamper watch
    for function_name in names:
        assert isinstance(function_name, str) and function_name.startswith("mlwarden-"), function_name
        assert len(function_name) <= 64, function_name


@pytest.mark.parametrize("spec", all_specs(), ids=lambda spec: spec.id)
def test_rule_function_environment_carries_the_deploy_settings(default: Synth, spec) -> None:
    # Given cdk.json's defaults / When reading the function environment
    env = default.function_env(spec.id)
    topic = default.output_ref("AlertTopicArn")
    # Then the runtime settings, the tables, the safety defaults and Powertools settings are there,
    # the rule's options if it has any, and nothing else (no exemptions in cdk.json: no MLWARDEN_EXEMPTIONS)
    options = {ENV_OPTIONS: default.settings.options_json(spec)} if spec.options else {}
    assert env == options | {
        ENV_RULE_ID: spec.id,
        ENV_DEFAULT_MODE: "notify",
        ENV_ALLOW_REMEDIATION: "true",
        ENV_TOPIC_ARN: {"Ref": topic},
        ENV_IDEMPOTENCY_TABLE: {"Ref": default.output_ref("IdempotencyTableName")},
        ENV_AUDIT_TABLE: {"Ref": default.output_ref("AuditTableName")},
        ENV_AUDIT_TTL_DAYS: "365",
        ENV_DEDUP_SECONDS: "300",
        ENV_MAX_REMEDIATIONS: "3",
        # the loop guard knows exactly this function's own role; foreign-account resources are not handled
        ENV_ROLE_ARN: {"Fn::GetAtt": [default.role_of(spec.id), "Arn"]},
        ENV_ACCOUNT: {"Ref": "AWS::AccountId"},
        ENV_MAX_EXEMPTION_DAYS: "90",
        "POWERTOOLS_SERVICE_NAME": "mlwarden",
        "POWERTOOLS_METRICS_NAMESPACE": "mlwarden",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


@pytest.mark.parametrize("rule_id", rule_ids())
def test_safety_settings_from_context_reach_every_function(full: Synth, rule_id: str) -> None:
    # Given cdk.json dedupWindowSeconds 600, maxRemediationsPerHour 5, auditRetentionDays 90
    env = full.function_env(rule_id)
    # Then the function gets them, with the stack's two tables
    assert env[ENV_DEDUP_SECONDS] == "600"
    assert env[ENV_MAX_REMEDIATIONS] == "5"
    assert env[ENV_AUDIT_TTL_DAYS] == "90"
    assert env[ENV_IDEMPOTENCY_TABLE] == {"Ref": full.output_ref("IdempotencyTableName")}
    assert env[ENV_AUDIT_TABLE] == {"Ref": full.output_ref("AuditTableName")}


@pytest.mark.parametrize("rule_id", rule_ids())
def test_cdk_json_exemptions_reach_only_the_rule_they_name(full: Synth, rule_id: str) -> None:
    # Given cdk.json exempts one resource from EXEMPT_RULE and another from every rule ("all")
    entries = json.loads(full.function_env(rule_id)[ENV_EXEMPTIONS])
    # Then the rule's own exemption is in its function only; the "all" exemption is in every function
    assert (RULE_EXEMPTION in entries) == (rule_id == EXEMPT_RULE)
    assert ALL_RULES_EXEMPTION in entries
    assert len(entries) == (2 if rule_id == EXEMPT_RULE else 1)


@pytest.mark.parametrize("rule_id", rule_ids())
def test_context_overrides_reach_the_function_environment(full: Synth, withheld: Synth, rule_id: str) -> None:
    assert full.function_env(rule_id)[ENV_DEFAULT_MODE] == "remediate"
    assert full.function_env(rule_id)[ENV_ALLOW_REMEDIATION] == "true"
    assert full.function_env(rule_id)[ENV_KMS_KEY_ARN] == USER_KEY_ARN
    assert withheld.function_env(rule_id)[ENV_DEFAULT_MODE] == "off"
    assert withheld.function_env(rule_id)[ENV_ALLOW_REMEDIATION] == "false"


@pytest.mark.parametrize("spec", all_specs(), ids=lambda spec: spec.id)
def test_only_rules_with_the_quarantine_feature_get_the_quarantine_bucket(full: Synth, default: Synth, spec) -> None:
    bucket, _ = full.only("AWS::S3::Bucket")
    expected = {"Ref": bucket} if "macie_quarantine" in dict(spec.permissions.features) else None
    assert full.function_env(spec.id).get(ENV_QUARANTINE_BUCKET) == expected
    assert ENV_QUARANTINE_BUCKET not in default.function_env(spec.id)


def test_powertools_layer_can_be_overridden_from_context(full: Synth) -> None:
    for rule_id in rule_ids():
        assert full.props(full.function_of(rule_id))["Layers"] == [LAYER_OVERRIDE]


def test_rule_functions_log_to_their_own_encrypted_log_group_kept_one_year(default: Synth) -> None:
    key, _ = default.only("AWS::KMS::Key")
    groups = set()
    for rule_id in rule_ids():
        group = default.props(default.function_of(rule_id))["LoggingConfig"]["LogGroup"]["Ref"]
        assert default.props(group) == {"RetentionInDays": 365, "KmsKeyId": {"Fn::GetAtt": [key, "Arn"]}}
        groups.add(group)
    assert len(groups) == len(rule_ids())


def test_all_functions_share_one_code_asset_without_the_cli(default: Synth) -> None:
    # Given the synthesized assembly
    keys = {default.props(f)["Code"]["S3Key"] for f in (default.function_of(r) for r in rule_ids())}
    assets = [p for p in default.outdir.glob("asset.*") if p.is_dir()]
    # Then every function uses the same asset, the only one in the assembly
    assert len(keys) == 1 and len(assets) == 1
    asset = assets[0]
    files = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    # And it holds the handler and the rules but not the CLI, tests or byte code
    assert "mlwarden/handler.py" in files
    assert {f"mlwarden/rules/{spec.module_name}.py" for spec in all_specs()} <= files
    assert not [f for f in files if f.startswith("mlwarden/cli/") or "__pycache__" in f or f.endswith(".pyc")]
    assert not [f for f in files if "/tests/" in f or f.startswith("tests/")]
    # And nothing but the runtime package: not the CDK code (mlwarden_cdk), wherever mlwarden is installed
    assert not [f for f in files if not f.startswith("mlwarden/")]


def test_lambda_asset_fits_the_size_budget(default: Synth) -> None:
    (asset,) = [p for p in default.outdir.glob("asset.*") if p.is_dir()]
    size = _zipped_size(asset)
    assert size <= ASSET_BUDGET_BYTES, f"asset is {size} bytes zipped; budget {ASSET_BUDGET_BYTES}"


def _zipped_size(folder: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.tell()
