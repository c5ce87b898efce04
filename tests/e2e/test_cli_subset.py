"""The CLI with a subset deployed (issue 16): cdk.json ``rules.<id>.deploy: false`` leaves rules out, and the
CLI judges, like the deployment, only the rules deployed (unless ``--rule`` names one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlwarden.cli.demo import cloudtrail_event
from mlwarden.core.registry import rule_ids

KEPT = "s3-bucket-kms-encryption"
LEFT_OUT = [rule_id for rule_id in rule_ids() if rule_id != KEPT]


def mlwarden(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlwarden", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, POWERTOOLS_LOG_LEVEL="ERROR"),
        cwd=cwd,
        timeout=120,
    )


def subset_project(tmp_path: Path) -> Path:
    rules = {rule_id: {"mode": "off", "deploy": False} for rule_id in LEFT_OUT}
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"mlwarden": {"rules": rules}}}))
    return tmp_path


def test_scan_judges_only_deployed_rules_and_says_once_which_it_skipped(aws, tmp_path):
    aws.client("s3").create_bucket(Bucket="lake-raw")
    aws.client("sagemaker").create_notebook_instance(
        NotebookInstanceName="nb",
        InstanceType="ml.t3.medium",
        RoleArn=f"arn:aws:iam::{aws.account}:role/SageMakerExecution",
    )
    project = subset_project(tmp_path)
    proc = mlwarden("scan", "--json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    judged = {json.loads(line)["rule_id"] for line in proc.stdout.splitlines()}
    assert judged == {KEPT}
    notes = [line for line in proc.stderr.splitlines() if "left out of the deployment" in line]
    assert len(notes) == 1 and "deploy: false" in notes[0] and LEFT_OUT[0] in notes[0]
    # naming a left-out rule judges it all the same
    proc = mlwarden("scan", "--json", "--rule", "sagemaker-notebook-direct-internet", cwd=project)
    assert {json.loads(line)["rule_id"] for line in proc.stdout.splitlines()} == {"sagemaker-notebook-direct-internet"}
    assert "left out" not in proc.stderr


def test_evaluate_routes_only_to_deployed_rules_and_names_the_left_out_ones(aws, tmp_path):
    project = subset_project(tmp_path)
    event = cloudtrail_event("sagemaker", "CreateNotebookInstance", {"notebookInstanceName": "nb"})
    path = project / "event.json"
    path.write_text(json.dumps(event))
    proc = mlwarden("evaluate", "--json", str(path), cwd=project)
    assert proc.returncode == 0, proc.stderr
    (record,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["rule_id"] is None and record["action"] == "none"
    assert "left out of the deployment (cdk.json deploy: false)" in record["reason"]
    assert "sagemaker-notebook-direct-internet" in record["reason"]


def test_rules_shows_which_rules_are_deployed(tmp_path):
    proc = mlwarden("rules", cwd=subset_project(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = {
        line.split()[0]: line for line in proc.stdout.splitlines() if line.split() and line.split()[0] in rule_ids()
    }
    assert lines[KEPT].rstrip().endswith("yes")
    assert all(lines[rule_id].rstrip().endswith("no (deploy: false)") for rule_id in LEFT_OUT)
