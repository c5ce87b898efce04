"""What a rule gets besides the resource: AWS clients from one factory, and its settings."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.config import Config

from mlwarden.core import sdk
from mlwarden.core.members import Directory, MemberAccess, organizations_region, partition_of
from mlwarden.core.reads import ReadCache
from mlwarden.core.settings import ENV_MAX_ATTEMPTS, RuntimeSettings


def _unprefix_account_host(request: Any, **_: Any) -> None:
    scheme, sep, rest = request.url.partition("://")
    host, slash, path = rest.partition("/")
    first, dot, remainder = host.partition(".")
    if first.isdigit() and len(first) == 12 and dot:
        request.url = f"{scheme}{sep}{remainder}{slash}{path}"


class ClientFactory:
    """AWS clients keyed by (service, account, region, member role).

    A single-account deployment maps every account to the function's own credentials. In organization mode
    (``use_member_roles``), a client for another account acts through the rule's member role there
    (``_session_for``: sts:AssumeRole, refreshed before expiry). Rules never build clients.
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
        self._clients: dict[tuple[str, ...], Any] = {}
        self._members: MemberAccess | None = None
        self._member_sessions: dict[tuple[str, str], boto3.session.Session] = {}
        # Re-entrant: a member session is made (assume_role on an STS client of this factory) while held.
        self._lock = threading.RLock()
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

    def use_member_roles(self, access: MemberAccess) -> None:
        """Organization mode: clients for accounts other than ``access.own_account`` assume a member role."""
        with self._lock:
            self._members = access

    def is_member_account(self, account: str) -> bool:
        """Whether a client for ``account`` would act through a member role (another account, org mode)."""
        members = self._members
        return members is not None and bool(account) and account != members.own_account

    def _session_for(self, account: str, role: str = "", rule_id: str = "") -> boto3.session.Session:
        if self._session is None:
            # With the service models shipped in the asset where the runtime's botocore is older (core.sdk).
            self._session = boto3.session.Session(botocore_session=sdk.botocore_session())
        members = self._members
        if not role or members is None or not self.is_member_account(account):
            return self._session
        session = self._member_sessions.get((account, role))
        if session is None:
            credentials = members.credentials(account, role, rule_id)  # MemberRoleUnavailable when refused
            botocore_session = sdk.botocore_session()
            # The service models the function's own session already loaded, not read again per account.
            botocore_session.register_component("data_loader", self._session._session.get_component("data_loader"))
            # botocore has no public setter for refreshable credentials (set_credentials makes static ones).
            botocore_session._credentials = credentials  # type: ignore[attr-defined]
            session = boto3.session.Session(botocore_session=botocore_session)
            self._member_sessions[(account, role)] = session
        return session

    def lazy(self, service: str, region: str, account: str = "") -> LazyClient:
        return LazyClient(self, service, region, account)

    def client(self, service: str, region: str, account: str = "", *, role: str = "", rule_id: str = "") -> Any:
        """A client for ``account`` (its own credentials when "" or the function's own account); in organization
        mode, a client for another account acts through ``role`` there."""
        if not self.is_member_account(account):
            role = ""
        key = (service, account, region, role)
        with self._lock:  # boto3 sessions are not thread-safe when creating clients
            client = self._clients.get(key)
            if client is None:
                # The stubs overload client() on each service's Literal name; here the name is data (a rule's spec).
                session = self._session_for(account, role, rule_id)
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
    # The account a sweep of a member account lists in (organization mode): a client asked for no account
    # acts there. "" everywhere else.
    account: str = ""
    # Organization mode: what AWS Organizations says about accounts (membership, names, OU ancestry).
    organization: Directory | None = None

    def __post_init__(self) -> None:
        settings = self.settings
        if not settings.organization_mode:
            return
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        partition = partition_of(region)
        own = self.own_account()
        clients = self.clients
        self.clients.use_member_roles(
            MemberAccess(own, settings.external_id, partition, lambda: clients.client("sts", region))
        )
        if self.organization is None:
            self.organization = Directory(
                lambda: clients.client("organizations", organizations_region(partition)),
                settings.organization_id,
                settings.organizational_units,
                own_account=own,
            )

    # Reads shared by every rule of one CLI run (mlwarden.core.reads); never in a deployed function (None).
    reads: ReadCache | None = None

    def client(self, service: str, region: str, account: str = "") -> Any:
        account = account or self.account
        if self.settings.organization_mode:
            settings = self.settings
            return self.clients.client(service, region, account, role=settings.member_role, rule_id=settings.rule_id)
        return self.clients.client(service, region, account)

    def own_account(self) -> str:
        """The deployment's account (the function's MLWARDEN_ACCOUNT; the CLI fills it from STS), or "" when
        unknown. Resources of any other account are handled only in organization mode, for member accounts."""
        return self.settings.account or ""

    def in_account(self, account: str) -> RuleContext:
        """This context acting in ``account`` (a sweep of a member account); itself for its own account."""
        if not account or account == self.own_account() or account == self.account:
            return self
        return replace(self, account=account)
