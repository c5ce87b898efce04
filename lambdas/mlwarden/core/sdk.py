"""The SDK the functions run on: botocore service models shipped with the Lambda asset, and what a full-replace
Update call needs from a model.

**Shipped models.** A rule function runs on Lambda's ``python3.13`` runtime and uses the botocore that runtime
includes (DESIGN §1: boto3 from the runtime). AWS updates that botocore on its own schedule, months behind the
SDK's releases, and the runtime never tells which version a function will get. The Amazon Bedrock AgentCore
control plane (``bedrock-agentcore-control``) first appeared in botocore 1.39 (July 2025) and its shapes keep
growing (runtime filesystem and lifecycle settings, browser recording, gateway policy engines…): an older
botocore either lacks the service (``UnknownServiceError``) or silently drops the fields it does not know from
every answer. So the asset ships that one model, trimmed to the operations mlwarden calls and stripped of
documentation (``mlwarden/botocore_data``, written by ``python -m mlwarden.cli.botocore_models`` from the
botocore the tests run on; ``shipped.json`` names that version). The assumed runtime botocore is therefore *any*
version: one older than the shipped model's loads the shipped model, one as new or newer uses its own. The
shipped directory is put on the botocore session's ``data_path`` (the setting ``AWS_DATA_PATH`` feeds), after any
path the environment already names: no environment variable is added to the functions.

A service that is still unknown (shipped data removed, another service) is an ``UnknownServiceError`` from the
client factory: the engine turns it into a ``failed`` decision whose reason says so (``errors.describe_error``).

**Full-replace updates.** AgentCore's UpdateAgentRuntime and UpdateGateway replace the whole configuration: a
setting left out of the request is reset. A remediation therefore sends back everything it read
(``update_request``), and refuses to update when the answer it read held fields the model does not know
(``watch_unmodelled``): sending back only what the model knows would silently drop them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders
import botocore.session

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "botocore_data"
MANIFEST = SHIPPED_DIR / "shipped.json"
# Set on an answer (by ``watch_unmodelled``) that held fields the model does not know: their dotted paths.
UNMODELLED = "mlwardenUnmodelledFields"


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


@cache
def manifest() -> Mapping[str, Any]:
    """``shipped.json``: the botocore version the models come from and, per service, its operations."""
    try:
        value = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def uses_shipped(installed: str | None = None) -> bool:
    """True when the running botocore (or ``installed``) is older than the shipped models: they are loaded."""
    shipped = str(manifest().get("botocore", ""))
    return bool(shipped) and version_tuple(installed or botocore.__version__) < version_tuple(shipped)


def data_path(installed: str | None = None) -> str | None:
    """The botocore ``data_path`` to use: the environment's own (AWS_DATA_PATH) first, then the shipped models
    when they are newer than the running botocore's; None when nothing changes."""
    if not uses_shipped(installed):
        return None
    return os.pathsep.join(p for p in (os.environ.get("AWS_DATA_PATH", ""), str(SHIPPED_DIR)) if p)


def botocore_session() -> botocore.session.Session:
    """A botocore session that loads the shipped models where the running botocore's are older.

    The sessions of one process share one model loader per data path (botocore caches what a loader has read):
    a process that plays several functions (``mlwarden demo``, the tests) reads each service model once, not
    once per function. A Lambda function builds one session, so nothing changes there."""
    session = botocore.session.get_session()
    path = data_path()
    if path:
        session.set_config_variable("data_path", path)
    session.register_component("data_loader", _loader(path or "", os.environ.get("AWS_DATA_PATH", "")))
    return session


@cache
def _loader(path: str, environment_path: str) -> botocore.loaders.Loader:
    """The process's model loader for this data path ("" for botocore's own search paths, which include
    ``environment_path``, $AWS_DATA_PATH when the loader was made: a changed variable makes another loader)."""
    session = botocore.session.get_session()
    if path:
        session.set_config_variable("data_path", path)
    loader: botocore.loaders.Loader = session.get_component("data_loader")
    return loader


@dataclass(frozen=True)
class ShippedModel:
    service: str
    api_version: str
    operations: tuple[str, ...]
    source_version: str  # the botocore it was taken from
    used: bool  # loaded instead of the running botocore's own model
    present: bool  # its service-2.json is in the asset


def shipped_models(installed: str | None = None) -> list[ShippedModel]:
    """The models the asset ships (``mlwarden doctor`` reports them)."""
    data = manifest()
    source = str(data.get("botocore", ""))
    out = []
    for service, entry in sorted(dict(data.get("services") or {}).items()):
        version = str(entry.get("api_version", ""))
        out.append(
            ShippedModel(
                service=service,
                api_version=version,
                operations=tuple(entry.get("operations") or ()),
                source_version=source,
                used=uses_shipped(installed),
                present=(SHIPPED_DIR / service / version / "service-2.json").is_file(),
            )
        )
    return out


# --------------------------------------------------------------------------------------- full replace
def unmodelled(shape: Any, value: Any, path: str = "") -> list[str]:
    """Dotted paths of the fields of ``value`` (a raw JSON answer) that ``shape`` does not declare."""
    kind = getattr(shape, "type_name", "")
    if kind == "structure" and isinstance(value, dict):
        members = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        out: list[str] = []
        for key, item in value.items():
            if key not in members:
                out.append(f"{path}{key}")
            else:
                out += unmodelled(members[key], item, f"{path}{key}.")
        return out
    if kind == "list" and isinstance(value, list):
        return list(dict.fromkeys(p for item in value for p in unmodelled(shape.member, item, f"{path}[].")))
    if kind == "map" and isinstance(value, dict):
        return list(dict.fromkeys(p for item in value.values() for p in unmodelled(shape.value, item, f"{path}*.")))
    return []


def _flag_unmodelled(http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any) -> None:
    if not isinstance(parsed, dict) or model is None or model.output_shape is None:
        return
    try:
        if http_response.status_code >= 300:
            return
        body = json.loads(http_response.content or b"null")
    except (AttributeError, TypeError, ValueError):
        return  # no readable JSON body: nothing to compare
    found = unmodelled(model.output_shape, body)
    if found:
        parsed[UNMODELLED] = found


def watch_unmodelled(client: Any, operation: str) -> None:
    """Mark answers of ``operation`` that hold fields the client's model does not know (``UNMODELLED``)."""
    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(
        f"after-call.{service_id}.{operation}", _flag_unmodelled, unique_id=f"mlwarden-unmodelled-{operation}"
    )


def update_request(client: Any, operation: str, current: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """The parameters of a full-replace ``operation``: every input member ``current`` (what was read) holds,
    with ``changes`` applied."""
    members = client.meta.service_model.operation_model(operation).input_shape.members
    params = {name: current[name] for name in members if current.get(name) is not None}
    params.update(changes)
    return params
