"""The botocore models the Lambda asset ships (mlwarden.core.sdk, mlwarden.cli.botocore_models): they are what the
generator writes from the installed botocore, an old botocore without AgentCore works with them and fails
clearly without them, and AgentCore's full-replace updates send back what was read and refuse unknown fields."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import UnknownServiceError

from mlwarden.cli import botocore_models
from mlwarden.cli.doctor import Doctor
from mlwarden.core import sdk
from mlwarden.core.errors import describe_error
from mlwarden.core.settings import Settings

SERVICE = "bedrock-agentcore-control"
OLD_BOTOCORE = "1.38.46"  # before AgentCore existed


def test_shipped_files_are_what_the_generator_writes_from_the_installed_botocore():
    expected = botocore_models.expected()
    shipped = {str(p.relative_to(sdk.SHIPPED_DIR)): p.read_text() for p in sdk.SHIPPED_DIR.rglob("*.json")}
    assert shipped.keys() == expected.keys()
    stale = [name for name in expected if shipped[name] != expected[name]]
    assert stale == [], f"{stale} differ: run python -m mlwarden.cli.botocore_models and commit the result"


def test_the_shipped_model_has_every_operation_a_rule_is_granted_and_nothing_else():
    manifest = sdk.manifest()
    operations = manifest["services"][SERVICE]["operations"]
    assert operations == botocore_models.operations_for(SERVICE)
    assert {"GetAgentRuntime", "UpdateAgentRuntime", "GetGateway", "UpdateGateway", "ListTagsForResource"} <= set(
        operations
    )
    model = json.loads((sdk.SHIPPED_DIR / SERVICE / "2023-06-05" / "service-2.json").read_text())
    assert sorted(model["operations"]) == operations
    assert "documentation" not in json.dumps(model["operations"]), "documentation is stripped"


def test_shipping_is_decided_by_the_running_botocore_version():
    shipped = sdk.manifest()["botocore"]
    assert sdk.uses_shipped(OLD_BOTOCORE) and sdk.data_path(OLD_BOTOCORE) == str(sdk.SHIPPED_DIR)
    assert not sdk.uses_shipped(shipped) and sdk.data_path(shipped) is None
    assert not sdk.uses_shipped("9.0.0")
    assert sdk.version_tuple("1.44.18") > sdk.version_tuple("1.44.9")


def test_the_environment_data_path_keeps_precedence(monkeypatch):
    monkeypatch.setenv("AWS_DATA_PATH", "/opt/my-models")
    assert sdk.data_path(OLD_BOTOCORE) == os.pathsep.join(["/opt/my-models", str(sdk.SHIPPED_DIR)])


@pytest.fixture
def botocore_without_agentcore(tmp_path, monkeypatch):
    """botocore's own data, minus the AgentCore control plane: what an old Lambda runtime has."""
    builtin = Path(botocore.__file__).parent / "data"
    old = tmp_path / "data"
    old.mkdir()
    for entry in builtin.iterdir():
        if entry.name != SERVICE:
            (old / entry.name).symlink_to(entry)
    monkeypatch.setattr(botocore.loaders.Loader, "BUILTIN_DATA_PATH", str(old))
    monkeypatch.setattr(botocore.loaders.Loader, "CUSTOMER_DATA_PATH", str(tmp_path / "none"))
    monkeypatch.setattr(botocore, "__version__", OLD_BOTOCORE)
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def test_an_old_botocore_fails_clearly_without_the_shipped_model(botocore_without_agentcore):
    with pytest.raises(UnknownServiceError) as raised:
        botocore.session.get_session().create_client(SERVICE, region_name="us-east-1")
    reason = describe_error(raised.value)
    assert reason == (
        f"UnknownServiceError: botocore {OLD_BOTOCORE} has no model for the {SERVICE} service (and none shipped "
        "with mlwarden is newer): deploy mlwarden again, or update botocore"
    )


def test_an_old_botocore_reads_and_updates_agentcore_with_the_shipped_model(botocore_without_agentcore):
    # Given the session the rule functions use, on a botocore that does not know AgentCore
    client = sdk.botocore_session().create_client(
        SERVICE, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    sent: list[Any] = []
    answer = {"agentRuntimeArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/a-a1B2c3D4e5"}

    def reply(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Body(json.dumps(answer).encode()))

    client.meta.events.register("before-send", reply)
    # When it updates a runtime (the shipped model serializes the request) and reads one (and parses the answer)
    client.update_agent_runtime(
        agentRuntimeId="a-a1B2c3D4e5",
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": "123456789012.dkr.ecr/x:1"}},
        roleArn="arn:aws:iam::123456789012:role/r",
        networkConfiguration={
            "networkMode": "VPC",
            "networkModeConfig": {"subnets": ["subnet-0abc1234"], "securityGroups": ["sg-0abc1234"]},
        },
    )
    got = client.get_agent_runtime(agentRuntimeId="a-a1B2c3D4e5")
    # Then both reached the AgentCore control endpoint as the API defines them
    assert [(r.method, r.url) for r in sent] == [
        ("PUT", "https://bedrock-agentcore-control.us-east-1.amazonaws.com/runtimes/a-a1B2c3D4e5/"),
        ("GET", "https://bedrock-agentcore-control.us-east-1.amazonaws.com/runtimes/a-a1B2c3D4e5/"),
    ]
    assert json.loads(sent[0].body)["networkConfiguration"]["networkMode"] == "VPC"
    assert got["agentRuntimeArn"] == answer["agentRuntimeArn"]
    # And the doctor says the functions rely on it, and that it is used on this botocore
    (model,) = sdk.shipped_models()
    assert (model.service, model.used, model.present) == (SERVICE, True, True)
    check = Doctor("us-east-1", Settings(rules={})).service_models()
    assert check.ok and "loaded here too" in check.detail


def test_doctor_fails_when_the_shipped_models_are_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(sdk, "SHIPPED_DIR", tmp_path)
    check = Doctor("us-east-1", Settings(rules={})).service_models()
    assert not check.ok
    assert "missing from lambdas/mlwarden/botocore_data (bedrock-agentcore-control)" in check.detail
    assert check.fix == "python -m mlwarden.cli.botocore_models, then npx cdk deploy"


# --------------------------------------------------------------------------------------- full replace
MODEL = botocore.session.get_session().get_service_model(SERVICE)


def test_unmodelled_finds_new_fields_at_any_depth():
    shape = MODEL.operation_model("GetAgentRuntime").output_shape
    body = {
        "agentRuntimeId": "a",
        "networkConfiguration": {"networkMode": "VPC", "egressPolicy": "strict"},
        "authorizerConfiguration": {"customJWTAuthorizer": {"discoveryUrl": "u", "customClaims": [{"newKey": 1}]}},
        "environmentVariables": {"A": "1"},
        "sessionStorage": {},
    }
    assert sdk.unmodelled(shape, body) == [
        "networkConfiguration.egressPolicy",
        "authorizerConfiguration.customJWTAuthorizer.customClaims.[].newKey",
        "sessionStorage",
    ]
    assert sdk.unmodelled(shape, {"agentRuntimeId": "a", "environmentVariables": {"ANY_NAME": "x"}}) == []


def test_update_request_sends_back_every_input_member_read_with_the_changes():
    client = botocore.session.get_session().create_client(SERVICE, region_name="us-east-1")
    current = {
        "agentRuntimeId": "a-a1B2c3D4e5",
        "agentRuntimeArn": "arn:…",  # output only: not sent
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "description": None,  # absent: not sent
        "lifecycleConfiguration": {"maxLifetime": 3600},
        sdk.UNMODELLED: ["x"],
    }
    params = sdk.update_request(client, "UpdateAgentRuntime", current, networkConfiguration={"networkMode": "VPC"})
    assert params == {
        "agentRuntimeId": "a-a1B2c3D4e5",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "lifecycleConfiguration": {"maxLifetime": 3600},
        "networkConfiguration": {"networkMode": "VPC"},
    }


def test_the_sessions_of_one_process_share_a_model_loader_per_data_path(monkeypatch, tmp_path):
    # One process that plays several functions (the demo, the tests) reads each service model once
    first, second = sdk.botocore_session(), sdk.botocore_session()
    assert first is not second
    assert first.get_component("data_loader") is second.get_component("data_loader")
    # a changed AWS_DATA_PATH is another search path: another loader, which searches it
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    third = sdk.botocore_session().get_component("data_loader")
    assert third is not first.get_component("data_loader")
    assert str(tmp_path) in third.search_paths
