"""Shared fixtures. moto is imported before any code creates a boto3 client."""

from __future__ import annotations

import copy
import json
import os
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import moto  # noqa: F401  (import first: moto must patch botocore before clients exist)
import pytest

EVENTS = Path(__file__).parent / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account

# Never touch a real account from tests.
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "MLWARDEN_MAX_ATTEMPTS": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "mlwarden",
    "POWERTOOLS_SERVICE_NAME": "mlwarden",
}.items():
    os.environ[key] = value
os.environ.pop("AWS_PROFILE", None)


# `make test` runs the suite on every core with pytest-xdist (`pytest -n auto`). Work goes to the workers one
# group at a time, biggest first; a group is one test file, except two levels that must each stay in one worker:
# - functional: the least-privilege proof (tests/functional/test_zz_least_privilege.py) reads the AWS calls the
#   other functional tests recorded in the same process, so they all run in one worker, the proof last;
# - infra: its session fixtures synthesize the CDK app (tens of seconds each): once, not once per worker.
# (xdist's own `--dist loadgroup` does not group under pytest 9.2, whose node ids it can no longer suffix.)
ONE_WORKER_LEVELS = ("functional", "infra")


def test_group(nodeid: str) -> str:
    """The unit of work of a test under pytest-xdist: its level for the levels above, else its file."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in ONE_WORKER_LEVELS:
        return parts[1]
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return test_group(nodeid)

    return GroupScheduling(config, log)


def load_event(relative: str) -> dict[str, Any]:
    return json.loads((EVENTS / relative).read_text())


def as_cloudtrail_event(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Wrap a bare CloudTrail record as EventBridge delivers it ('AWS API Call via CloudTrail')."""
    record = copy.deepcopy(record)
    for dotted, value in changes.items():
        target = record
        *path, last = dotted.split("__")
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value
    service = record.get("eventSource", "unknown.amazonaws.com").split(".")[0]
    return {
        "version": "0",
        "id": f"ct-{record.get('eventID', 'test')}",
        "detail-type": "AWS API Call via CloudTrail",
        "source": f"aws.{service}",
        "account": record.get("recipientAccountId", ACCOUNT),
        "time": record.get("eventTime", "2026-11-25T00:00:00Z"),
        "region": record.get("awsRegion", REGION),
        "resources": [],
        "detail": record,
    }


def as_macie_event(finding: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"macie-{finding.get('id', 'test')}",
        "detail-type": "Macie Finding",
        "source": "aws.macie",
        "account": finding.get("accountId", ACCOUNT),
        "time": "2026-11-25T00:00:00Z",
        "region": finding.get("region", REGION),
        "resources": [],
        "detail": finding,
    }


@pytest.fixture(scope="session")
def moto_server():
    """One moto server for the session; each test resets it (about 2.5× faster than mock_aws per test)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous
    server.stop()


@pytest.fixture(scope="session")
def boto_session(moto_server):
    """One boto3 session for the test session: botocore loads each service model once, not once per test
    (client creation was half the functional suite's time)."""
    import boto3

    return boto3.session.Session()


@pytest.fixture
def aws(moto_server, boto_session):
    """A clean local account; ``aws.client('s3')`` gives a client on it."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    from botocore.config import Config

    session = boto_session
    config = Config(retries={"max_attempts": 1})
    clients: dict[str, Any] = {}

    def client(service: str, region: str = REGION) -> Any:
        key = f"{service}:{region}"
        if key not in clients:
            clients[key] = session.client(service, region_name=region, endpoint_url=moto_server, config=config)
        return clients[key]

    return SimpleNamespace(client=client, endpoint=moto_server, region=REGION, account=ACCOUNT, session=session)


@pytest.fixture
def lambda_context():
    return SimpleNamespace(
        function_name="mlwarden-test",
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mlwarden-test",
        aws_request_id="00000000-0000-0000-0000-000000000000",
        get_remaining_time_in_millis=lambda: 60_000,
    )


def as_securityhub_event(finding: dict[str, Any]) -> dict[str, Any]:
    """Wrap a bare ASFF finding as Security Hub delivers it ('Security Hub Findings - Imported')."""
    return {
        "version": "0",
        "id": f"securityhub-{finding.get('Id', 'test')}"[:128],
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": finding.get("AwsAccountId", ACCOUNT),
        "time": finding.get("UpdatedAt", "2026-11-25T00:00:00Z"),
        "region": finding.get("Region", REGION),
        "resources": [finding["ProductArn"]] if finding.get("ProductArn") else [],
        "detail": {"findings": [finding]},
    }


def as_ocsf_event(finding: dict[str, Any]) -> dict[str, Any]:
    """Wrap a bare OCSF finding as Security Hub delivers it ('Findings Imported V2', one finding per event, the
    event's one resource the finding's metadata.uid: the format in the Security Hub user guide)."""
    cloud = finding.get("cloud") if isinstance(finding.get("cloud"), dict) else {}
    metadata = finding.get("metadata") if isinstance(finding.get("metadata"), dict) else {}
    account = (cloud.get("account") or {}).get("uid", ACCOUNT) if isinstance(cloud.get("account"), dict) else ACCOUNT
    return {
        "version": "0",
        "id": f"securityhub-v2-{metadata.get('uid', 'test')}"[:128],
        "detail-type": "Findings Imported V2",
        "source": "aws.securityhub",
        "account": account,
        "time": finding.get("time_dt", "2026-11-25T00:00:00Z"),
        "region": cloud.get("region", REGION),
        "resources": [metadata["uid"]] if metadata.get("uid") else [],
        "detail": {"findings": [finding]},
    }


def envelope_of(sample: Any) -> str:
    """Which envelope a sample file holds (MANIFEST.md legend), told by its shape."""
    if not isinstance(sample, dict):
        raise ValueError("a sample is a JSON object")
    if "invokingEvent" in sample:
        return "config-invocation"
    if "detail-type" in sample and "source" in sample:
        return "eventbridge"
    if "eventSource" in sample and "eventName" in sample:
        return "cloudtrail-record"
    if "SchemaVersion" in sample and "ProductArn" in sample:
        return "asff"
    if "class_uid" in sample and "metadata" in sample:
        return "ocsf"
    macie_types = ("SensitiveData:", "Policy:")
    if "classificationDetails" in sample or str(sample.get("type", "")).startswith(macie_types):
        return "macie-finding-raw"
    raise ValueError("unknown sample shape: add its envelope to tests/conftest.py envelope_of()")


def as_delivered(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample as a rule Lambda receives it: EventBridge event or Config invocation."""
    wrap = {
        "config-invocation": copy.deepcopy,
        "eventbridge": copy.deepcopy,
        "cloudtrail-record": as_cloudtrail_event,
        "asff": as_securityhub_event,
        "ocsf": as_ocsf_event,
        "macie-finding-raw": as_macie_event,
    }[envelope_of(sample)]
    return wrap(sample)


def sample_files() -> list[str]:
    """Every event file under tests/events, relative to it (sorted)."""
    return sorted(str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json"))


# A valid mlwarden:exempt-until (a whole ISO date, within the default 90-day limit).
EXEMPT_UNTIL = (date.today() + timedelta(days=30)).isoformat()
