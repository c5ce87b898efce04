"""Bad input never crashes a handler silently (issue 5, item 7).

Arbitrary JSON, type-mangled and truncated real samples, 256 KB events and oversized Config items go through
the same code the Lambda runs (event parsing, routing, each rule's resource extraction, the engine). The only
exception allowed out is MalformedEvent, whose one-line message says what is wrong. No network: every AWS
client here fails, and that failure must come back as a decision, not an exception.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlwarden.cli.inputs import normalize, route
from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.engine import Engine
from mlwarden.core.model import Decision
from mlwarden.core.registry import all_rules
from mlwarden.core.settings import RuntimeSettings
from tests.conftest import as_delivered, load_event, sample_files

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


class NoAWS:
    """A client factory whose every call fails as an unreachable endpoint would."""

    def client(self, service: str, region: str, account: str = "") -> Any:
        from botocore.exceptions import EndpointConnectionError

        class Client:
            def __getattr__(self, name: str) -> Any:
                def call(*args: Any, **kwargs: Any) -> Any:
                    raise EndpointConnectionError(endpoint_url=f"https://{service}.{region}.invalid")

                return call

        return Client()


class FixedModes:
    def mode(self, rule_id: str, default: str) -> str:
        return "remediate"

    def kill_switch_on(self) -> bool:
        return False


def engines() -> list[Engine]:
    return [
        Engine(rule, RuleContext(RuntimeSettings(rule_id=rule.spec.id), NoAWS()), FixedModes(), apply=False)  # type: ignore[arg-type]
        for rule in all_rules()
    ]


ENGINES = engines()


def run_everything(event: Any) -> list[Decision]:
    """What the CLI and each Lambda would do with the event; MalformedEvent is the one allowed exception."""
    decisions: list[Decision] = []
    for item in normalize(event):
        route(item, [e.rule for e in ENGINES])
        for engine in ENGINES:
            try:
                decisions.extend(engine.handle(item))
            except events.MalformedEvent as exc:
                message = str(exc)
                assert message and "\n" not in message
    return decisions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_is_rejected_clearly_or_judged(value):
    run_everything(value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            ["source", "detail-type", "detail", "id", "region", "account", "invokingEvent", "resultToken", "Records"]
        ),
        json_values,
        max_size=6,
    )
)
def test_event_shaped_json_is_rejected_clearly_or_judged(value):
    run_everything(value)


def mangle(document: Any, draw: Any) -> Any:
    """Replace values with others of another type, drop keys, truncate strings — anywhere in the tree."""
    if isinstance(document, dict):
        out = {}
        for key, value in document.items():
            choice = draw(st.integers(0, 9))
            if choice == 0:
                continue  # dropped
            if choice == 1:
                out[key] = draw(json_values)
            else:
                out[key] = mangle(value, draw)
        return out
    if isinstance(document, list):
        return [mangle(v, draw) for v in document[: draw(st.integers(0, len(document)))]]
    if isinstance(document, str) and document and draw(st.integers(0, 4)) == 0:
        return document[: draw(st.integers(0, len(document)))]
    return document


SAMPLES = [as_delivered(load_event(f)) for f in sample_files()]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.data())
def test_type_mangled_and_truncated_real_samples_never_crash(sample, data):
    run_everything(mangle(copy.deepcopy(sample), data.draw))


@pytest.mark.parametrize("relative", sample_files())
def test_every_sample_truncated_as_text_is_either_unreadable_json_or_handled(relative):
    text = json.dumps(as_delivered(load_event(relative)))
    for cut in (1, len(text) // 3, len(text) // 2, len(text) - 1):
        try:
            value = json.loads(text[:cut])
        except json.JSONDecodeError:
            continue  # the CLI reports it and exits 2 (tested in e2e)
        run_everything(value)


def test_a_256_kb_event_is_handled():
    record = load_event("cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json")
    record["requestParameters"]["padding"] = "x" * (256 * 1024)
    decisions = run_everything(record)
    judged = [d for d in decisions if d.rule_id == "s3-bucket-kms-encryption"]
    assert judged and all("could not check" in d.reason for d in judged)  # no AWS here: reported, not raised


def test_an_oversized_config_item_summary_without_history_is_judged_from_the_summary():
    invocation = load_event("config-invocation/powertools-config-oversized-change-ec2-instance.json")
    invoking = json.loads(invocation["invokingEvent"])
    invoking["configurationItemSummary"].update(resourceType="AWS::S3::Bucket", resourceId="big-bucket")
    invocation["invokingEvent"] = json.dumps(invoking)
    (engine,) = [e for e in ENGINES if e.rule.spec.id == "s3-bucket-kms-encryption"]
    (decision,) = engine.handle(invocation)
    assert decision.resource_id == "big-bucket"
    assert decision.compliance == "NOT_APPLICABLE" and "could not check" in decision.reason


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "not an object"),
        ({"source": "aws.s3"}, "not an EventBridge event"),
        ({"source": "aws.s3", "detail-type": "x", "detail": "text"}, "'detail' that is not an object"),
        ({"invokingEvent": "{not json", "resultToken": "t"}, "invokingEvent that is not JSON"),
        ({"invokingEvent": "{}", "resultToken": "t"}, "no invokingEvent.messageType"),
    ],
)
def test_malformed_events_get_a_one_line_reason(event, message):
    for engine in ENGINES:
        with pytest.raises(events.MalformedEvent, match=message):
            engine.handle(event)


def config_invocation(**invoking_changes: Any) -> dict[str, Any]:
    invocation = load_event("config-invocation/powertools-config-change-ec2-instance-real.json")
    invoking = json.loads(invocation["invokingEvent"])
    for name, value in invoking_changes.items():
        if "__" in name:
            outer, inner = name.split("__")
            invoking[outer][inner] = value
        else:
            invoking[name] = value
    invocation["invokingEvent"] = json.dumps(invoking)
    return invocation


@pytest.mark.parametrize(
    ("invocation", "message"),
    [
        (config_invocation(configurationItem="text"), "invokingEvent.configurationItem is a JSON string"),
        (config_invocation(configurationItem=[1, 2]), "invokingEvent.configurationItem is a JSON array"),
        (config_invocation(configurationItem=42), "invokingEvent.configurationItem is a JSON number"),
        (
            config_invocation(messageType="OversizedConfigurationItemChangeNotification", configurationItemSummary="x"),
            "invokingEvent.configurationItemSummary is a JSON string",
        ),
        (
            config_invocation(configurationItem__configurationItemStatus=["ResourceDeleted"]),
            "configurationItem.configurationItemStatus is a JSON array, not a string",
        ),
        (
            config_invocation(configurationItem__resourceType={"a": 1}),
            "configurationItem.resourceType is a JSON object, not a string",
        ),
        (config_invocation(messageType=["x"]), "messageType is a JSON array"),
        (config_invocation(notificationCreationTime=7), "notificationCreationTime is a JSON number"),
    ],
)
def test_config_invocation_with_a_nested_field_of_the_wrong_type_is_malformed_not_a_crash(invocation, message):
    matched, reason = route(invocation, [e.rule for e in ENGINES])
    assert not matched and message in reason
    for engine in ENGINES:
        with pytest.raises(events.MalformedEvent) as raised:
            engine.handle(invocation)
        assert message in str(raised.value) and "\n" not in str(raised.value)


PII = "123-45-6789"  # looks like a US social security number


@pytest.fixture
def service_caplog(caplog):
    """caplog that sees mlwarden's log records whatever ran before (else a "nothing logged" check could not fail):
    Powertools' service logger may stop propagating once a handler has set it up, so listen on it directly."""
    caplog.set_level("DEBUG")
    service_logger = logging.getLogger("mlwarden")
    service_logger.addHandler(caplog.handler)
    # and the quiet demo (an e2e test in the same session) raises mlwarden's loggers to ERROR: lower them
    names = [n for n in logging.Logger.manager.loggerDict if n == "mlwarden" or n.startswith("mlwarden.")]
    levels = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    service_logger.removeHandler(caplog.handler)


def pii_cases() -> list[tuple[str, dict[str, Any]]]:
    macie = load_event("macie/aws-samples-reveal-SensitiveData-Multiple-csv-ssn-ccn.json")
    macie["classificationDetails"]["result"]["sensitiveData"][0]["detections"][0]["count"] = PII
    macie_total = load_event("macie/aws-samples-reveal-SensitiveData-Multiple-csv-ssn-ccn.json")
    macie_total["classificationDetails"]["result"]["sensitiveData"][0]["totalCount"] = PII
    return [
        ("macie detection count", as_delivered(macie)),
        ("macie totalCount", as_delivered(macie_total)),
        ("config messageType", config_invocation(messageType=PII)),
        ("config item status", config_invocation(configurationItem__configurationItemStatus={"v": PII})),
        ("config item", config_invocation(configurationItem=PII)),
    ]


@pytest.mark.parametrize(("case", "event"), pii_cases(), ids=[c for c, _ in pii_cases()])
def test_pii_in_a_malformed_field_never_reaches_logs_or_the_error_message(case, event, service_caplog):
    caplog = service_caplog
    messages = []
    for engine in ENGINES:
        try:
            decisions = engine.handle(event)
        except events.MalformedEvent as exc:
            messages.append(str(exc))
        else:
            messages.extend(d.reason for d in decisions)
    messages.append(route(event, [e.rule for e in ENGINES])[1])
    assert any("is a JSON" in m or "not a non-negative integer" in m or "not one of" in m for m in messages), messages
    for text in messages:
        assert PII not in text
    for record in caplog.records:
        assert PII not in record.getMessage() and PII not in str(record.__dict__)
    assert PII not in caplog.text


def test_pii_quoted_by_aws_when_reading_an_oversized_item_is_not_logged(service_caplog):
    caplog = service_caplog
    from botocore.exceptions import ClientError

    class EchoingConfig:
        """AWS validation errors quote the value sent, which here came from the event."""

        def client(self, service: str, region: str, account: str = "") -> Any:
            class Client:
                def get_resource_config_history(self, **kwargs: Any) -> Any:
                    message = f"Value '{kwargs['resourceId']}' at 'resourceId' failed to satisfy constraint"
                    error = {"Error": {"Code": "ValidationException", "Message": message}}
                    raise ClientError(error, "GetResourceConfigHistory")

                def __getattr__(self, name: str) -> Any:
                    return NoAWS().client(service, region).__getattr__(name)

            return Client()

    invocation = load_event("config-invocation/powertools-config-oversized-change-ec2-instance.json")
    invoking = json.loads(invocation["invokingEvent"])
    invoking["configurationItemSummary"].update(resourceType="AWS::S3::Bucket", resourceId=PII)
    invocation["invokingEvent"] = json.dumps(invoking)
    rule = next(e.rule for e in ENGINES if e.rule.spec.id == "s3-bucket-kms-encryption")
    engine = Engine(
        rule, RuleContext(RuntimeSettings(rule_id=rule.spec.id), EchoingConfig()), FixedModes(), apply=False
    )  # type: ignore[arg-type]
    engine.handle(invocation)
    warnings = [r for r in caplog.records if "oversized" in r.getMessage()]
    assert warnings
    for record in warnings:
        assert PII not in str(record.__dict__)


SECURITYHUB = {"source": "aws.securityhub", "detail-type": "Security Hub Findings - Imported"}
FAILED_S3_17 = {"Compliance": {"Status": "FAILED", "SecurityControlId": "S3.17"}, "RecordState": "ACTIVE"}
COMPLIANCE_CHANGE = {"source": "aws.config", "detail-type": "Config Rules Compliance Change"}
SECURITYHUB_V2 = {"source": "aws.securityhub", "detail-type": "Findings Imported V2"}
FAILED_S3_17_OCSF = {
    "class_uid": 2003,
    "activity_id": 1,
    "status_id": 1,
    "metadata": {"product": {"uid": "arn:aws:securityhub:us-east-1::productv2/aws/securityhub"}},
    "compliance": {"control": "S3.17", "status_id": 3},
}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({**SECURITYHUB, "detail": {"findings": 5}}, "detail.findings is a JSON number, not an array"),
        (
            {**SECURITYHUB, "detail": {"findings": [{**FAILED_S3_17, "Resources": 7}]}},
            "detail.findings[].Resources is a JSON number, not an array",
        ),
        (
            {**SECURITYHUB, "detail": {"findings": [{**FAILED_S3_17, "Resources": [{"Id": {"v": PII}}]}]}},
            "detail.findings[].Resources[].Id is a JSON object, not a string",
        ),
        (
            {
                **COMPLIANCE_CHANGE,
                "detail": {
                    "configRuleName": "s3-bucket-level-public-access-prohibited",
                    "resourceType": "AWS::S3::Bucket",
                    "resourceId": {"v": PII},
                    "newEvaluationResult": {"complianceType": "NON_COMPLIANT"},
                },
            },
            "detail.resourceId is a JSON object, not a string",
        ),
        (
            {**SECURITYHUB_V2, "detail": {"findings": [{**FAILED_S3_17_OCSF, "resources": {"uid": PII}}]}},
            "detail.findings[].resources is a JSON object, not an array",
        ),
        (
            {**SECURITYHUB_V2, "detail": {"findings": [{**FAILED_S3_17_OCSF, "resources": [{"uid_alt": [PII]}]}]}},
            "detail.findings[].resources[].uid_alt is a JSON array, not a string",
        ),
        (
            {
                **SECURITYHUB_V2,
                "detail": {"findings": [{**FAILED_S3_17_OCSF, "cloud": {"account": {"uid": 1234}}, "resources": []}]},
            },
            "detail.findings[].cloud.account.uid is a JSON number, not a string",
        ),
    ],
    ids=[
        "findings-number",
        "resources-number",
        "resource-id-object",
        "compliance-resource-id-object",
        "ocsf-resources-object",
        "ocsf-uid-alt-array",
        "ocsf-account-number",
    ],
)
def test_routed_finding_with_a_nested_field_of_the_wrong_type_is_malformed_not_a_crash_nor_echoed(event, message):
    rejected = 0
    for engine in ENGINES:
        try:
            decisions = engine.handle(event)
        except events.MalformedEvent as exc:
            rejected += 1
            assert message in str(exc) and PII not in str(exc)
        else:
            assert all(PII not in d.resource_id + d.reason for d in decisions)
    assert rejected  # at least the rule owning the control read the field
