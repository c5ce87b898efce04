"""Sweep figures of issue 14, measured and printed by ``make bench`` / ``make bench-scale`` (never asserted by
timing in tests).

- requests per resource of ``mlwarden scan``'s sweep for the three checks (s3-bucket-kms-encryption,
  s3-bucket-public-access, sagemaker-notebook-direct-internet) on 1,000 buckets + 100 notebooks, with the shared
  reads and without them, and the same with the whole catalog;
- an added-latency mode: a local forwarder in front of the moto server delays every request by 25 ms; sweep
  wall time and requests with workers=1 and the default;
- the scale run: 10,000 buckets + 100,000 finished training jobs + a few running ones: peak RSS, wall time,
  requests of the sweep.

Each moto server runs in its own process (the account is populated there); each sweep runs in a fresh
interpreter (``python bench/sweep_bench.py sweep ...``) so its peak RSS is its own.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
REGION = "us-east-1"
THREE = ("s3-bucket-kms-encryption", "s3-bucket-public-access", "sagemaker-notebook-direct-internet")
FULL_BLOCK = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "MLWARDEN_MAX_ATTEMPTS": "1",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
}

# --------------------------------------------------------------------------------------- the account
SERVER = r"""
import json, sys, time, logging
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
spec = json.loads(sys.argv[1])
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
start = time.perf_counter()
import boto3
from moto.s3.models import s3_backends
from moto.sagemaker.models import sagemaker_backends
ACCOUNT, REGION = "123456789012", "us-east-1"
FULL = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
endpoint = f"http://{host}:{port}"
if spec["direct"]:
    # The backend itself (no HTTP): what 110,000 resources need to be made in minutes.
    s3 = s3_backends[ACCOUNT]["aws"]
    for i in range(spec["buckets"]):
        name = f"bucket-{i:06d}"
        s3.create_bucket(name, REGION)
        algorithm = "aws:kms" if i % 10 < 3 else "AES256"
        s3.put_bucket_encryption(name, {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}})
        if i % 10 != 9:
            s3.put_public_access_block(name, {k: "true" for k in FULL})
    sm = boto3.client("sagemaker", endpoint_url=endpoint, region_name=REGION)
    backend = sagemaker_backends[ACCOUNT][REGION]
    template = None
    for j in range(spec["jobs"]):
        name = f"job-{j:06d}"
        if template is None:
            sm.create_training_job(
                TrainingJobName=name,
                AlgorithmSpecification={"TrainingImage": "x", "TrainingInputMode": "File"},
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/x",
                OutputDataConfig={"S3OutputPath": "s3://out/"},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                StoppingCondition={"MaxRuntimeInSeconds": 60},
            )
            template = backend.training_jobs[name]
            continue
        import copy
        job = copy.copy(template)
        job.training_job_name = name
        job.arn = template.arn.rsplit("/", 1)[0] + "/" + name
        backend.training_jobs[name] = job
    for j in range(spec["running"]):
        backend.training_jobs[f"job-{j:06d}"].training_job_status = "InProgress"
else:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    sm = boto3.client("sagemaker", endpoint_url=endpoint, region_name=REGION)
    for i in range(spec["buckets"]):
        name = f"bucket-{i:06d}"
        s3.create_bucket(Bucket=name)
        algorithm = {"SSEAlgorithm": "aws:kms" if i % 10 < 3 else "AES256"}
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": algorithm}]},
        )
        if i % 10 != 9:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=FULL)
    for j in range(spec["notebooks"]):
        sm.create_notebook_instance(
            NotebookInstanceName=f"nb-{j:04d}",
            InstanceType="ml.t3.medium",
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/x",
            DirectInternetAccess="Enabled" if j % 2 == 0 else "Disabled",
        )
print(json.dumps({"endpoint": endpoint, "populate_s": time.perf_counter() - start}), flush=True)
sys.stdin.read()  # until the bench closes stdin
server.stop()
"""


class Account:
    """A moto server in its own process, populated as ``spec`` says (see SERVER)."""

    def __init__(self, **spec: Any) -> None:
        spec = {"buckets": 0, "notebooks": 0, "jobs": 0, "running": 0, "direct": False, **spec}
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close()): the server's own noise (tracebacks of APIs moto lacks)
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, **ENV},
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first:
            self.log.seek(0)
            raise RuntimeError(f"the moto server did not start: {self.log.read()[-3000:]}")
        ready = json.loads(first)
        self.endpoint: str = ready["endpoint"]
        self.populate_s: float = ready["populate_s"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)
        self.log.close()


# -------------------------------------------------------------------------------- the latency forwarder
class Delayed(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: str, delay: float) -> None:
        host, _, port = target.removeprefix("http://").partition(":")
        self.target, self.delay = (host, int(port)), delay
        super().__init__(("127.0.0.1", 0), _Forward)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Delayed

    def log_message(self, *_: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the client's delayed
        # ACK add ~40 ms to every answer, on top of the delay measured.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _any(self) -> None:
        time.sleep(self.server.delay)  # every request waits as long as a round trip to a nearby Region
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(*self.server.target, timeout=60)
        upstream.connect()
        upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any


# ------------------------------------------------------------------------------------ one sweep (child)
def sweep_child(endpoint: str, rules: str, workers: int, shared: bool) -> None:
    """One sweep in this fresh interpreter: prints its figures as JSON (decisions are counted, not kept)."""
    os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
    import resource

    import boto3

    from mlwarden.cli.commands import sweep_each
    from mlwarden.cli.local import SERVICE_CONCURRENCY, LocalRunner, load_settings
    from mlwarden.core.context import ClientFactory
    from mlwarden.core.registry import all_rules, get_rule

    def peak_rss_mb() -> float:
        """This process's peak RSS (VmHWM: ru_maxrss would carry the forking parent's peak across exec)."""
        try:
            for text in Path("/proc/self/status").read_text().splitlines():
                if text.startswith("VmHWM:"):
                    return int(text.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    requests = [0]
    lock = threading.Lock()

    def count(**_: Any) -> None:
        with lock:
            requests[0] += 1

    session = boto3.session.Session()
    session.events.register("before-send", count)  # every HTTP request, retries included
    settings = load_settings(ROOT / "no-cdk.json")  # the built-in defaults
    chosen = [get_rule(r) for r in rules.split(",")] if rules != "all" else all_rules()
    runner = LocalRunner(
        apply=False,
        settings=settings,
        region=REGION,
        account=ACCOUNT,
        clients=ClientFactory(session=session, retry_mode="adaptive", per_service=SERVICE_CONCURRENCY),
    )
    if not shared:
        for rule in chosen:
            runner.engine(rule).ctx.reads = None
    decisions = resources = 0
    seen: set[tuple[str, str]] = set()
    before = peak_rss_mb()

    def emit(decision: Any) -> None:
        nonlocal decisions, resources
        decisions += 1
        if decision.resource_id and (decision.resource_type, decision.resource_id) not in seen:
            resources += 1
            if len(seen) < 200_000:
                seen.add((decision.resource_type, decision.resource_id))

    start = time.perf_counter()
    cpu = time.process_time()
    sweep_each(runner, chosen, emit, workers=workers)
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": time.process_time() - cpu,
                "requests": requests[0],
                "decisions": decisions,
                "resources": resources,
                "rules": len(chosen),
                "rss_mb": peak_rss_mb(),
                "rss_before_sweep_mb": before,
            }
        )
    )


def sweep(endpoint: str, rules: str = ",".join(THREE), workers: int = 32, shared: bool = True) -> dict[str, Any]:
    args = [sys.executable, __file__, "sweep", endpoint, rules, str(workers), "1" if shared else "0"]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lambdas'}:{ROOT}"}
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def line(label: str, r: dict[str, Any], per: int) -> str:
    return (
        f"   {label:<44} {r['requests']:6d} requests ({r['requests'] / per:.2f} per resource), "
        f"{r['decisions']:6d} decisions, {r['wall_s']:6.2f} s wall, {r['cpu_s']:5.2f} s CPU, "
        f"peak RSS {r['rss_mb']:.0f} MB"
    )


# --------------------------------------------------------------------------------------------- figures
def requests_and_latency(buckets: int = 1000, notebooks: int = 100, delay: float = 0.025) -> None:
    """Requests per resource (three checks, whole catalog; shared reads or not), then the same three checks
    under added latency, on one account."""
    total = buckets + notebooks
    print(f"== Sweep: requests per resource ({buckets:,} buckets + {notebooks} notebooks; moto server in its own")
    print("   process). Account: 9 buckets in 10 with Block Public Access fully on (the default since 2023), 3 in 10")
    print("   SSE-KMS (the rest SSE-S3), half the notebooks with direct internet access. Requests: every HTTP request")
    print("   of the sweep (listings and mode reads included), counted with botocore's before-send hook.")
    account = Account(buckets=buckets, notebooks=notebooks)
    print(f"   (account populated through the API in {account.populate_s:.0f} s; not part of any figure)")
    forwarder = Delayed(account.endpoint, delay)
    try:
        sweep(account.endpoint, rules="all")  # warm-up: moto loads each service's backend on its first call
        shared = sweep(account.endpoint)
        print(line("three checks, shared reads", shared, total) + "  (target <= 3.0)")
        alone = sweep(account.endpoint, shared=False)
        print(line("three checks, reads not shared (before)", alone, total))
        catalog = sweep(account.endpoint, rules="all")
        print(line(f"whole catalog ({catalog['rules']} rules), shared reads", catalog, total))
        catalog_alone = sweep(account.endpoint, rules="all", shared=False)
        print(line("whole catalog, reads not shared", catalog_alone, total))
        ms = f"{delay * 1000:.0f} ms"
        print(f"== Sweep under latency: a local forwarder delays every request {ms} before moto answers")
        print(f"   (the three checks on the same {total:,} resources; wall = the sweep only)")
        print(line("no added latency, default workers (32)", shared, total))
        slow = sweep(forwarder.endpoint)
        print(line(f"+{delay * 1000:.0f} ms, default workers (32)", slow, total))
        serial = sweep(forwarder.endpoint, workers=1)
        print(line(f"+{delay * 1000:.0f} ms, workers=1", serial, total))
        print(
            f"   speed-up from concurrency: {serial['wall_s'] / slow['wall_s']:.1f}x; effective concurrency "
            f"(requests x delay / wall): {slow['requests'] * delay / slow['wall_s']:.1f} with 32 workers, "
            f"{serial['requests'] * delay / serial['wall_s']:.2f} with 1"
        )
    finally:
        forwarder.shutdown()
        account.close()


def scale(buckets: int = 10_000, jobs: int = 100_000, running: int = 5, baseline: dict[str, Any] | None = None) -> None:
    print(f"== Scale: {buckets:,} buckets + {jobs:,} finished training jobs + {running} running (moto server)")
    rules = ",".join((*THREE[:2], "sagemaker-training-job-security"))
    print(f"   rules: {rules.replace(',', ', ')}")
    if baseline is None:
        small = Account(buckets=1000, jobs=1000, running=running, direct=True)
        try:
            baseline = sweep(small.endpoint, rules=rules)
        finally:
            small.close()
        print(line("1,000 buckets + 1,000 jobs (baseline)", baseline, baseline["resources"] or 1))
    account = Account(buckets=buckets, jobs=jobs, running=running, direct=True)
    print(
        f"   populated in the moto server's process directly (not through the API, not part of the sweep): "
        f"{account.populate_s:.1f} s"
    )
    try:
        big = sweep(account.endpoint, rules=rules)
    finally:
        account.close()
    print(line(f"{buckets:,} buckets + {jobs:,} jobs", big, big["resources"] or 1))
    print(
        f"   judged {big['resources']:,} resources (the listing asks for InProgress jobs only: the "
        f"{jobs - running:,} finished ones cost nothing); peak RSS {big['rss_mb']:.0f} MB against "
        f"{baseline['rss_mb']:.0f} MB at 1,000 ({big['rss_mb'] / baseline['rss_mb']:.2f}x, target <= 1.5x)"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["sweep"]:
        endpoint, rules, workers, shared = sys.argv[2:6]
        sweep_child(endpoint, rules, int(workers), shared == "1")
    elif sys.argv[1:2] == ["scale"]:
        scale()
    else:
        requests_and_latency()
