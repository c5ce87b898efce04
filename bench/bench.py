"""Performance figures of DESIGN §4, measured and printed (never asserted by timing in tests).

- cold init of a rule handler (import + runtime build) against the floor `import boto3; boto3.client('s3')`
- AWS calls per evaluation per rule, counted with botocore event hooks against a moto server, with
  1 and 50 buckets in the account (the cost of one event must not grow with the account)
- calls per resource of a scan, for 10 and 40 buckets (linear growth)
- the sweep figures of issue 14 (bench/sweep_bench.py): requests per resource with shared reads (three checks,
  whole catalog), wall time under 25 ms of added latency with workers=1 and the default; ``make bench-scale``
  adds the 10,000-bucket / 100,000-training-job run
- Lambda asset size (zipped, mlwarden's own code only)
- synth time
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    MLWARDEN_MAX_ATTEMPTS="1",
    POWERTOOLS_LOG_LEVEL="ERROR",
    POWERTOOLS_METRICS_DISABLED="true",
)


def _time_python(code: str, env: dict[str, str]) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def first_service(rule_id: str) -> str:
    from mlwarden.core.registry import get_rule

    return get_rule(rule_id).spec.permissions.detect[0].split(":")[0]


def cold_init() -> None:
    print(f"== Cold init (median of {RUNS} fresh interpreters, minus the bare interpreter start)")
    env = dict(os.environ)
    empty = _time_python("pass", env)
    floor = _time_python("import boto3; boto3.client('s3')", env) - empty
    print(f"   floor  import boto3; boto3.client('s3')          {floor * 1000:7.0f} ms")
    from mlwarden.core.registry import rule_ids

    for rule_id in rule_ids():
        env_rule = dict(
            env,
            MLWARDEN_RULE_ID=rule_id,
            MLWARDEN_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:mlwarden-alerts",
            # as deployed: the runtime also builds its idempotency guard and audit log at init
            MLWARDEN_IDEMPOTENCY_TABLE="mlwarden-idempotency",
            MLWARDEN_AUDIT_TABLE="mlwarden-audit",
        )
        took = _time_python("import mlwarden.handler as h; h.runtime()", env_rule) - empty
        # Clients are made on first use; the floor makes one, so also show init + the rule's first client.
        service = first_service(rule_id)
        ready = (
            _time_python(
                f"import mlwarden.handler as h; h.runtime().engine.ctx.client({service!r}, 'us-east-1')", env_rule
            )
            - empty
        )
        verdict = "ok" if took <= 1.3 * floor else "OVER BUDGET"
        print(
            f"   {rule_id:<38} {took * 1000:5.0f} ms  ratio {took / floor:4.2f} (budget 1.30) {verdict:<11}"
            f" | with its first {service} client {ready * 1000:5.0f} ms, ratio {ready / floor:4.2f}"
        )


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model, **_: object) -> None:  # botocore 'before-call' hook
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def reset(self) -> Counter[str]:
        out, self.calls = self.calls, Counter()
        return out


def aws_calls() -> None:
    import boto3

    from mlwarden.cli.demo import macie_finding_event
    from mlwarden.cli.local_account import moto_server
    from mlwarden.core.context import ClientFactory, RuleContext
    from mlwarden.core.engine import Engine, Source
    from mlwarden.core.modes import ModeSource
    from mlwarden.core.registry import get_rule
    from mlwarden.core.settings import RuntimeSettings

    with moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        setup = boto3.session.Session()
        s3, sm = setup.client("s3"), setup.client("sagemaker")
        counter = CallCounter()
        session = boto3.session.Session()
        session.events.register("before-call", counter)
        clients = ClientFactory(session=session)

        def engine(rule_id: str) -> Engine:
            rule = get_rule(rule_id)
            ctx = RuleContext(RuntimeSettings(rule_id=rule_id), clients)
            return Engine(rule, ctx, ModeSource(clients, "us-east-1"), apply=False)

        s3.create_bucket(Bucket="kms-ok")
        s3.put_bucket_encryption(
            Bucket="kms-ok",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )
        s3.create_bucket(Bucket="sse-s3")
        s3.put_bucket_encryption(
            Bucket="sse-s3",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.create_bucket(Bucket="private-bpa")
        s3.put_public_access_block(
            Bucket="private-bpa",
            PublicAccessBlockConfiguration={
                k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            },
        )
        s3.put_object(Bucket="private-bpa", Key="a.csv", Body=b"x")
        s3.create_bucket(Bucket="no-bpa")
        s3.put_object(Bucket="no-bpa", Key="a.csv", Body=b"x")
        for name, access in (("nb-open", "Enabled"), ("nb-closed", "Disabled")):
            sm.create_notebook_instance(
                NotebookInstanceName=name,
                InstanceType="ml.t3.medium",
                RoleArn="arn:aws:iam::123456789012:role/x",
                DirectInternetAccess=access,
            )

        def measure(rule_id: str, label: str, refs_event: dict) -> None:
            eng = engine(rule_id)
            ref = eng.rule.refs_from_event(refs_event)[0]
            state = eng.rule.fetch(ref, eng.ctx)
            fetch_calls = counter.reset()
            verdict = eng.rule.evaluate(ref, state, eng.ctx).compliance
            eng.decide(ref, Source())
            decide_calls = counter.reset()
            reads = sum(fetch_calls.values())
            budget = "ok" if reads <= 2 else "over 2"
            print(
                f"   {rule_id:<36} {label:<30} {verdict:<14} reads to judge {reads} ({budget}); "
                f"whole decision {sum(decide_calls.values())}: {dict(decide_calls)}"
            )

        def ct(service: str, name: str, params: dict) -> dict:
            return {
                "source": f"aws.{service}",
                "detail-type": "AWS API Call via CloudTrail",
                "region": "us-east-1",
                "detail": {
                    "eventSource": f"{service}.amazonaws.com",
                    "eventName": name,
                    "awsRegion": "us-east-1",
                    "requestParameters": params,
                },
            }

        def all_cases() -> None:
            measure(
                "s3-bucket-kms-encryption",
                "SSE-KMS bucket",
                ct("s3", "CreateBucket", {"bucketName": "kms-ok"}),
            )
            measure(
                "s3-bucket-kms-encryption",
                "SSE-S3 bucket",
                ct("s3", "CreateBucket", {"bucketName": "sse-s3"}),
            )
            measure(
                "sagemaker-notebook-direct-internet",
                "internet Disabled",
                ct("sagemaker", "CreateNotebookInstance", {"notebookInstanceName": "nb-closed"}),
            )
            measure(
                "sagemaker-notebook-direct-internet",
                "internet Enabled",
                ct("sagemaker", "CreateNotebookInstance", {"notebookInstanceName": "nb-open"}),
            )
            measure("macie-sensitive-data", "bucket with BPA on", macie_finding_event("private-bpa", "a.csv"))
            measure("macie-sensitive-data", "bucket without BPA", macie_finding_event("no-bpa", "a.csv"))

        print("== AWS calls per evaluation (moto server; 'reads to judge' = fetch; the whole decision adds the")
        print("   mode read (cached 60 s) and, only when non-compliant, the exemption tags)")
        all_cases()
        for i in range(50):
            s3.create_bucket(Bucket=f"filler-{i:03d}")
        print("   ... with 50 more buckets in the account:")
        all_cases()

        print("== Scan: calls per bucket (s3-bucket-kms-encryption, dry run)")
        from mlwarden.cli.local import LocalRunner

        for extra in (0, 30):
            for i in range(extra):
                s3.create_bucket(Bucket=f"more-{extra}-{i:03d}")
            runner = LocalRunner(apply=False, clients=clients)
            eng = runner.engine(get_rule("s3-bucket-kms-encryption"))
            counter.reset()
            start = time.perf_counter()
            decisions = list(eng.sweep("us-east-1"))
            took = time.perf_counter() - start
            calls = counter.reset()
            print(
                f"   {len(decisions):3d} buckets: {sum(calls.values()):4d} calls "
                f"({sum(calls.values()) / len(decisions):.2f} per bucket) in {took:.2f}s: {dict(calls)}"
            )


def asset_size() -> None:
    buffer = io.BytesIO()
    root = ROOT / "lambdas"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if (
                path.is_dir()
                or "__pycache__" in rel.parts
                or path.suffix == ".pyc"
                or rel.parts[:2] == ("mlwarden", "cli")
            ):
                continue
            zf.write(path, rel)
    size = len(buffer.getvalue())
    print(
        f"== Lambda asset (lambdas/ without the CLI, zipped): {size / 1024:.1f} KB (budget 300 KB) "
        f"{'ok' if size <= 300 * 1024 else 'OVER BUDGET'}"
    )


def synth_time() -> None:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from mlwarden.cli.local_account import synthesize_template as s; s()"],
        check=True,
        cwd=ROOT,
    )
    print(f"== Synth (in-process CDK app, fresh interpreter): {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    import sweep_bench

    cold_init()
    aws_calls()
    sweep_bench.requests_and_latency()
    asset_size()
    synth_time()
