"""``mlwarden doctor``: are the target account's prerequisites in place? Each check says exactly what to fix.

Checks (one AWS read or two each, run concurrently): credentials, AWS Config recording, a logging
multi-Region CloudTrail trail with management events, Macie enabled, Security Hub enabled (only when cdk.json
``securityHub`` is true), the Powertools layer the stack would use resolvable in the region, the botocore
service models the asset ships (for services the Lambda runtime's botocore may lack; read locally, no AWS call),
and the Mlwarden stack deployed. A check that cannot be made (access denied, an API the endpoint lacks) fails
with the reason; it never crashes the command.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import botocore
from botocore.exceptions import BotoCoreError, ClientError

from mlwarden.core import sdk
from mlwarden.core.context import ClientFactory
from mlwarden.core.errors import error_code, error_message
from mlwarden.core.settings import ENV_MAX_ATTEMPTS, Settings

# The layer the stack uses when cdk.json has no powertoolsLayerArn (same as mlwarden_cdk/stack.py POWERTOOLS_LAYER;
# tests/e2e/test_doctor.py keeps the two equal).
POWERTOOLS_LAYER = "017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27"
POWERTOOLS_DOCS = "https://docs.powertools.aws.dev/lambda/python/latest/#lambda-layer"
STACK_NAME = "Mlwarden"


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def powertools_layer_arn(region: str, settings: Settings) -> str:
    if settings.powertools_layer_arn:
        return settings.powertools_layer_arn
    import boto3

    partition = boto3.session.Session().get_partition_for_region(region)
    return f"arn:{partition}:lambda:{region}:{POWERTOOLS_LAYER}"


def error_text(exc: BaseException) -> str:
    """One short line: the failed call, the error code and message (no HTML error pages)."""
    if isinstance(exc, ClientError):
        code, message = error_code(exc) or "Error", error_message(exc)
        operation = getattr(exc, "operation_name", "")
        if code.isdigit():  # an HTTP status without an AWS error: the endpoint does not implement the call
            return f"{operation} failed with HTTP {code} and no AWS error code (the endpoint may not implement it)"
        return f"{operation}: {code}: {message}".rstrip(": ")[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _denied(exc: BaseException) -> bool:
    return error_code(exc) in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


class Doctor:
    def __init__(self, region: str, settings: Settings, clients: ClientFactory | None = None) -> None:
        self.region = region
        self.settings = settings
        # A prerequisite check should answer quickly, not retry for a minute.
        attempts = int(os.environ.get(ENV_MAX_ATTEMPTS) or 2)
        self.clients = clients or ClientFactory(max_attempts=attempts)

    def client(self, service: str) -> Any:
        return self.clients.client(service, self.region)

    # --------------------------------------------------------------------------------------- checks
    def credentials(self) -> Check:
        identity = self.client("sts").get_caller_identity()
        return Check("credentials", True, f"account {identity['Account']} as {identity['Arn']}")

    def config_recorder(self) -> Check:
        name = "config-recorder"
        start_fix = (
            f"aws configservice start-configuration-recorder --configuration-recorder-name {{}} --region {self.region}"
        )
        statuses = self.client("config").describe_configuration_recorder_status().get("ConfigurationRecordersStatus")
        if not statuses:
            return Check(
                name,
                False,
                f"no AWS Config recorder in {self.region}: the Config rules (the backstop for missed events) never run",
                "turn on recording in the AWS Config console (Settings), or: aws configservice "
                "put-configuration-recorder + put-delivery-channel, then start-configuration-recorder "
                f"--region {self.region}",
            )
        recording = [s for s in statuses if s.get("recording")]
        if not recording:
            names = ", ".join(str(s.get("name")) for s in statuses)
            return Check(
                name, False, f"recorder {names} exists but is not recording", start_fix.format(statuses[0]["name"])
            )
        status = recording[0]
        if str(status.get("lastStatus", "")).upper() == "FAILURE":
            return Check(
                name,
                False,
                f"recorder {status['name']} is recording but its last recording failed: "
                f"{status.get('lastErrorCode', '')} {status.get('lastErrorMessage', '')}".rstrip(),
                "check the recorder's IAM role and delivery channel (S3 bucket policy) in the AWS Config console",
            )
        return Check(name, True, f"recorder {status['name']} is recording")

    def cloudtrail(self) -> Check:
        name = "cloudtrail"
        client = self.client("cloudtrail")
        trails = client.describe_trails(includeShadowTrails=True).get("trailList", [])
        create = (
            "aws cloudtrail create-trail --name mlwarden-trail --s3-bucket-name <bucket> --is-multi-region-trail "
            f"--enable-log-file-validation --region {self.region} && aws cloudtrail start-logging "
            f"--name mlwarden-trail --region {self.region}"
        )
        multi_region = [t for t in trails if t.get("IsMultiRegionTrail")]
        if not multi_region:
            what = f"{len(trails)} single-Region trail(s) but no multi-Region trail" if trails else "no trail"
            return Check(
                name,
                False,
                f"{what}: the EventBridge rules get no 'AWS API Call via CloudTrail' events from other regions"
                if trails
                else f"{what}: the EventBridge rules get no 'AWS API Call via CloudTrail' events",
                create,
            )
        problems: list[tuple[str, str]] = []
        for trail in multi_region:
            arn = trail.get("TrailARN") or trail["Name"]
            if not client.get_trail_status(Name=arn).get("IsLogging"):
                problems.append(
                    (
                        f"trail {trail['Name']} is not logging",
                        f"aws cloudtrail start-logging --name {arn} --region {trail.get('HomeRegion', self.region)}",
                    )
                )
                continue
            if trail.get("HasCustomEventSelectors") and not self._management_events(client, arn):
                problems.append(
                    (
                        f"trail {trail['Name']} records no management events",
                        f"aws cloudtrail put-event-selectors --trail-name {arn} --event-selectors "
                        '\'[{"ReadWriteType":"All","IncludeManagementEvents":true}]\'',
                    )
                )
                continue
            return Check(name, True, f"multi-Region trail {trail['Name']} is logging management events")
        return Check(name, False, "; ".join(problem for problem, _ in problems), problems[0][1])

    @staticmethod
    def _management_events(client: Any, trail_arn: str) -> bool:
        selectors = client.get_event_selectors(TrailName=trail_arn)
        if any(s.get("IncludeManagementEvents") for s in selectors.get("EventSelectors") or []):
            return True
        for advanced in selectors.get("AdvancedEventSelectors") or []:
            for selector in advanced.get("FieldSelectors", []):
                if selector.get("Field") == "eventCategory" and "Management" in selector.get("Equals", []):
                    return True
        return False

    def macie(self) -> Check:
        name = "macie"
        fix = f"aws macie2 enable-macie --region {self.region} (then automated sensitive data discovery or a job)"
        try:
            status = str(self.client("macie2").get_macie_session().get("status", ""))
        except ClientError as exc:
            # Macie answers AccessDenied "Macie is not enabled" when it is off.
            if error_code(exc) == "ResourceNotFoundException" or "not enabled" in str(exc).lower():
                return Check(name, False, f"Macie is not enabled in {self.region}: no sensitive-data findings", fix)
            raise
        if status == "ENABLED":
            return Check(name, True, "Macie is enabled")
        return Check(
            name,
            False,
            f"Macie is {status or 'not enabled'} in {self.region}",
            f"aws macie2 update-macie-session --status ENABLED --region {self.region}" if status == "PAUSED" else fix,
        )

    def security_hub(self) -> Check:
        name = "security-hub"
        if not self.settings.security_hub:
            return Check(name, True, "not needed: cdk.json securityHub is false")
        try:
            hub = self.client("securityhub").describe_hub()
        except ClientError as exc:
            if error_code(exc) in ("InvalidAccessException", "ResourceNotFoundException"):
                return Check(
                    name,
                    False,
                    f"Security Hub is not enabled in {self.region}, but cdk.json securityHub is true: "
                    "verdicts cannot be imported",
                    f"aws securityhub enable-security-hub --region {self.region} (or set securityHub to false)",
                )
            raise
        return Check(name, True, f"Security Hub is enabled ({hub.get('HubArn', '')})")

    def powertools_layer(self) -> Check:
        name = "powertools-layer"
        arn = powertools_layer_arn(self.region, self.settings)
        fix = (
            f"set powertoolsLayerArn in cdk.json to a Powertools for AWS Lambda (Python) v3 layer published in "
            f"{self.region} (see {POWERTOOLS_DOCS})"
        )
        try:
            layer = self.client("lambda").get_layer_version_by_arn(Arn=arn)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return Check(name, False, f"layer {arn} does not exist in {self.region}", fix)
            return Check(name, False, f"cannot resolve layer {arn}: {error_text(exc)}", fix)
        runtimes = ", ".join(layer.get("CompatibleRuntimes") or []) or "any runtime"
        return Check(name, True, f"layer {arn} resolves ({runtimes})")

    def service_models(self) -> Check:
        """The botocore models the asset ships for services the Lambda runtime's botocore may lack (core.sdk)."""
        name = "service-models"
        models = sdk.shipped_models()
        regenerate = "python -m mlwarden.cli.botocore_models, then npx cdk deploy"
        missing = [m.service for m in models if not m.present]
        if not models or missing:
            what = ", ".join(missing) if missing else "shipped.json"
            return Check(
                name,
                False,
                f"the botocore models the rule functions rely on are missing from lambdas/mlwarden/botocore_data "
                f"({what}): on a Lambda runtime whose botocore lacks them those rules fail",
                regenerate,
            )
        relied = "; ".join(
            f"{m.service} {m.api_version} ({len(m.operations)} operations, from botocore {m.source_version})"
            for m in models
        )
        here = (
            "loaded here too"
            if models[0].used
            else f"not needed here: this botocore ({botocore.__version__}) is as new"
        )
        return Check(
            name,
            True,
            f"the rule functions rely on the shipped model of {relied}, loaded wherever the Lambda runtime's "
            f"botocore is older ({here})",
        )

    def stack(self) -> Check:
        name = "stack"
        deploy = f"npx cdk deploy (from the mlwarden checkout, with credentials for this account and {self.region})"
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=STACK_NAME).get("Stacks", [])
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                return Check(name, False, f"stack {STACK_NAME} is not deployed in {self.region}", deploy)
            raise
        status = str(stacks[0].get("StackStatus", "")) if stacks else ""
        if status.endswith("_IN_PROGRESS"):
            return Check(
                name, False, f"stack {STACK_NAME} is {status}", "wait for the deployment to finish, then re-run"
            )
        if status.endswith("_FAILED") or status in ("ROLLBACK_COMPLETE", "DELETE_COMPLETE", ""):
            return Check(
                name,
                False,
                f"stack {STACK_NAME} is {status or 'missing'}",
                f"read the stack events in the CloudFormation console, fix the cause, then {deploy}",
            )
        return Check(name, True, f"stack {STACK_NAME} is {status}")

    # ------------------------------------------------------------------------------------------ run
    CHECKS: tuple[tuple[str, str], ...] = (
        ("credentials", "credentials"),
        ("config-recorder", "config_recorder"),
        ("cloudtrail", "cloudtrail"),
        ("macie", "macie"),
        ("security-hub", "security_hub"),
        ("powertools-layer", "powertools_layer"),
        ("service-models", "service_models"),
        ("stack", "stack"),
    )

    def run(self) -> list[Check]:
        def guarded(name: str, method: Callable[[], Check]) -> Check:
            try:
                return method()
            except (ClientError, BotoCoreError) as exc:
                fix = (
                    "grant the caller read access to this service"
                    if _denied(exc)
                    else ("check credentials, region and network access to AWS")
                )
                if name == "credentials":
                    fix = "configure credentials (aws configure, AWS_PROFILE or aws sso login) and a region"
                return Check(name, False, f"could not check: {error_text(exc)}", fix)

        with ThreadPoolExecutor(max_workers=len(self.CHECKS)) as pool:
            futures = [pool.submit(guarded, name, getattr(self, attr)) for name, attr in self.CHECKS]
            return [future.result() for future in futures]


def run_checks(region: str, settings: Settings, clients: ClientFactory | None = None) -> list[Check]:
    return Doctor(region, settings, clients).run()


def print_checks(checks: list[Check], *, as_json: bool = False) -> None:
    """``--json``: one object per check; a rich table on a terminal; plain lines when piped."""
    if as_json:
        for check in checks:
            print(json.dumps(asdict(check)), flush=True)
        return
    failed = sum(1 for c in checks if not c.ok)
    verdict = "all checks passed" if not failed else f"{failed} of {len(checks)} checks failed"
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
            from rich.text import Text

            # Text cells: details and fixes can hold brackets (JSON) that rich would read as markup.
            table = Table(title="mlwarden doctor", show_lines=True)
            table.add_column("check", no_wrap=True)
            table.add_column("")
            table.add_column("detail", overflow="fold")  # fold, never cut, ARNs and commands
            table.add_column("fix", overflow="fold")
            for check in checks:
                mark = Text("✓", style="green") if check.ok else Text("✗", style="bold red")
                table.add_row(Text(check.check), mark, Text(check.detail), Text(check.fix))
            console = Console()
            console.print(table)
            console.print(Text(verdict, style="green" if not failed else "bold red"))
            return
        except ImportError:
            pass
    width = max(len(c.check) for c in checks)
    for check in checks:
        print(f"{'ok  ' if check.ok else 'FAIL'}  {check.check.ljust(width)}  {check.detail}")
        if not check.ok and check.fix:
            print(f"      {' ' * width}  fix: {check.fix}")
    print(verdict)
