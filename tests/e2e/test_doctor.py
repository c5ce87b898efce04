"""`mlwarden doctor` against the local account: what passes once set up, and a clear fix for what does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlwarden.cli.doctor import POWERTOOLS_LAYER

CHECKS = [
    "credentials",
    "config-recorder",
    "cloudtrail",
    "macie",
    "security-hub",
    "powertools-layer",
    "service-models",
    "stack",
]


def doctor(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlwarden", "doctor", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=cwd,
        timeout=120,
    )


def checks_of(proc: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    checks = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [c["check"] for c in checks] == CHECKS
    assert all(set(c) == {"check", "ok", "detail", "fix"} for c in checks)
    return {c["check"]: c for c in checks}


def project(tmp_path: Path, **mlwarden: object) -> Path:
    """A directory with a cdk.json holding this ``mlwarden`` block (doctor reads ./cdk.json)."""
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"mlwarden": mlwarden}}))
    return tmp_path


def test_doctor_on_a_bare_account_fails_and_says_what_to_fix(aws, tmp_path):
    # Given an account with nothing set up (and Macie off: moto starts with it on)
    aws.client("macie2").disable_macie()

    # When the doctor checks it
    proc = doctor("--json", cwd=project(tmp_path))

    # Then it exits 1, and every failed check names its fix
    assert proc.returncode == 1, proc.stderr
    checks = checks_of(proc)
    assert checks["credentials"]["ok"] and aws.account in checks["credentials"]["detail"]
    recorder = checks["config-recorder"]
    assert not recorder["ok"] and "no AWS Config recorder" in recorder["detail"]
    assert "start-configuration-recorder" in recorder["fix"]
    trail = checks["cloudtrail"]
    assert not trail["ok"] and trail["detail"].startswith("no trail:")
    assert "create-trail" in trail["fix"] and "--is-multi-region-trail" in trail["fix"]
    macie = checks["macie"]
    assert not macie["ok"] and "not enabled" in macie["detail"] and "macie2 enable-macie" in macie["fix"]
    assert checks["security-hub"] == {
        "check": "security-hub",
        "ok": True,
        "detail": "not needed: cdk.json securityHub is false",
        "fix": "",
    }
    # moto cannot resolve a layer: a failed check with the reason, not a crash
    layer = checks["powertools-layer"]
    assert not layer["ok"]
    assert f"arn:aws:lambda:{aws.region}:{POWERTOOLS_LAYER}" in layer["detail"]
    assert "powertoolsLayerArn" in layer["fix"]
    stack = checks["stack"]
    assert not stack["ok"] and "not deployed" in stack["detail"] and "cdk deploy" in stack["fix"]


def test_doctor_passes_what_the_account_has_set_up(aws, tmp_path):
    # Given a recording Config recorder, a logging multi-Region trail, Macie, Security Hub and the stack
    config = aws.client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{aws.account}:role/config",
            "recordingGroup": {"allSupported": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-bucket"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    aws.client("s3").create_bucket(Bucket="org-trail-logs")
    trails = aws.client("cloudtrail")
    trails.create_trail(Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=True)
    trails.start_logging(Name="org-trail")
    aws.client("securityhub").enable_security_hub()
    aws.client("cloudformation").create_stack(
        StackName="Mlwarden", TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    )
    layer = f"arn:aws:lambda:{aws.region}:123456789012:layer:my-powertools:3"
    cwd = project(tmp_path, securityHub=True, powertoolsLayerArn=layer)

    # When the doctor checks it
    checks = checks_of(doctor("--json", cwd=cwd))

    # Then those checks pass; only the layer (which moto cannot serve) still fails, naming the cdk.json ARN
    passed = {name for name, check in checks.items() if check["ok"]}
    assert passed == set(CHECKS) - {"powertools-layer"}, checks
    assert checks["config-recorder"]["detail"] == "recorder default is recording"
    assert checks["cloudtrail"]["detail"] == "multi-Region trail org-trail is logging management events"
    assert "Security Hub is enabled" in checks["security-hub"]["detail"]
    assert checks["stack"]["detail"] == "stack Mlwarden is CREATE_COMPLETE"
    assert layer in checks["powertools-layer"]["detail"]
    # The botocore models the asset ships (read locally): which ones the rule functions rely on
    models = checks["service-models"]["detail"]
    assert "shipped model of bedrock-agentcore-control 2023-06-05" in models
    assert "loaded wherever the Lambda runtime's botocore is older" in models


def test_doctor_names_a_stopped_recorder_a_stopped_trail_and_a_missing_security_hub(aws, tmp_path):
    config = aws.client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": f"arn:aws:iam::{aws.account}:role/config"}
    )
    aws.client("s3").create_bucket(Bucket="trail-logs")
    aws.client("cloudtrail").create_trail(Name="org-trail", S3BucketName="trail-logs", IsMultiRegionTrail=True)

    checks = checks_of(doctor("--json", cwd=project(tmp_path, securityHub=True)))

    assert checks["config-recorder"]["detail"] == "recorder default exists but is not recording"
    assert checks["config-recorder"]["fix"].startswith(
        "aws configservice start-configuration-recorder --configuration-recorder-name default"
    )
    assert checks["cloudtrail"]["detail"] == "trail org-trail is not logging"
    assert checks["cloudtrail"]["fix"].startswith("aws cloudtrail start-logging --name arn:aws:cloudtrail:")
    assert not checks["security-hub"]["ok"] and "enable-security-hub" in checks["security-hub"]["fix"]


def test_doctor_prints_plain_lines_with_fixes_when_piped(aws, tmp_path):
    proc = doctor(cwd=project(tmp_path))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("ok    credentials")
    assert any(line.startswith("FAIL  config-recorder") for line in lines)
    assert any(line.strip().startswith("fix: npx cdk deploy") for line in lines)
    assert lines[-1].endswith("checks failed")


def test_doctor_checks_the_layer_the_stack_uses():
    from mlwarden_cdk.stack import POWERTOOLS_LAYER as STACK_LAYER

    assert POWERTOOLS_LAYER == STACK_LAYER
