"""Shared reads (issue 14): within one CLI sweep or one evaluated event, each attribute of a resource is read
once, whatever the number of rules judging it; a fix forgets what it made stale; the per-service bound holds.

Requests are counted with botocore's ``before-call`` hook on a moto account (in-process): counts, never timings.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlwarden.cli.commands import listing_groups, sweep, sweep_each
from mlwarden.cli.local import LocalRunner
from mlwarden.core.context import ClientFactory
from mlwarden.core.model import ACTION_REMEDIATED, COMPLIANT, NON_COMPLIANT, ResourceGone
from mlwarden.core.reads import ReadCache
from mlwarden.core.registry import all_rules, get_rule
from mlwarden.core.settings import Settings, mode_parameter_name

ACCOUNT = "123456789012"
REGION = "us-east-1"
THREE = ("s3-bucket-kms-encryption", "s3-bucket-public-access", "sagemaker-notebook-direct-internet")
FULL_BLOCK = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
DEFAULTS = Settings.from_context({}, known={rule.spec.id: rule.spec.default_mode for rule in all_rules()})


class Requests:
    """Every call a client of the session makes: (operation, the resource it names)."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        session.events.register("before-parameter-build", self)  # once per call, with the call's parameters

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        name = json.dumps(params, sort_keys=True, default=str)
        with self._lock:
            self.calls[(model.service_model.service_name, model.name, name)] += 1

    def total(self) -> int:
        return sum(self.calls.values())

    def of(self, operation: str, service: str = "") -> int:
        return sum(n for (svc, op, _), n in self.calls.items() if op == operation and service in ("", svc))


def build_account(buckets: int, notebooks: int) -> tuple[int, int]:
    """A mix like a real account's: 9 buckets in 10 with Block Public Access fully on (the default since 2023),
    3 in 10 with SSE-KMS (the rest AWS's default SSE-S3), half the notebooks with direct internet access.
    Returns (violating buckets, violating notebooks)."""
    s3, sm = boto3.client("s3", region_name=REGION), boto3.client("sagemaker", region_name=REGION)
    violating_buckets = 0
    for i in range(buckets):
        name = f"bucket-{i:05d}"
        s3.create_bucket(Bucket=name)
        kms, blocked = i % 10 < 3, i % 10 != 9
        algorithm = {"SSEAlgorithm": "aws:kms"} if kms else {"SSEAlgorithm": "AES256"}
        default = {"Rules": [{"ApplyServerSideEncryptionByDefault": algorithm}]}
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=default)
        if blocked:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=FULL_BLOCK)
        violating_buckets += (not kms) or (not blocked)
    for j in range(notebooks):
        sm.create_notebook_instance(
            NotebookInstanceName=f"nb-{j:04d}",
            InstanceType="ml.t3.medium",
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/x",
            DirectInternetAccess="Enabled" if j % 2 == 0 else "Disabled",
        )
    return violating_buckets, (notebooks + 1) // 2


def runner(session: boto3.session.Session, *, apply: bool = False, per_service: int = 0) -> LocalRunner:
    clients = ClientFactory(session=session, per_service=per_service)
    return LocalRunner(apply=apply, settings=DEFAULTS, region=REGION, clients=clients, account=ACCOUNT)


@pytest.fixture
def aws(monkeypatch):
    # In-process moto: never the session's moto server, whose endpoint other test levels set for the session.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_the_three_checks_read_each_attribute_once_and_tags_once_per_violator(aws):
    violating_buckets, violating_notebooks = build_account(40, 10)
    session = boto3.session.Session()
    requests = Requests(session)
    decisions, _ = sweep(runner(session), [get_rule(rule_id) for rule_id in THREE], workers=8)
    assert len(decisions) == 2 * 40 + 10
    # No read is made twice: every (operation, resource) once, listings aside (one call each).
    repeated = {call: n for call, n in requests.calls.items() if n > 1}
    assert repeated == {}
    # Exemption tags: once per resource any rule finds violating (two rules judge a bucket).
    assert requests.of("GetBucketTagging") == violating_buckets
    assert requests.of("ListTags") == violating_notebooks
    assert requests.of("GetBucketEncryption") == requests.of("GetPublicAccessBlock") == 40
    assert requests.of("ListBuckets") == 1  # one listing for both bucket rules
    # The target of issue 14: at most 3.0 requests per resource (listings and mode reads included).
    assert requests.total() / 50 <= 3.0, requests.calls


def test_without_shared_reads_the_same_sweep_reads_tags_once_per_rule(aws):
    """The figure above is the cache's doing: with it off, a bucket both rules flag has its tags read twice."""
    violating_buckets, _ = build_account(20, 0)
    session = boto3.session.Session()
    requests = Requests(session)
    local = runner(session)
    for rule_id in THREE[:2]:
        local.engine(get_rule(rule_id)).ctx.reads = None
    sweep(local, [get_rule(rule_id) for rule_id in THREE[:2]], workers=4)
    both = sum(1 for i in range(20) if i % 10 >= 3 and i % 10 == 9)
    assert requests.of("GetBucketTagging") == violating_buckets + both > violating_buckets


def test_whole_catalog_requests_grow_with_attributes_not_rules(aws):
    """Every rule at once: still no (operation, resource) read twice — requests follow the attributes judged."""
    build_account(12, 4)
    session = boto3.session.Session()
    requests = Requests(session)
    local = runner(session)
    # In-process moto lacks some listings (it raises NotImplementedError where a server answers 500): the rules
    # whose listings it answers.
    rules = []
    for rule in all_rules():
        try:
            local.engine(rule).refs_to_sweep(REGION, ACCOUNT)
        except Exception:
            continue
        rules.append(rule)
    assert len(rules) >= 20
    requests.calls.clear()
    decisions, _ = sweep(local, rules, workers=8)
    assert decisions
    from mlwarden.resources.catalog import TYPES

    listings = {listing.action.split(":")[1] for rtype in TYPES.values() for listing in rtype.listings}
    repeated = {call: n for call, n in requests.calls.items() if n > 1 and call[1] not in listings}
    assert repeated == {}
    judged = [d for d in decisions if d.resource_type == "AWS::S3::Bucket"]
    rules_on_buckets = len({d.rule_id for d in judged})
    assert rules_on_buckets >= 2
    # each bucket: its encryption and Block Public Access read once, however many rules judge buckets
    assert requests.of("GetBucketEncryption", "s3") == 12
    assert requests.of("GetPublicAccessBlock", "s3") == 12


def test_a_fix_forgets_the_reads_it_made_stale(aws):
    """--apply: after the engine fixes a bucket, the next judgement of it reads it again (not the cached open
    state): without the engine's ``reads.changed`` the second decision would say NON_COMPLIANT again."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="open")
    rule = get_rule("s3-bucket-public-access")
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=mode_parameter_name(rule.spec.id), Value="remediate", Type="String"
    )
    session = boto3.session.Session()
    requests = Requests(session)
    local = runner(session, apply=True)
    engine = local.engine(rule)
    ref = next(iter(engine.refs_to_sweep(REGION, ACCOUNT)))
    from mlwarden.core.engine import Source

    first = engine.decide(ref, Source(event_id="a"))
    assert (first.compliance, first.action) == (NON_COMPLIANT, ACTION_REMEDIATED)
    second = engine.decide(ref, Source(event_id="b"))
    assert second.compliance == COMPLIANT
    assert requests.of("GetPublicAccessBlock") == 2


def test_a_dry_run_shares_reads_between_decisions_of_one_resource(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="one")
    session = boto3.session.Session()
    requests = Requests(session)
    local = runner(session)
    from mlwarden.core.engine import Source

    kms, public = local.engine(get_rule(THREE[0])), local.engine(get_rule(THREE[1]))
    ref = next(iter(kms.refs_to_sweep(REGION, ACCOUNT)))
    kms.decide(ref, Source())
    public.decide(ref, Source())
    assert requests.of("GetBucketTagging") == 1  # both flag it; its tags were read once


def test_two_threads_asking_one_key_make_one_request():
    cache = ReadCache()
    started, release = threading.Event(), threading.Event()
    loads: list[int] = []

    def load() -> dict[str, Any]:
        loads.append(1)
        started.set()
        release.wait(5)
        return {"value": [1]}

    answers: list[Any] = []
    key = ("a", "r", "T", "id")
    first = threading.Thread(target=lambda: answers.append(cache.get(key, "describe", load)))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: answers.append(cache.get(key, "describe", load)))
    second.start()
    time.sleep(0.05)  # the second asker is now waiting on the key (the count below holds however long it waits)
    release.set()
    first.join(5)
    second.join(5)
    assert loads == [1]
    assert answers == [{"value": [1]}, {"value": [1]}]
    answers[0]["value"].append(2)  # each answer is a copy: a rule may change its state
    assert cache.get(key, "describe", load) == {"value": [1]}
    assert (cache.requests, cache.shared) == (1, 2)


def test_failed_reads_are_asked_again_and_gone_is_remembered():
    cache = ReadCache()
    calls: list[str] = []

    def failing() -> Any:
        calls.append("x")
        raise RuntimeError("throttled")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            cache.get(("a", "r", "T", "id"), "describe", failing)
    assert calls == ["x", "x"]

    def gone() -> Any:
        calls.append("g")
        raise ResourceGone("bucket b")

    for _ in range(2):
        with pytest.raises(ResourceGone, match="bucket b"):
            cache.get(("a", "r", "T", "b"), "describe", gone)
    assert calls.count("g") == 1


def test_changed_forgets_the_account_and_region_and_forget_one_resource():
    cache = ReadCache()
    for key in (("a", "r", "T", "1"), ("a", "r", "U", "2"), ("a", "other", "T", "3"), ("", "r", "T", "4")):
        cache.get(key, "describe", lambda: 1)
    cache.forget(("a", "other", "T", "3"))
    assert len(cache) == 3
    cache.changed("a", "r")
    assert len(cache) == 0


def test_the_deployed_function_shares_nothing():
    """A Lambda's context has no read cache: every invocation reads live state."""
    from mlwarden.core.context import RuleContext
    from mlwarden.core.settings import RuntimeSettings

    assert RuleContext(RuntimeSettings(rule_id="x")).reads is None


def test_one_listing_per_type_shared_by_the_rules_judging_it():
    local = LocalRunner(apply=False, settings=DEFAULTS, region=REGION, account=ACCOUNT)
    groups = dict(listing_groups([local.engine(get_rule(rule_id)) for rule_id in THREE]))
    assert [e.spec.id for e in groups["AWS::S3::Bucket"]] == list(THREE[:2])
    assert [e.spec.id for e in groups["AWS::SageMaker::NotebookInstance"]] == [THREE[2]]


def test_calls_in_flight_per_service_and_region_are_bounded(aws):
    build_account(30, 0)
    session = boto3.session.Session()
    local = runner(session, per_service=2)
    in_flight, peak, lock = [0], [0], threading.Lock()

    def enter(**_: Any) -> None:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.002)

    def leave(**_: Any) -> None:
        with lock:
            in_flight[0] -= 1

    client = local.clients.client("s3", REGION, ACCOUNT)
    client.meta.events.register("before-call", enter)  # after the bound's own hook: inside the slot
    client.meta.events.register_first("after-call", leave)  # before the slot is given back
    seen: list[str] = []
    sweep_each(local, [get_rule(THREE[0])], lambda d: seen.append(d.resource_id), workers=16)
    assert len(seen) == 30
    assert seen == sorted(seen)  # decisions come in listing order
    assert 1 <= peak[0] <= 2


def _create_bucket_event(bucket: str, event_id: str) -> dict[str, Any]:
    """Hand-written: the EventBridge form of a CloudTrail CreateBucket record (only the fields routing reads)."""
    return {
        "version": "0",
        "id": event_id,
        "source": "aws.s3",
        "detail-type": "AWS API Call via CloudTrail",
        "account": ACCOUNT,
        "region": REGION,
        "time": "2026-12-06T00:00:00Z",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "eventID": event_id,
            "eventSource": "s3.amazonaws.com",
            "eventName": "CreateBucket",
            "awsRegion": REGION,
            "recipientAccountId": ACCOUNT,
            "requestParameters": {"bucketName": bucket},
        },
    }


def test_one_event_reaching_several_rules_reads_each_attribute_once(aws, capsys):
    """``mlwarden evaluate``: the rules one event reaches share its reads; the next event reads live state again."""
    from mlwarden.cli.commands import _evaluate_document

    boto3.client("s3", region_name=REGION).create_bucket(Bucket="open")
    session = boto3.session.Session()
    requests = Requests(session)
    local = runner(session)
    collected: list[Any] = []
    _evaluate_document(_create_bucket_event("open", "e1"), all_rules(), local, "table", collected, [0])
    bucket_rules = {d.rule_id for d in collected if d.resource_id == "open"}
    assert {"s3-bucket-kms-encryption", "s3-bucket-public-access"} <= bucket_rules
    assert {call: n for call, n in requests.calls.items() if n > 1} == {}
    assert requests.of("GetBucketTagging") == 1  # both rules find it violating
    _evaluate_document(_create_bucket_event("open", "e2"), all_rules(), local, "table", collected, [0])
    assert requests.of("GetPublicAccessBlock", "s3") == 2  # a second event: live state read again


def test_a_mode_known_missing_keeps_no_caller_alive(aws):
    """Flat memory: answering "missing" from the cache must not keep the asking frames (a sweep's refs, decisions
    and futures, through each frame's caller) alive. It did when one exception instance was re-raised: each
    raise added its frames to that instance's traceback, for the life of the process (the Lambda's too)."""
    import gc
    import weakref

    from mlwarden.core.modes import ModeSource

    modes = ModeSource(ClientFactory(), REGION)

    class Marker:
        pass

    def ask() -> weakref.ref[Marker]:
        marker = Marker()
        assert modes.mode("no-such-rule", "notify") == "notify"
        return weakref.ref(marker)

    ask()  # the real read: ParameterNotFound, remembered as missing
    answered_from_cache = ask()
    gc.collect()
    assert answered_from_cache() is None
