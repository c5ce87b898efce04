"""``mlwarden demo --org``: one deployment guarding a local AWS Organization, explained as it runs.

A moto server holds the organization: the central account (moto's default, the management account here) with
two OUs and a member account in each, in two Regions (``local_org``). The central template and the member
template come from one synthesis with the organization block; the member template is deployed into each member
account × Region the StackSet targets. Violations are made in the member accounts with their own credentials; the
events AWS would emit there go on the member's default bus, are forwarded by the member template's rules to the
central bus, and reach the central functions, which act in the member account through that rule's member role.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any

from mlwarden.cli import local_org
from mlwarden.cli.demo import Narrator
from mlwarden.cli.local_org import CENTRAL_REGION, SECOND_REGION, LocalOrganization, LocalOrgDeployment
from mlwarden.core import org

KMS_RULE = "s3-bucket-kms-encryption"
NOTEBOOK_RULE = "sagemaker-notebook-direct-internet"
SANDBOX, PRODUCTION = (m[1] for m in local_org.MEMBERS)
SANDBOX_BUCKET = "sandbox-training-data"
PRODUCTION_BUCKET = "production-features"
PRODUCTION_BUCKET_2 = "production-raw-exports"
NOTEBOOK = "prod-research-notebook"

# Both headline rules remediate (cdk.json grants their fixes); the rest stays notify, the default.
DEMO_ORG_CONTEXT = {"mlwarden": {"rules": {KMS_RULE: {"mode": "remediate"}, NOTEBOOK_RULE: {"mode": "remediate"}}}}


def member_cloudtrail_event(
    account: str, region: str, service: str, name: str, params: dict[str, Any] | None
) -> dict[str, Any]:
    """An 'AWS API Call via CloudTrail' event as AWS puts it on ``account``'s default bus in ``region``: a call
    made there by its DataScientist role."""
    caller = f"arn:aws:iam::{account}:role/DataScientist"
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/DataScientist/alice",
            "accountId": account,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": caller, "accountId": account}},
        },
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": params,
        "eventID": str(uuid.uuid4()),
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }
    return {"source": f"aws.{service}", "detail-type": "AWS API Call via CloudTrail", "detail": detail}


def kms_bucket_violation(deployment: LocalOrgDeployment, account: str, region: str, bucket: str) -> None:
    """A bucket with SSE-S3 (AES256) default encryption, made with the member account's own credentials, and the
    events AWS emits for it on that account's default bus."""
    s3 = deployment.organization.client(account, "s3", region)
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    deployment.emit(
        account, region, member_cloudtrail_event(account, region, "s3", "PutBucketEncryption", {"bucketName": bucket})
    )


def notebook_violation(deployment: LocalOrgDeployment, account: str, region: str, name: str) -> None:
    sagemaker = deployment.organization.client(account, "sagemaker", region)
    sagemaker.create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType="ml.t3.medium",
        RoleArn=f"arn:aws:iam::{account}:role/SageMakerExecution",
        DirectInternetAccess="Enabled",
    )
    params = {"notebookInstanceName": name, "instanceType": "ml.t3.medium", "directInternetAccess": "Enabled"}
    deployment.emit(
        account, region, member_cloudtrail_event(account, region, "sagemaker", "CreateNotebookInstance", params)
    )


def bucket_encryption(deployment: LocalOrgDeployment, account: str, region: str, bucket: str) -> str:
    s3 = deployment.organization.client(account, "s3", region)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return str(rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"])


def notebook_state(deployment: LocalOrgDeployment, account: str, region: str, name: str) -> dict[str, Any]:
    sagemaker = deployment.organization.client(account, "sagemaker", region)
    nb = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
    tags = sagemaker.list_tags(ResourceArn=nb["NotebookInstanceArn"]).get("Tags", [])
    return {"status": nb["NotebookInstanceStatus"], "tags": {t["Key"]: t["Value"] for t in tags}}


@dataclass
class OrgDemoResult:
    decisions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    scan: list[dict[str, Any]] = field(default_factory=list)


def account_label(organization: LocalOrganization, account: str) -> str:
    try:
        return f"{account} ({organization.member(account).name})"
    except KeyError:
        return f"{account} (central)" if account == organization.central_account else account


def show_decisions(say: Narrator, organization: LocalOrganization, results: list[tuple[str, dict[str, Any]]]) -> None:
    for rule_id, result in results:
        for d in result["decisions"]:
            where = f"{account_label(organization, d.get('account', ''))} {d.get('region', '')}"
            say.line(f"   {where:<38} {rule_id:<36} {d['resource_id'] or '-':<24} {d['compliance']:<14} {d['action']}")


def show_alerts(say: Narrator, organization: LocalOrganization, alerts: list[dict[str, Any]]) -> None:
    if not alerts:
        say.line("   (none)")
    for alert in alerts:
        body = alert["body"]
        say.line(f"   [bold]{alert['subject']}[/]" if say.console else f"   {alert['subject']}")
        say.line(f"      account: {account_label(organization, body.get('account', ''))}, region {body.get('region')}")
        say.line(f"      why:  {body['reason']}")


def describe_deployment(say: Narrator, deployment: LocalOrgDeployment) -> None:
    central = deployment.central
    buses = [p["Name"] for _, p in central.of_type("AWS::Events::EventBus")]
    central_rules = sum(1 for _, p in central.of_type("AWS::Events::Rule") if p.get("EventBusName"))
    say.line(
        f"   central account {deployment.organization.central_account} ({CENTRAL_REGION}): "
        f"{len(central.functions)} rule functions, bus {', '.join(buses)} with {central_rules} rules"
    )
    stackset = deployment.stackset
    say.line(f"   StackSet targets: OUs {', '.join(stackset['ous'])} in {', '.join(stackset['regions'])}")
    for stack in deployment.members:
        roles = sum(1 for name in stack.roles if name.startswith("mlwarden-member-"))
        say.line(
            f"   {account_label(deployment.organization, stack.account):<28} {stack.region:<10} "
            f"{len(stack.rules)} forwarding rules to the central bus"
            + (f", {roles} member roles (IAM is global: made once, here)" if stack.roles else "")
        )


def run_org_scenario(deployment: LocalOrgDeployment, say: Narrator) -> OrgDemoResult:
    organization = deployment.organization
    result = OrgDemoResult()

    say.step("3. Violations made in the member accounts, with their own credentials")
    kms_bucket_violation(deployment, SANDBOX, CENTRAL_REGION, SANDBOX_BUCKET)
    say.line(f"   {account_label(organization, SANDBOX)} {CENTRAL_REGION}: bucket {SANDBOX_BUCKET}, SSE-S3 (not KMS)")
    notebook_violation(deployment, PRODUCTION, SECOND_REGION, NOTEBOOK)
    say.line(f"   {account_label(organization, PRODUCTION)} {SECOND_REGION}: notebook {NOTEBOOK}, direct internet")
    say.line("   AWS puts each call's CloudTrail event on that account's default bus in that Region")

    say.step("4. Forwarded to the central bus, judged centrally, fixed in the member account (its member role)")
    delivered = deployment.deliver()
    result.decisions += delivered
    show_decisions(say, organization, delivered)
    alerts = deployment.alerts()
    result.alerts += alerts
    say.line("   alerts, one topic for the whole organization:")
    show_alerts(say, organization, alerts)

    say.step("5. State after, read in each member account")
    result.state[SANDBOX_BUCKET] = bucket_encryption(deployment, SANDBOX, CENTRAL_REGION, SANDBOX_BUCKET)
    result.state[NOTEBOOK] = notebook_state(deployment, PRODUCTION, SECOND_REGION, NOTEBOOK)
    say.line(f"   {SANDBOX_BUCKET}: default encryption {result.state[SANDBOX_BUCKET]}")
    say.line(f"   {NOTEBOOK}: {result.state[NOTEBOOK]['status']}, tags {result.state[NOTEBOOK]['tags']}")

    say.step(f"6. A member role removed in {account_label(organization, PRODUCTION)}: failed, named, never skipped")
    role = org.member_role_name(KMS_RULE)
    iam = organization.client(PRODUCTION, "iam")
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=policy)
    iam.delete_role(RoleName=role)
    say.line(f"   deleted role {role} in {PRODUCTION}; then bucket {PRODUCTION_BUCKET} is made with SSE-S3")
    kms_bucket_violation(deployment, PRODUCTION, CENTRAL_REGION, PRODUCTION_BUCKET)
    failed = deployment.deliver()
    result.decisions += failed
    show_decisions(say, organization, failed)
    for _, r in failed:
        for d in r["decisions"]:
            say.line(f"      {d['reason']}")
    result.alerts += deployment.alerts()
    result.state[PRODUCTION_BUCKET] = bucket_encryption(deployment, PRODUCTION, CENTRAL_REGION, PRODUCTION_BUCKET)
    return result


def run_scan(deployment: LocalOrgDeployment, say: Narrator, accounts: list[str]) -> list[dict[str, Any]]:
    """``mlwarden scan --account A --account B --rule s3-bucket-kms-encryption --json`` with the central
    function's environment (its member role name, external id)."""
    from mlwarden.cli.main import main as cli_main

    args = ["scan", "--rule", KMS_RULE, "--json", "--region", CENTRAL_REGION]
    for account in accounts:
        args += ["--account", account]
    say.line(f"   $ mlwarden {' '.join(args)}")
    function = next(f for f in deployment.central.functions.values() if f.rule_id == KMS_RULE)
    out = io.StringIO()
    with deployment.central.function_environment(function), redirect_stdout(out):
        code = cli_main(args)
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    for row in rows:
        say.line(
            f"   {account_label(deployment.organization, row.get('account', '')):<28} "
            f"{row['resource_id']:<24} {row['compliance']:<14} {row['reason'][:60]}"
        )
    say.line(f"   exit code {code}")
    return rows


def run_org_demo(keep_running: bool = False) -> int:
    from mlwarden.cli.local_account import moto_server

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=CENTRAL_REGION,
        AWS_DEFAULT_REGION=CENTRAL_REGION,
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.setdefault("MLWARDEN_MAX_ATTEMPTS", "1")
    say = Narrator()
    started = time.monotonic()
    say.line("mlwarden demo --org — one deployment guards a whole (local) AWS Organization")
    say.step("1. Synthesize the CDK app with an organization block: the central stack and the member template")
    say.progress("synthesizing (the same templates `cdk deploy` and its StackSet would use)…")
    templates = local_org.synthesize_org(DEMO_ORG_CONTEXT)
    say.progress(f"synthesized in {time.monotonic() - started:.1f}s; starting a local AWS (moto server)…")
    with moto_server() as endpoint, local_org.aws_fidelity():
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        say.step("2. A local organization; the central stack deployed, the StackSet rolled out")
        organization = local_org.create_local_organization(endpoint)
        say.line(
            f"   organization {organization.org_id}, root {organization.root_id}, management/central account "
            f"{organization.central_account}"
        )
        for member in organization.members:
            say.line(f"   OU {member.ou}: account {member.account} ({member.name})")
        deployment = LocalOrgDeployment(templates, organization, quiet=True).deploy()
        describe_deployment(say, deployment)
        result = run_org_scenario(deployment, say)
        say.step("7. mlwarden scan across accounts, through the member roles")
        result.scan = run_scan(deployment, say, [SANDBOX, PRODUCTION])
        remediated = sum(1 for _, r in result.decisions for d in r["decisions"] if d["action"] == "remediated")
        say.step(
            f"Done in {time.monotonic() - started:.1f}s: {len(result.alerts)} alerts, {remediated} remediations "
            f"in {len(organization.members)} member accounts."
        )
        if keep_running:
            say.line(f"The local organization stays up at {endpoint}; Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0
