"""Run a rule's Lambda handler against the local moto account and capture its alerts."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from mlwarden import handler as handler_module
from mlwarden.core.context import ClientFactory
from mlwarden.core.settings import KILL_SWITCH_PARAMETER, RuntimeSettings, mode_parameter_name

# Key of a canned answer holding the raw JSON body AWS sent (see TestClients.answer).
RAW_BODY = "__raw_body__"

# rule id -> AWS calls made by its handler during the functional tests (tests/functional/test_zz_least_privilege.py)
RECORDED_CALLS: dict[str, list[Call]] = {}
PROOF_FILE = "test_zz_least_privilege.py"


def own_test_file(rule_id: str) -> str:
    """The file holding a rule's functional tests: ``test_<rule module>.py``."""
    from mlwarden.core.registry import get_rule

    return f"test_{get_rule(rule_id).spec.module_name}.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The least-privilege proof runs after every other test of the session (whatever the order on the command
    line), and a rule's proof is deselected when the rule's own functional test file is not in the session
    (see tests/functional/test_zz_least_privilege.py): it is then not applicable, never skipped or passed."""
    collected = {item.path.name for item in items}
    proof, rest, deselected = [], [], []
    for item in items:
        if item.path.name != PROOF_FILE:
            rest.append(item)
            continue
        callspec = getattr(item, "callspec", None)
        rule_id = callspec.params.get("rule_id") if callspec else None
        if rule_id and own_test_file(rule_id) not in collected:
            deselected.append(item)
        else:
            proof.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = rest + proof


@dataclass
class Call:
    """One AWS API call the handler made: its parameters and, once answered, the HTTP status."""

    service: str
    operation: str
    params: dict[str, Any]
    status: int | None = None


class TestClients(ClientFactory):
    """The handler's client factory with botocore hooks on every client it builds (any account/region).

    - ``calls`` records every API call (service, operation, parameters, HTTP status);
    - ``fail(service, operation, code)`` makes a call answer with an AWS error, as AWS would, without
      reaching moto (AccessDenied, throttling, …);
    - ``patch(service, operation, fn)`` lets ``fn`` edit a real moto answer in place (a state moto cannot
      produce, such as a notebook still Pending);
    - ``answer(service, operation, response)`` answers a call moto does not implement with a canned response
      (shaped like the AWS API reference's), without reaching moto. Each call is still recorded. A canned
      response with an ``Error`` is that AWS error; one with ``RAW_BODY`` is sent as that body.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, session: Any = None) -> None:
        super().__init__(session=session)
        self.calls: list[Call] = []
        self._faults: dict[tuple[str, str], tuple[str, str, int]] = {}
        self._patches: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {}
        self._answers: dict[tuple[str, str], Any] = {}
        self._hooked: set[int] = set()

    def client(self, service: str, region: str, account: str = "", **member: str) -> Any:
        client = super().client(service, region, account, **member)
        if id(client) not in self._hooked:
            self._hooked.add(id(client))
            client.meta.events.register("before-parameter-build", self._record)
            client.meta.events.register("before-call", self._maybe_fail)
            client.meta.events.register("after-call", self._answered)
        return client

    def fail(self, service: str, operation: str, code: str, message: str = "", status: int = 400) -> None:
        self._faults[(service, operation)] = (code, message or f"simulated {code}", status)

    def patch(self, service: str, operation: str, fn: Callable[[dict[str, Any]], None]) -> None:
        self._patches[(service, operation)] = fn

    def answer(self, service: str, operation: str, response: dict[str, Any] | Callable[[dict[str, Any]], Any]) -> None:
        """``response`` is the parsed answer, or a function of the call's parameters returning it (or raising
        ``aws_error(...)`` to answer those parameters with an AWS error)."""
        self._answers[(service, operation)] = response

    def clear(self) -> None:
        self._faults.clear()
        self._patches.clear()
        self._answers.clear()
        self.calls.clear()

    def operations(self, service: str) -> list[str]:
        return [c.operation for c in self.calls if c.service == service]

    @staticmethod
    def _key(model: Any) -> tuple[str, str]:
        return model.service_model.service_name, model.name

    def _record(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        call = Call(*self._key(model), params=copy.deepcopy(params))
        self.calls.append(call)
        context["mlwarden_test_call"] = call

    def _maybe_fail(self, model: Any, params: Any = None, context: Any = None, **_: Any) -> Any:
        canned = self._answers.get(self._key(model))
        if canned is not None:
            call = (context or {}).get("mlwarden_test_call")
            try:
                parsed = canned(call.params if call else {}) if callable(canned) else copy.deepcopy(canned)
            except ClientError as exc:  # a canned function may raise the AWS error it answers with (aws_error)
                parsed = dict(exc.response)
            # A canned answer may be an AWS error ({"Error": …}), and may carry the raw JSON body AWS sent when
            # it holds more than botocore parses (fields newer than the model): RAW_BODY.
            status = 400 if "Error" in parsed else 200
            parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status})
            status = int(parsed["ResponseMetadata"].get("HTTPStatusCode", status))
            body = parsed.pop(RAW_BODY, None)
            if body is None:
                body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            if call is not None:
                call.status = status
            http = AWSResponse(None, status, {}, None)
            http._content = json.dumps(body, default=str).encode()  # what after-call hooks read as the body
            return http, parsed
        fault = self._faults.get(self._key(model))
        if fault is None:
            return None
        code, message, status = fault
        return AWSResponse(None, status, {}, None), {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    def _answered(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        call = context.get("mlwarden_test_call")
        if call is not None:
            call.status = http_response.status_code
        fn = self._patches.get(self._key(model))
        if fn is not None and http_response.status_code < 300:
            fn(parsed)


def aws_error(code: str, operation: str, message: str = "", status: int = 400) -> ClientError:
    """An AWS error for a canned answer to raise (``TestClients.answer``)."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message or f"simulated {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@dataclass
class Run:
    result: dict[str, Any]
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        return self.result["decisions"]

    @property
    def decision(self) -> dict[str, Any]:
        assert len(self.decisions) == 1, self.decisions
        return self.decisions[0]


class RuleHarness:
    """Deploys what one rule's function needs (topic, SSM switch) in moto and invokes its handler."""

    def __init__(self, aws: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> None:
        self.aws = aws
        self.monkeypatch = monkeypatch
        self.context = lambda_context
        sns, sqs = aws.client("sns"), aws.client("sqs")
        self.topic_arn = sns.create_topic(Name="mlwarden-alerts")["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        handler_module._runtimes.clear()  # each test starts cold: no cached mode or clients
        # The handler's clients: on the test session's boto3 session, hookable (faults, call records).
        self.clients = TestClients(session=aws.session)

    def set_mode(self, rule_id: str, mode: str) -> None:
        self.aws.client("ssm").put_parameter(
            Name=mode_parameter_name(rule_id), Value=mode, Type="String", Overwrite=True
        )

    def kill_switch(self, value: str) -> None:
        self.aws.client("ssm").put_parameter(Name=KILL_SWITCH_PARAMETER, Value=value, Type="String", Overwrite=True)

    def invoke(self, rule_id: str, event: dict[str, Any], **settings: Any) -> Run:
        env = RuntimeSettings(rule_id=rule_id, topic_arn=self.topic_arn, **settings).to_env()
        for key in [k for k in os.environ if k.startswith("MLWARDEN_") and k != "MLWARDEN_MAX_ATTEMPTS"]:
            self.monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            self.monkeypatch.setenv(key, value)
        # A fresh runtime per invoke on the harness's clients (so a mode set between invokes is read again).
        runtime_settings = RuntimeSettings.from_env()
        handler_module._runtimes[runtime_settings] = handler_module.Runtime.from_settings(
            runtime_settings, clients=self.clients
        )
        first = len(self.clients.calls)
        try:
            result = handler_module.handler(event, self.context)
        finally:
            # Every AWS call a rule's function makes in the functional tests, for the least-privilege proof.
            RECORDED_CALLS.setdefault(rule_id, []).extend(self.clients.calls[first:])
        return Run(result, self.alerts())

    def scan(self, rule_id: str, *, apply: bool = False, **settings: Any) -> list[dict[str, Any]]:
        """What `mlwarden scan --rule RULE` decides, on the harness's clients. Its calls are made with the
        user's credentials, not the function's role, so they are not recorded for the least-privilege proof."""
        from mlwarden.cli.local import LocalRunner
        from mlwarden.core.registry import get_rule

        rule = get_rule(rule_id)
        runner = LocalRunner(apply=apply, clients=self.clients, region="us-east-1")
        engine = runner.engine(rule)
        engine.ctx.settings = RuntimeSettings(rule_id=rule_id, **settings)
        return [d.cli_record() for d in engine.sweep("us-east-1", account="123456789012")]

    def alerts(self) -> list[dict[str, Any]]:
        sqs = self.aws.client("sqs")
        out = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                out.append(
                    {
                        "subject": envelope.get("Subject"),
                        "body": json.loads(envelope["Message"]),
                        "attributes": {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()},
                    }
                )
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def harness(aws, monkeypatch, lambda_context) -> RuleHarness:
    return RuleHarness(aws, monkeypatch, lambda_context)


def sweep_event(
    rule_id: str, run_id: str = "8e2b3c1a-run-1", account: str = "123456789012", region: str = "us-east-1"
) -> dict[str, Any]:
    """What a rule's sweep schedule sends its function (``scheduled_sweep_input``), with the placeholders
    EventBridge Scheduler fills in filled."""
    from mlwarden.core import events

    text = json.dumps(events.scheduled_sweep_input(rule_id, account, region))
    text = text.replace("<aws.scheduler.execution-id>", run_id).replace(
        "<aws.scheduler.scheduled-time>", "2026-12-06T03:00:00Z"
    )
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def assert_exempt_alert(run: Run) -> None:
    """An exempt violation is not silent (issue 9): exactly one LOW alert, status ``exempt``, saying why."""
    (alert,) = run.alerts
    assert alert["attributes"]["status"] == "exempt", alert["attributes"]
    assert alert["attributes"]["severity"] == "LOW"
    assert alert["body"]["action"] == "exempt"
    assert "exempt" in alert["body"]["reason"]


@pytest.fixture
def tables(aws):
    """The stack's two tables, as the stack creates them."""
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName="mlwarden-idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.create_table(
        TableName="mlwarden-audit",
        KeySchema=[{"AttributeName": "rule_id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "rule_id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "resource_id", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-resource",
                "KeySchema": [
                    {"AttributeName": "resource_id", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


@pytest.fixture
def aws_managed_policies(monkeypatch):
    """moto knows AdministratorAccess and the other AWS managed policies only when asked to load them (read
    when its IAM backend is built after the per-test reset; it costs seconds, so only where the test needs it)."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
