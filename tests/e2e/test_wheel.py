"""The wheel (`make wheel`, issue 15 item 2): built from the sources, installed into a clean venv, it gives the
CLI, the runtime and the construct, and the construct synthesizes from site-packages with an asset that holds
the runtime package alone.

Fast and offline-tolerant: the build uses pip's isolated build with the pinned setuptools of [build-system]
(pip's cache serves it after the first run); the venv gets the wheel with --no-deps and sees this venv's
installed dependencies (boto3, aws-cdk-lib...) through a .pth line placed after its own site-packages, so
nothing is downloaded and the wheel's own packages come first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from tests.infra.test_rule_functions import ASSET_BUDGET_BYTES, _zipped_size

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

SYNTH = """
import json, sys
from aws_cdk import App, Stack
import mlwarden, mlwarden_cdk
from mlwarden.core.registry import rule_ids
from mlwarden_cdk import Guardrails

app = App(outdir=sys.argv[1])
stack = Stack(app, "TheirStack")
Guardrails(stack, "Guardrails", rules={r: {"deploy": r == "s3-bucket-ssl-only"} for r in rule_ids()})
app.synth()
print(json.dumps({"mlwarden": mlwarden.__file__, "mlwarden_cdk": mlwarden_cdk.__file__}))
"""


def sources(target: Path) -> Path:
    """The repository's files as git sees them (tracked, and new ones not ignored), so that no stale build/ or
    egg-info of a checkout reaches the wheel."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    return env


def test_the_wheel_installs_into_a_clean_venv_and_gives_the_cli_and_the_construct(tmp_path: Path) -> None:
    # Given the wheel built from the sources, as `make wheel` builds it
    src = sources(tmp_path / "src")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)],
        check=True,
        env=clean_env(),
        timeout=300,
    )
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name == f"mlwarden-{version}-py3-none-any.whl"
    # Then it holds the runtime with the botocore models it ships, and the construct; no tests, app or cdk.json
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"mlwarden", "mlwarden_cdk", f"mlwarden-{version}.dist-info"}
    assert "mlwarden/botocore_data/shipped.json" in names
    assert "mlwarden/botocore_data/bedrock-agentcore-control/2023-06-05/service-2.json" in names
    data = {
        path.relative_to(src / "lambdas").as_posix()
        for path in (src / "lambdas" / "mlwarden").rglob("*")
        if path.is_file() and path.suffix != ".py"
    }
    assert data and data <= set(names), f"data files missing from the wheel: {sorted(data - set(names))}"
    assert not [name for name in names if "tests/" in name or "/test_" in name or "conftest" in name]
    # And its description is the README followed by the CHANGELOG
    metadata = zipfile.ZipFile(wheel).read(f"mlwarden-{version}.dist-info/METADATA").decode()
    assert "# mlwarden" in metadata and "# Changelog" in metadata

    # When it is installed, without dependencies, into a clean venv that sees this venv's installed ones
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    ).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "zz-dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        env=clean_env(),
        timeout=120,
    )

    # Then the CLI runs
    cli = subprocess.run(
        [env_dir / "bin" / "mlwarden", "--help"], capture_output=True, text=True, env=clean_env(), cwd=tmp_path
    )
    assert cli.returncode == 0, cli.stderr
    assert "usage: mlwarden" in cli.stdout
    # And the construct imports from the installed packages, not from the checkout
    out = tmp_path / "cdk.out"
    synth = subprocess.run(
        [python, "-c", SYNTH, str(out)], capture_output=True, text=True, env=clean_env(), cwd=tmp_path, timeout=300
    )
    assert synth.returncode == 0, synth.stderr[-3000:]
    files = json.loads(synth.stdout.strip().splitlines()[-1])
    assert all(Path(path).is_relative_to(site) for path in files.values()), files
    # And the stack it is in synthesizes, with the runtime package alone as the functions' asset
    (asset,) = [path for path in out.glob("asset.*") if path.is_dir()]
    assets = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    assert "mlwarden/handler.py" in assets and "mlwarden/rules/s3_bucket_ssl_only.py" in assets
    assert "mlwarden/botocore_data/shipped.json" in assets
    assert not [f for f in assets if not f.startswith("mlwarden/") or f.startswith("mlwarden/cli/")]
    assert not [f for f in assets if "__pycache__" in f or f.endswith(".pyc")]
    assert _zipped_size(asset) <= ASSET_BUDGET_BYTES
    assert (out / "TheirStack.template.json").is_file()
    assert list(out.glob("*.nested.template.json"))
