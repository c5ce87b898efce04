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

# The rules the story uses (every notebook rule judges a new notebook; IAM's rule shows global events forwarded
# from us-east-1 only); cdk.json ``deploy: false`` leaves the others out, as a user can. The two headline rules
# remediate (cdk.json grants their fixes); the rest stays notify, the default.
DEMO_ORG_RULES = (
    KMS_RULE,
    NOTEBOOK_RULE,
    "sagemaker-notebook-kms",
    "sagemaker-notebook-vpc",
    "sagemaker-notebook-root-access",
    "sagemaker-notebook-platform",
    "iam-admin-policy-attached",
)


def demo_org_context() -> dict[str, Any]:
    from mlwarden.core.registry import rule_ids

    rules: dict[str, Any] = {rule_id: {"deploy": False} for rule_id in rule_ids() if rule_id not in DEMO_ORG_RULES}
    rules.update({KMS_RULE: {"mode": "remediate"}, NOTEBOOK_RULE: {"mode": "remediate"}})
    return {"mlwarden": {"rules": rules}}


def member_cloudtrail_event(
    account: str, region: str, service: str, name: str, params: dict[str, Any] | None
) -> dict[str, Any]:
    """An 'AWS API Call via CloudTrail' event as AWS puts it on ``account``'s default bus in ``region``: a call
    made there by its DataScientist role."""
    from mlwarden.cli.demo import cloudtrail_event

    return cloudtrail_event(service, name, params, account=account, region=region)


def kms_bucket_violation(
    deployment: LocalOrgDeployment, account: str, region: str, bucket: str, *, emit: bool = True
) -> None:
    """A bucket with SSE-S3 (AES256) default encryption, made with the member account's own credentials, and
    (``emit``) the event AWS puts for it on that account's default bus."""
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
    if emit:
        event = member_cloudtrail_event(account, region, "s3", "PutBucketEncryption", {"bucketName": bucket})
        deployment.emit(account, region, event)


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
    """One line per (rule, resource) acted on; repeated deliveries of one event are counted, not listed."""
    lines: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rule_id, result in results:
        for d in result["decisions"]:
            lines.setdefault((rule_id, d.get("account", ""), d["resource_id"]), []).append(d)
    for (rule_id, account, _), found in lines.items():
        first = next((d for d in found if not d["reason"].startswith("duplicate:")), found[0])
        where = f"{account_label(organization, account)} {first.get('region', '')}"
        copies = f"  (delivered {len(found)}x: {len(found) - 1} duplicates dropped)" if len(found) > 1 else ""
        say.line(
            f"   {where:<38} {rule_id:<36} {first['resource_id'] or '-':<24} {first['compliance']:<14} "
            f"{first['action']}{copies}"
        )


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
            + (f", {roles} member roles (IAM is global: made once, here)" if roles else "")
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

    return result


def run_missing_role_scene(deployment: LocalOrgDeployment, say: Narrator, result: OrgDemoResult) -> None:
    organization = deployment.organization
    say.step(f"7. A member role removed in {account_label(organization, PRODUCTION)}: failed, named, never skipped")
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


def run_scan(
    deployment: LocalOrgDeployment, say: Narrator, accounts: list[str], *, as_function: bool = True
) -> tuple[int, list[dict[str, Any]], str]:
    """``mlwarden scan --rule s3-bucket-kms-encryption --account A --account B --json`` in a project directory
    whose cdk.json holds the demo's organization block, as the rule's central role (``as_function``) or as the
    operator (the central account's own credentials). Returns (exit code, JSON rows, stderr)."""
    import tempfile
    from contextlib import ExitStack, chdir, redirect_stderr
    from pathlib import Path

    from mlwarden.cli.main import main as cli_main

    args = ["scan", "--rule", KMS_RULE, "--json", "--region", CENTRAL_REGION]
    for account in accounts:
        args += ["--account", account]
    block = merge_context(demo_org_context(), {"mlwarden": {org.CONTEXT_BLOCK: local_org.ORGANIZATION_BLOCK}})
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="mlwarden-org-demo-") as project, ExitStack() as stack:
        (Path(project) / "cdk.json").write_text(json.dumps({"context": block}))
        stack.enter_context(chdir(project))
        if as_function:
            function = next(f for f in deployment.central.functions.values() if f.rule_id == KMS_RULE)
            stack.enter_context(deployment.central.function_environment(function))
        stack.enter_context(redirect_stdout(out))
        stack.enter_context(redirect_stderr(err))
        code = cli_main(args)
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return code, rows, err.getvalue()


def show_scan(say: Narrator, organization: LocalOrganization, rows: list[dict[str, Any]], stderr: str) -> None:
    for line in stderr.splitlines():
        if line.startswith("mlwarden: account "):
            say.line(f"   {line.removeprefix('mlwarden: ')}")
    for row in rows:
        reason = str(row["reason"]).rsplit("could not check: ", 1)[-1]
        say.line(
            f"   {account_label(organization, row.get('account', '')):<28} "
            f"{row['resource_id'] or '-':<24} {row['compliance']:<14} {reason[:110]}"
        )


def merge_context(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    from mlwarden_cdk.app import merge

    merged: dict[str, Any] = merge(base, overrides)
    return merged


def run_org_demo(keep_running: bool = False) -> int:
    from mlwarden.cli.local_account import moto_server, use_local_credentials

    use_local_credentials(CENTRAL_REGION)
    say = Narrator()
    started = time.monotonic()
    say.line("mlwarden demo --org — one deployment guards a whole (local) AWS Organization")
    say.step("1. Synthesize the CDK app with an organization block: the central stack and the member template")
    say.progress("synthesizing (the same templates `cdk deploy` and its StackSet would use)…")
    templates = local_org.synthesize_org(demo_org_context())
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
        say.step("6. mlwarden scan --account across accounts, through the member roles")
        accounts = [SANDBOX, PRODUCTION]
        kms_bucket_violation(deployment, PRODUCTION, CENTRAL_REGION, PRODUCTION_BUCKET_2, emit=False)
        say.line(
            f"   bucket {PRODUCTION_BUCKET_2} in {account_label(organization, PRODUCTION)} predates the deployment "
            "(SSE-S3, no event): only a sweep finds it"
        )
        say.line(f"   $ mlwarden scan --rule {KMS_RULE} --account {SANDBOX} --account {PRODUCTION} --json")
        say.line(f"   as the rule's central role ({org.central_role_name(KMS_RULE)}):")
        _, result.scan, stderr = run_scan(deployment, say, accounts)
        show_scan(say, organization, result.scan, stderr)
        say.line("   as the operator (the central account's admin): each member role trusts only its rule's function")
        _, refused, stderr = run_scan(deployment, say, accounts, as_function=False)
        show_scan(say, organization, refused, stderr)
        run_missing_role_scene(deployment, say, result)
        remediated = sum(1 for _, r in result.decisions for d in r["decisions"] if d["action"] == "remediated")
        say.step(
            f"Done in {time.monotonic() - started:.1f}s: {len(result.alerts)} alerts, {remediated} remediations "
            f"in {len(organization.members)} member accounts."
        )
        if keep_running:
            say.line(f"The local organization stays up at {endpoint}; Ctrl-C to stop.")
            from mlwarden.cli.demo import wait_until_stopped

            wait_until_stopped()
    return 0
