"""The demo's first minute (issue 16): it says what it is doing while it synthesizes and deploys, `--keep-running`
prints what `mlwarden history` needs, and the report shows the notebook the demo quarantined as stopped. Its
generative-AI scene (issue 12) leaves Bedrock model invocation logging put back in the local account."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3

from mlwarden.cli import demo

ROOT = Path(__file__).resolve().parents[2]
PROGRESS = (
    "synthesizing the CDK app",
    "starting a local AWS account (moto server)",
    "deploying the template",
)


def terminal_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_demo_prints_progress_while_silent_and_keep_running_prints_what_history_needs(tmp_path):
    # Given `mlwarden demo --keep-running` as a user starts it (its own moto server, its own environment)
    # A user's shell: none of the variables earlier tests of this process may have left behind
    keep = (
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "TMPDIR",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    )
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["MLWARDEN_CACHE_DIR"] = str(tmp_path / "cache")  # an empty template cache: the demo synthesizes
    env["PYTHONFAULTHANDLER"] = "1"  # if Ctrl-C ever fails to stop it, SIGABRT makes it print every thread's stack
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlwarden", "demo", "--keep-running"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As from a terminal: Ctrl-C delivered, whatever this test process's own SIGINT disposition or mask is
        # (a child inherits an ignored or blocked SIGINT; under pytest-xdist it can be either by now)
        preexec_fn=terminal_sigint,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while not any("Ctrl-C" in line for line in seen):  # the demo is done and waits
            assert time.monotonic() < deadline, "".join(seen)
            assert proc.poll() is None or not lines.empty(), "".join(seen)
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
        time.sleep(1)
        while not lines.empty():
            seen.append(lines.get())
        out = "".join(seen)

        # Then the quiet first seconds are narrated, in order, before the local account is up
        first_account_line = out.index("local account at ")
        positions = [out.index(text) for text in PROGRESS]
        assert positions == sorted(positions) and positions[-1] < first_account_line, out[:first_account_line]

        # and keeps the template for the next run
        assert len(list((tmp_path / "cache").glob("demo-template-*.json"))) == 1

        # It ends with the one-screen summary: one screen, what was fixed, what to try next
        summary = out[out.index("Summary: ") : out.index("The local account stays up")].rstrip().splitlines()
        assert len(summary) <= 23 and max(len(line) for line in summary) <= 100, summary
        fixed = [demo.ACCOUNT, f"{demo.UPLOADS_BUCKET}/{demo.UPLOADS_KEY_2}", demo.TRAINING_BUCKET, demo.NOTEBOOK]
        assert [line.split()[1] for line in summary if line.startswith("  fixed ")] == [
            demo._middle(name, demo.RESOURCE_WIDTH) for name in fixed
        ]
        assert any("mlwarden toggle" in line for line in summary) and any("cdk deploy" in line for line in summary)

        # and it prints the environment to export and the audit table's name
        (export,) = [line.strip() for line in seen if line.strip().startswith("export AWS_ENDPOINT_URL=")]
        assignments = dict(word.split("=", 1) for word in export.split()[1:])
        assert {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= set(assignments)
        (history,) = [line.split("#")[0].split() for line in seen if "mlwarden history --table" in line]
        table = history[history.index("--table") + 1]
        assert assignments["MLWARDEN_AUDIT_TABLE"] == table

        # which are enough for `mlwarden history` from another shell, while the demo keeps running
        other_shell = dict(env, **assignments)
        result = subprocess.run(
            [sys.executable, "-m", "mlwarden", "history", "--table", table, "--json"],
            env=other_shell,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "sagemaker-notebook-direct-internet" in result.stdout
        assert '"bedrock-invocation-logging"' in result.stdout

        # The generative-AI scene: invocation logging turned off was caught, the alert names the rule, and the
        # local account's Bedrock (read from this other shell) holds the cdk.json configuration again
        assert f"[HIGH] bedrock-invocation-logging: {demo.ACCOUNT} remediated" in out
        bedrock = boto3.client(
            "bedrock",
            endpoint_url=assignments["AWS_ENDPOINT_URL"],
            region_name=assignments["AWS_REGION"],
            aws_access_key_id=assignments["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=assignments["AWS_SECRET_ACCESS_KEY"],
        )
        assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == demo.INVOCATION_LOGGING
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            # Ctrl-C stops it in about 2 s on an idle machine; generous for a loaded one (the other test worker)
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler: the stacks of every thread, on its output
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            proc.kill()
            proc.wait()
            time.sleep(1)
            tail = []
            while not lines.empty():
                tail.append(lines.get())
            raise AssertionError(
                "mlwarden demo --keep-running did not stop within 120 s of Ctrl-C:\n" + "".join(tail)[-6000:]
            ) from None
    assert proc.returncode == 0


def report_rows(*args: str) -> list[dict[str, str]]:
    result = subprocess.run(
        [sys.executable, "-m", "mlwarden", "report", "--format", "csv", "--region", "us-east-1", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_report_shows_the_notebook_the_demo_quarantined_as_stopped_not_as_a_live_violation(deployment):
    # Given the demo's scenario: the notebook open to the internet was stopped and tagged mlwarden:quarantined
    with contextlib.redirect_stdout(io.StringIO()):
        result = demo.run_scenario(deployment, demo.Narrator())
    assert result.state[demo.NOTEBOOK]["NotebookInstanceStatus"] in ("Stopping", "Stopped")
    table = deployment.resolve(deployment.template["Outputs"]["AuditTableName"]["Value"])
    quarantined = "stopped (quarantined by sagemaker-notebook-direct-internet)"

    # When the report is made from the audit table, and from a fresh scan
    for source in (("--table", table), ("--from-scan",)):
        rows = [r for r in report_rows(*source) if r["resource_id"] == demo.NOTEBOOK]
        # Then no rule shows the stopped notebook as an open violation
        assert rows and not [r for r in rows if r["status"] == "non_compliant"], (source, rows)
        still_wrong = [r for r in rows if r["status"] == "stopped"]
        assert still_wrong and all(r["reason"].startswith(quarantined) for r in still_wrong), (source, rows)
        assert {r["status"] for r in rows} <= {"stopped", "remediated"}


def test_keep_running_stops_on_ctrl_c_and_on_sigterm():
    # `--keep-running` waits in wait_until_stopped(): Ctrl-C from a terminal, or SIGTERM (`kill`, or a shell that
    # started it in the background, where Ctrl-C does not reach it), stops it cleanly
    code = (
        "from mlwarden.cli.demo import wait_until_stopped; print('up', flush=True); wait_until_stopped(); print('done')"
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=terminal_sigint
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        time.sleep(1)  # "up" is printed just before the wait begins: let it begin
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
        assert (proc.returncode, out.strip()) == (0, "done"), sig
