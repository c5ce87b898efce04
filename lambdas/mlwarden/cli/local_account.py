"""A deployment of the synthesized template onto a local AWS account (a moto server).

Nothing here repeats the stack's wiring: the EventBridge patterns, the functions' environments, the SSM
switches and the alert topic are all read from the CloudFormation template that CDK synthesized. moto's
EventBridge cannot invoke Lambda, so each function's rules deliver to an SQS queue of its own, and
``deliver`` drains those queues into the real handler with that function's environment. The tamper watch
(``mlwarden.watch``) is wired the same way; ``deliver_watch`` runs it and ``alarms`` reads the alarm topic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
# The tamper watch's handler (mlwarden_cdk/watch.py) and the name its local delivery queue and context use.
WATCH_HANDLER = "mlwarden.watch.handler"
WATCH_ID = "tamper-watch"


def synthesize_template(context_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Synthesize the CDK app in-process (no nag: this is for running, not reviewing) and return the template:
    the root stack with the rules' nested stacks laid into it, parameters and outputs resolved
    (``mlwarden_cdk.app.flat_template``)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from mlwarden_cdk.app import build_app, flat_template

    app, stack = build_app(context_overrides=context_overrides, nag=False)
    assembly = app.synth()
    template: dict[str, Any] = flat_template(stack, assembly.directory)  # mlwarden_cdk/ is not type-checked
    return template


# What a synthesized template depends on, besides the context overrides: the CDK app and the runtime it packages.
TEMPLATE_INPUTS = ("app.py", "cdk.json", "mlwarden_cdk", "lambdas")
CACHE_PREFIX = "demo-template-"


def template_key(context_overrides: dict[str, Any] | None = None, root: Path | None = None) -> str:
    """A digest of everything the synthesized template is made from: the app's files (``TEMPLATE_INPUTS``), the
    context overrides, the CDK library and Python versions, and the ``CDK_*`` environment. Equal keys, equal
    templates: a change to any rule, stack or setting makes a new key."""
    import hashlib
    import sys
    from importlib.metadata import PackageNotFoundError, version

    root = root or Path(__file__).resolve().parents[3]
    digest = hashlib.sha256()
    for name in TEMPLATE_INPUTS:
        top = root / name
        files = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".pyc"):
                digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
                digest.update(path.read_bytes())
                digest.update(b"\0")
    versions = []
    for package in ("aws-cdk-lib", "constructs", "jsii"):
        try:
            versions.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package} missing")
    environment = sorted((k, v) for k, v in os.environ.items() if k.startswith("CDK_"))
    digest.update(json.dumps([context_overrides, versions, sys.version, environment], sort_keys=True).encode())
    return digest.hexdigest()


def cache_dir() -> Path:
    """$MLWARDEN_CACHE_DIR, else $XDG_CACHE_HOME/mlwarden, else ~/.cache/mlwarden."""
    explicit = os.environ.get("MLWARDEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlwarden"


def cached_template(
    context_overrides: dict[str, Any] | None = None, *, fresh: bool = False
) -> tuple[dict[str, Any], bool]:
    """The synthesized template and whether it came from the cache. The cache holds the template of the last
    synthesis under the key of its inputs (``template_key``): same inputs, same template, without the ~10 s
    the CDK takes. ``fresh`` synthesizes regardless. A cache that cannot be read or written is skipped."""
    key = template_key(context_overrides)
    path = cache_dir() / f"{CACHE_PREFIX}{key}.json"
    if not fresh:
        try:
            cached = json.loads(path.read_text())
            if isinstance(cached, dict) and cached.get("Resources"):
                return cached, True
        except (OSError, ValueError):
            pass
    template = synthesize_template(context_overrides)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"{CACHE_PREFIX}*.json"):  # one template per cache: the latest inputs
            old.unlink()
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(template))
        partial.replace(path)
    except OSError:
        pass
    return template, False


def use_local_credentials(region: str) -> None:
    """The local account's test credentials for this process (both demos): nothing can reach a real account."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.setdefault("MLWARDEN_MAX_ATTEMPTS", "1")


@contextmanager
def moto_server() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class LocalFunction:
    logical_id: str
    rule_id: str
    environment: dict[str, str]
    queue_url: str = ""
    patterns: list[dict[str, Any]] = field(default_factory=list)


class LocalDeployment:
    # The functions this process plays share one client factory (one set of credentials for all of them).
    share_function_clients = True

    def __init__(self, template: dict[str, Any], endpoint: str, *, quiet: bool = False) -> None:
        self.template = template
        # quiet: no Lambda JSON logs below ERROR and no EMF metric lines on stdout
        self.quiet = quiet
        self.endpoint = endpoint
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.physical: dict[str, str] = {}
        self.functions: dict[str, LocalFunction] = {}
        self._session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self._clients: dict[str, Any] = {}
        self.topic_arn = ""
        self.inbox_url = ""
        # The tamper watch (a function that runs no rule) and the alarm topic it reports to.
        self.watch: LocalFunction | None = None
        self.alarm_inbox_url = ""
        self._function_clients: Any = None  # the rule functions' client factory (``_runtime``)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(  # type: ignore[call-overload]  # name is data, not a Literal
                service, endpoint_url=self.endpoint, config=Config(retries={"max_attempts": 1})
            )
        return self._clients[service]

    def of_type(self, cfn_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == cfn_type:
                yield logical_id, resource.get("Properties", {})

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsics the functions' environments and patterns use (Ref / Fn::GetAtt of our own
        resources, the account pseudo parameter)."""
        if isinstance(value, dict):
            if value.get("Ref") == "AWS::AccountId":
                return ACCOUNT
            if "Ref" in value:
                return self.physical.get(value["Ref"], value["Ref"])
            if "Fn::GetAtt" in value:
                return self.physical.get(value["Fn::GetAtt"][0], value["Fn::GetAtt"][0])
            if "Fn::Join" in value:
                sep, parts = value["Fn::Join"]
                return sep.join(str(self.resolve(p)) for p in parts)
        return value

    def resolve_all(self, value: Any) -> Any:
        """``resolve`` through lists and objects (an event pattern names the role and the account)."""
        resolved = self.resolve(value)
        if resolved is not value:
            return resolved
        if isinstance(value, dict):
            return {k: self.resolve_all(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve_all(v) for v in value]
        return value

    # ------------------------------------------------------------------------------------------- deploy
    def deploy(self) -> LocalDeployment:
        sns, sqs, ssm, s3 = self.client("sns"), self.client("sqs"), self.client("ssm"), self.client("s3")
        for logical_id, props in self.of_type("AWS::SNS::Topic"):
            self.physical[logical_id] = sns.create_topic(Name=props.get("TopicName", logical_id))["TopicArn"]
        # The alert topic is the one the stack outputs as AlertTopicArn (the other one carries alarms).
        alert_topic = self.template.get("Outputs", {}).get("AlertTopicArn", {}).get("Value", {})
        self.topic_arn = str(self.resolve(alert_topic))
        # Alerts are read the way a subscriber would receive them: an SQS queue subscribed to the topic.
        self.inbox_url = sqs.create_queue(QueueName="mlwarden-alert-inbox")["QueueUrl"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=self._queue_arn(self.inbox_url))
        alarm_topic = self.template.get("Outputs", {}).get("AlarmTopicArn", {}).get("Value")
        if alarm_topic:
            self.alarm_inbox_url = sqs.create_queue(QueueName="mlwarden-alarm-inbox")["QueueUrl"]
            sns.subscribe(
                TopicArn=str(self.resolve(alarm_topic)),
                Protocol="sqs",
                Endpoint=self._queue_arn(self.alarm_inbox_url),
            )
        for logical_id, props in self.of_type("AWS::SSM::Parameter"):
            raw_tags = props.get("Tags") or {}
            tags = [{"Key": k, "Value": v} for k, v in raw_tags.items()] if isinstance(raw_tags, dict) else []
            try:  # a new parameter takes its tags in the same call
                ssm.put_parameter(Name=props["Name"], Value=str(props["Value"]), Type="String", Tags=tags)
            except ssm.exceptions.ParameterAlreadyExists:  # deployed again: overwrite, then tag
                ssm.put_parameter(Name=props["Name"], Value=str(props["Value"]), Type="String", Overwrite=True)
                if tags:
                    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=props["Name"], Tags=tags)
            self.physical[logical_id] = props["Name"]
        for logical_id, props in self.of_type("AWS::S3::Bucket"):
            name = props.get("BucketName") or f"mlwarden-{logical_id.lower()[:40]}"
            s3.create_bucket(Bucket=name)
            if props.get("VersioningConfiguration"):
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            self.physical[logical_id] = name
        dynamodb = self.client("dynamodb")
        for logical_id, props in self.of_type("AWS::DynamoDB::Table"):
            name = props.get("TableName") or f"mlwarden-{logical_id.lower()[:40]}"
            table: dict[str, Any] = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if props.get("GlobalSecondaryIndexes"):
                table["GlobalSecondaryIndexes"] = [
                    {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                    for index in props["GlobalSecondaryIndexes"]
                ]
            dynamodb.create_table(**table)
            self.physical[logical_id] = name
        for logical_id, props in self.of_type("AWS::IAM::Role"):
            # Only the ARN is needed: the rule's loop guard (its patterns and MLWARDEN_ROLE_ARN) names it. A fixed
            # name (organization mode's central roles, which member trust policies name) is kept.
            name = props.get("RoleName")
            self.physical[logical_id] = f"arn:aws:iam::{ACCOUNT}:role/{name if isinstance(name, str) else logical_id}"
        for logical_id, props in self.of_type("AWS::Lambda::Function"):
            variables = (props.get("Environment") or {}).get("Variables") or {}
            if props.get("Handler") == WATCH_HANDLER:
                environment = {k: str(self.resolve(v)) for k, v in variables.items()}
                self.watch = LocalFunction(logical_id, WATCH_ID, environment)
                self.watch.queue_url = sqs.create_queue(QueueName=f"deliver-{WATCH_ID}")["QueueUrl"]
                continue
            if "MLWARDEN_RULE_ID" not in variables:
                continue
            environment = {k: str(self.resolve(v)) for k, v in variables.items()}
            function = LocalFunction(logical_id, environment["MLWARDEN_RULE_ID"], environment)
            function.queue_url = sqs.create_queue(QueueName=f"deliver-{function.rule_id}")["QueueUrl"]
            self.functions[logical_id] = function
        events = self.client("events")
        for logical_id, props in self.of_type("AWS::Events::EventBus"):
            # Organization mode's central bus (its resource policy is not enforced by a local AWS).
            events.create_event_bus(Name=props["Name"])
            self.physical[logical_id] = props["Name"]
        for logical_id, props in self.of_type("AWS::Events::Rule"):
            pattern = self.resolve_all(props.get("EventPattern"))
            bus = str(self.resolve(props.get("EventBusName") or "default"))
            for target in props.get("Targets", []):
                target_id = self._target_function(target.get("Arn"))
                target_function = self.functions.get(target_id)
                if target_function is None and self.watch is not None and target_id == self.watch.logical_id:
                    target_function = self.watch
                if target_function is None or pattern is None:
                    continue
                target_function.patterns.append(pattern)
                name = str(props.get("Name") or logical_id[:64])  # mlwarden names its rules (NAME_PREFIX)
                events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
                events.put_targets(
                    Rule=name,
                    EventBusName=bus,
                    Targets=[{"Id": target_function.rule_id[:64], "Arn": self._queue_arn(target_function.queue_url)}],
                )
        return self

    @staticmethod
    def _target_function(arn: Any) -> str:
        if isinstance(arn, dict) and "Fn::GetAtt" in arn:
            return str(arn["Fn::GetAtt"][0])
        return ""

    @staticmethod
    def _queue_arn(url: str) -> str:
        """A queue's ARN from its URL (``<endpoint>/<account>/<name>``), as SQS names both: no request."""
        account, name = url.rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{REGION}:{account}:{name}"

    # ------------------------------------------------------------------------------------------ running
    def put_events(self, *entries: dict[str, Any]) -> None:
        """Send events to the default bus as AWS services would (source, detail-type, detail)."""
        self.client("events").put_events(
            Entries=[
                {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"])}
                for e in entries
            ]
        )

    def deliver(self) -> list[tuple[str, dict[str, Any]]]:
        """Invoke each function's handler on what its EventBridge rules delivered. Returns (rule_id, result)."""
        from mlwarden import handler as handler_module

        if self.quiet:
            import logging
            import warnings

            # One process plays several functions here, so the metrics dimension changes between calls.
            warnings.filterwarnings("ignore", message="Dimension 'rule_id' has already been added")
            for name in list(logging.Logger.manager.loggerDict):
                if name == "mlwarden" or name.startswith("mlwarden."):
                    logging.getLogger(name).setLevel(logging.ERROR)
        sqs = self.client("sqs")
        results = []
        for function in self.functions.values():
            while True:
                messages = sqs.receive_message(QueueUrl=function.queue_url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    event = json.loads(message["Body"])
                    event.setdefault("account", ACCOUNT)
                    with self.function_environment(function):
                        self._runtime(handler_module)
                        result = handler_module.handler(event, self._context(function))
                    results.append((function.rule_id, result))
                    sqs.delete_message(QueueUrl=function.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return results

    def _runtime(self, handler_module: Any) -> None:
        """The function's runtime (as its first invocation would build it), on one client factory for every
        function this process plays: the same endpoint and credentials for all, and each AWS client is built
        once, not once per function (as the functional tests' harness does)."""
        from mlwarden.core.context import ClientFactory
        from mlwarden.core.settings import RuntimeSettings

        settings = RuntimeSettings.from_env()
        if settings not in handler_module._runtimes:
            if not self.share_function_clients:
                # each function its own factory: its clients use the credentials of its own environment
                handler_module._runtimes[settings] = handler_module.Runtime.from_settings(settings)
                return
            if self._function_clients is None:
                self._function_clients = ClientFactory()
            handler_module._runtimes[settings] = handler_module.Runtime.from_settings(
                settings, clients=self._function_clients
            )

    def deliver_watch(self) -> list[dict[str, Any]]:
        """Invoke the tamper watch on what its EventBridge rules delivered. Returns its results."""
        from mlwarden import watch as watch_module

        if self.watch is None:
            return []
        sqs = self.client("sqs")
        results: list[Any] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.watch.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return results
            for message in messages:
                event = json.loads(message["Body"])
                event.setdefault("account", ACCOUNT)
                with self.function_environment(self.watch):
                    results.append(watch_module.handler(event, self._context(self.watch)))
                sqs.delete_message(QueueUrl=self.watch.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def alarms(self) -> list[dict[str, Any]]:
        """What a subscriber of the alarm topic received (the tamper watch's reports)."""
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        while self.alarm_inbox_url:
            messages = sqs.receive_message(QueueUrl=self.alarm_inbox_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelope = json.loads(message["Body"])
                out.append({"subject": envelope.get("Subject", ""), "body": json.loads(envelope.get("Message", "{}"))})
                sqs.delete_message(QueueUrl=self.alarm_inbox_url, ReceiptHandle=message["ReceiptHandle"])
        return out

    @contextmanager
    def function_environment(self, function: LocalFunction) -> Iterator[None]:
        saved = dict(os.environ)
        os.environ.update(function.environment)
        if self.quiet:
            os.environ.update(POWERTOOLS_LOG_LEVEL="ERROR", POWERTOOLS_METRICS_DISABLED="true")
        os.environ.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @staticmethod
    def _context(function: LocalFunction) -> Any:
        return SimpleNamespace(
            function_name=f"mlwarden-{function.rule_id}",
            memory_limit_in_mb=256,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mlwarden-{function.rule_id}",
            aws_request_id="local",
            get_remaining_time_in_millis=lambda: 120_000,
        )

    def alerts(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                out.append(
                    {
                        "subject": envelope.get("Subject", ""),
                        "body": json.loads(envelope.get("Message", "{}")),
                        "attributes": {k: v.get("Value") for k, v in envelope.get("MessageAttributes", {}).items()},
                    }
                )
                sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])
