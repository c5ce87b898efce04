"""Running rules from the command line with the same engine and settings as the deployed functions."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from mlwarden.cli import NothingChecked
from mlwarden.core.context import ClientFactory, RuleContext
from mlwarden.core.engine import Engine
from mlwarden.core.members import Directory, organizations_region, partition_of
from mlwarden.core.model import NOT_APPLICABLE, Decision
from mlwarden.core.modes import ModeSource
from mlwarden.core.notify import Publisher
from mlwarden.core.reads import ReadCache
from mlwarden.core.registry import all_rules
from mlwarden.core.settings import (
    ENV_QUARANTINE_BUCKET,
    ENV_TOPIC_ARN,
    RuntimeSettings,
    Settings,
    runtime_settings_for,
)
from mlwarden.core.spec import Rule

# Calls in flight per service and Region in a CLI sweep (AWS's per-API rate limits are per account and Region;
# most Describe/Get calls allow 10-20 per second sustained, with bursts above).
SERVICE_CONCURRENCY = int(os.environ.get("MLWARDEN_SERVICE_CONCURRENCY", "16"))


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def load_settings(cdk_json: Path | None = None) -> Settings:
    """The cdk.json block of the current directory (deploy-time defaults), or the built-in defaults."""
    known = {rule.spec.id: rule.spec.default_mode for rule in all_rules()}
    return Settings.from_cdk_json(cdk_json or Path("cdk.json"), known=known)


NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
    "(or run `make demo` for a local account)"
)
REFUSED_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AuthFailure",
    "AccessDenied",
}


def preflight(region: str) -> str:
    """One cheap call (sts:GetCallerIdentity: short connect timeout, no retry) before any work, so a run that
    could judge nothing says so instead of printing NOT_APPLICABLE rows. Returns the caller's account id;
    NothingChecked otherwise."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
        ReadTimeoutError,
    )

    from mlwarden.core.errors import describe_error, error_code, http_status

    config = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 1})
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or "AWS"
    try:
        sts = boto3.session.Session().client("sts", region_name=region, config=config)
        endpoint = sts.meta.endpoint_url or endpoint
        return str(sts.get_caller_identity()["Account"])
    except ProfileNotFound as exc:
        raise NothingChecked(f"{exc}: set AWS_PROFILE to a profile of your AWS config, or unset it") from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise NothingChecked(NO_CREDENTIALS) from exc
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise NothingChecked(
            f"cannot reach the AWS endpoint {endpoint} ({type(exc).__name__}): check AWS_ENDPOINT_URL, "
            "the region and the network"
        ) from exc
    except ClientError as exc:
        code, status = error_code(exc), http_status(exc)
        if status >= 500:
            raise NothingChecked(f"HTTP {status} from {endpoint}: try again later, or check AWS_ENDPOINT_URL") from exc
        if code in REFUSED_CREDENTIALS:
            raise NothingChecked(
                f"the AWS credentials were refused ({code}): refresh them, or set AWS_PROFILE to another profile"
            ) from exc
        raise NothingChecked(f"cannot check the AWS credentials: {describe_error(exc)}") from exc
    except BotoCoreError as exc:
        raise NothingChecked(f"cannot check the AWS credentials: {describe_error(exc)}") from exc


def deployed_rules(settings: Settings) -> tuple[list[Rule], list[str]]:
    """The rules the deployment has, and the ids cdk.json leaves out of it (``rules.<id>.deploy: false``):
    without ``--rule``, ``scan``, ``evaluate`` and ``report`` judge only what is deployed, like the deployment."""
    rules = all_rules()
    return [rule for rule in rules if settings.deployed(rule.spec.id)], settings.left_out()


class LocalRunner:
    def __init__(
        self,
        *,
        apply: bool,
        settings: Settings | None = None,
        topic_arn: str | None = None,
        region: str | None = None,
        clients: ClientFactory | None = None,
        account: str | None = None,
        member_role: str | None = None,
    ) -> None:
        self.apply = apply
        # Organization mode from a workstation (``scan --member-role``): the role to assume in each member
        # account instead of the rules' mlwarden-member-* roles, which trust only each rule's central function.
        self.member_role = member_role or None
        self._account = account
        self.settings = settings or load_settings()
        self.region = region or default_region()
        # Sweeps: adaptive retries (paced when AWS throttles) and at most SERVICE_CONCURRENCY calls in flight per
        # service and Region.
        self.clients = clients or ClientFactory(retry_mode="adaptive", per_service=SERVICE_CONCURRENCY)
        # Reads shared by the rules of this run (scan/report: the sweep; evaluate: cleared at each event).
        self.reads = ReadCache()
        self.modes = ModeSource(self.clients, self.region)
        topic = topic_arn or os.environ.get(ENV_TOPIC_ARN)
        self.publisher = (
            Publisher(self.clients.client("sns", self.region), topic, chatbot=self.settings.chatbot)
            if (apply and topic)
            else None
        )
        self._engines: dict[str, Engine] = {}
        self._directory: Directory | None = None

    def account(self) -> str:
        """The caller's account id (one STS call, made once), or "" when it cannot be read."""
        if self._account is None:
            try:
                self._account = str(self.clients.client("sts", self.region).get_caller_identity()["Account"])
            except Exception:  # a scan without the account id still works
                self._account = ""
        return self._account

    def runtime_settings(self, rule: Rule) -> RuntimeSettings:
        """The rule's settings as its deployed function has them (the same builder, the same cdk.json), but
        for what only the deployment knows: the topic is the one given (``--topic-arn`` or the environment),
        the quarantine bucket the one named in the environment, and there are no tables (no audit trail, no
        duplicate suppression: each CLI run acts on what it reads)."""
        found = runtime_settings_for(
            rule.spec,
            self.settings,
            topic_arn=self.publisher.topic_arn if self.publisher else None,
            quarantine_bucket=os.environ.get(ENV_QUARANTINE_BUCKET) or None,
            # Like the function: resources of another account are not handled (a finding naming a member
            # account is never judged against a same-named resource of the caller's account).
            account=self.account() or None,
        )
        if self.member_role and found.organization_mode:
            # The person's own role in each member account: no ExternalId (that is mlwarden's roles' condition).
            found = replace(found, member_role=self.member_role, external_id="")
        return found

    def directory(self) -> Directory | None:
        """Organization mode (cdk.json ``organization``): what AWS Organizations says about accounts, read with
        the caller's credentials, shared by every rule of the run (one DescribeAccount per account)."""
        organization = self.settings.organization
        if organization is None:
            return None
        if self._directory is None:
            partition = partition_of(self.region)
            self._directory = Directory(
                lambda: self.clients.client("organizations", organizations_region(partition)),
                organization.organization_id,
                organization.organizational_unit_ids,
                own_account=self.account(),
            )
        return self._directory

    def engine(self, rule: Rule) -> Engine:
        engine = self._engines.get(rule.spec.id)
        if engine is None:
            ctx = RuleContext(
                settings=self.runtime_settings(rule),
                clients=self.clients,
                organization=self.directory(),
                reads=self.reads,
            )
            engine = Engine(rule, ctx, self.modes, apply=self.apply, publisher=self.publisher)
            self._engines[rule.spec.id] = engine
        return engine


def unrouted(event_id: str, reason: str, *, account: str = "", region: str = "") -> Decision:
    return Decision(
        event_id=event_id,
        rule_id=None,
        resource_type="",
        resource_id="",
        resource_arn="",
        account=account,
        region=region,
        compliance=NOT_APPLICABLE,
        action="none",
        reason=reason,
        controls=[],
    )
