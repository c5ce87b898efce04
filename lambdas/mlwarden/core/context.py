"""What a rule gets besides the resource: AWS clients from one factory, and its settings."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from mlwarden.core import sdk
from mlwarden.core.reads import ReadCache
from mlwarden.core.settings import ENV_MAX_ATTEMPTS, RuntimeSettings


def _unprefix_account_host(request: Any, **_: Any) -> None:
    scheme, sep, rest = request.url.partition("://")
    host, slash, path = rest.partition("/")
    first, dot, remainder = host.partition(".")
    if first.isdigit() and len(first) == 12 and dot:
        request.url = f"{scheme}{sep}{remainder}{slash}{path}"


class ClientFactory:
    """AWS clients keyed by (service, account, region).

    Today every account maps to the function's own credentials; an org-wide deployment replaces
    ``_session_for`` with one that assumes a role in the member account. Rules never build clients.
    ``AWS_ENDPOINT_URL`` (boto3's own setting) points every client at a local AWS such as moto.
    """

    def __init__(
        self,
        session: boto3.session.Session | None = None,
        max_attempts: int | None = None,
        *,
        retry_mode: str = "standard",
        per_service: int = 0,
    ) -> None:
        """``retry_mode`` "adaptive" (the CLI's sweeps) also paces requests client-side when AWS throttles;
        ``per_service`` > 0 bounds the requests in flight per (service, region), whatever the threads."""
        self._session = session
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        attempts = max_attempts or int(os.environ.get(ENV_MAX_ATTEMPTS, "5"))
        self.per_service = per_service
        self._slots: dict[tuple[str, str], threading.BoundedSemaphore] = {}
        self._config = Config(
            retries={"mode": retry_mode, "max_attempts": attempts},  # type: ignore[arg-type]
            connect_timeout=5,
            read_timeout=20,
            user_agent_extra="mlwarden",
            max_pool_connections=max(per_service, 10),
        )

    def _session_for(self, account: str) -> boto3.session.Session:
        if self._session is None:
            # With the service models shipped in the asset where the runtime's botocore is older (core.sdk).
            self._session = boto3.session.Session(botocore_session=sdk.botocore_session())
        return self._session

    def lazy(self, service: str, region: str, account: str = "") -> LazyClient:
        return LazyClient(self, service, region, account)

    def client(self, service: str, region: str, account: str = "") -> Any:
        key = (service, account, region)
        with self._lock:  # boto3 sessions are not thread-safe when creating clients
            client = self._clients.get(key)
            if client is None:
                # The stubs overload client() on each service's Literal name; here the name is data (a rule's spec).
                session = self._session_for(account)
                client = session.client(service, region_name=region, config=self._config)  # type: ignore[call-overload]
                if service == "s3control" and os.environ.get("AWS_ENDPOINT_URL"):
                    # S3 Control names the account in the host ("<account-id>.<endpoint>"), which a local
                    # endpoint such as moto cannot resolve: send those calls to the endpoint itself.
                    client.meta.events.register("before-sign.s3-control", _unprefix_account_host)
                if self.per_service > 0:
                    self._bound(client, service, region)
                self._clients[key] = client
        return client

    def _bound(self, client: Any, service: str, region: str) -> None:
        """At most ``per_service`` calls of ``service`` in ``region`` in flight (every account's client shares
        the slots: AWS throttles per account, but one CLI run rarely sweeps two accounts at once)."""
        slots = self._slots.setdefault((service, region), threading.BoundedSemaphore(self.per_service))

        def take(context: dict[str, Any], **_: Any) -> None:
            slots.acquire()
            context["mlwarden_slot"] = slots

        def give(context: dict[str, Any], **_: Any) -> None:
            held = context.pop("mlwarden_slot", None)
            if held is not None:
                held.release()

        client.meta.events.register("before-call", take)
        client.meta.events.register("after-call", give)
        client.meta.events.register("after-call-error", give)


class LazyClient:
    """A client made on first use: a function builds only the clients its invocation needs (cold start)."""

    def __init__(self, factory: ClientFactory, service: str, region: str, account: str = "") -> None:
        self._args = (factory, service, region, account)
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            factory, service, region, account = self._args
            self._client = factory.client(service, region, account)
        return getattr(self._client, name)


@dataclass
class RuleContext:
    settings: RuntimeSettings
    clients: ClientFactory = field(default_factory=ClientFactory)
    # Facts a rule reads once per function instance (e.g. the account's organization), keyed by the rule.
    cache: dict[str, Any] = field(default_factory=dict)
    # Reads shared by every rule of one CLI run (mlwarden.core.reads); never in a deployed function (None).
    reads: ReadCache | None = None

    def client(self, service: str, region: str, account: str = "") -> Any:
        return self.clients.client(service, region, account)

    def own_account(self) -> str:
        """The deployment's account (the function's MLWARDEN_ACCOUNT; the CLI fills it from STS), or "" when
        unknown. Resources of any other account are not handled (until org-wide operation exists)."""
        return self.settings.account or ""
