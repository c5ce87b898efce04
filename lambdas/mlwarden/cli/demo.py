"""``mlwarden demo``: the whole stack on a local AWS account, explained as it runs.

A moto server stands in for the account. The wiring comes from the synthesized CDK template; violations are
made with real boto3 calls; the events AWS would emit go through EventBridge rules built from the template's
patterns; the real handler judges live state, alerts and remediates; alerts are read by a subscriber queue.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from mlwarden.cli.local_account import (
    ACCOUNT,
    REGION,
    LocalDeployment,
    cached_template,
    moto_server,
    use_local_credentials,
)

TRAINING_BUCKET = "ml-training-data-demo"
FEATURES_BUCKET = "ml-features-demo"
UPLOADS_BUCKET = "ml-raw-uploads-demo"
UPLOADS_KEY = "customers/export-2026-11.csv"
UPLOADS_KEY_2 = "customers/export-2026-12.csv"
OPEN_DATA_BUCKET = "ml-open-datasets-demo"
INVOCATION_LOGS_BUCKET = "ml-bedrock-invocation-logs-demo"
HEADLINE = (
    "s3-bucket-kms-encryption",
    "sagemaker-notebook-direct-internet",
    "macie-sensitive-data",
    "bedrock-invocation-logging",
)
NOTEBOOK = "research-notebook"
# Bedrock model invocation logging as the platform team sets it up, and as cdk.json bedrockInvocationLogging
# declares it: every prompt and answer to a bucket that the demo creates SSE-KMS and not public.
INVOCATION_LOGGING = {
    "s3Config": {"bucketName": INVOCATION_LOGS_BUCKET, "keyPrefix": "invocations"},
    "textDataDeliveryEnabled": True,
    "imageDataDeliveryEnabled": True,
    "embeddingDataDeliveryEnabled": True,
}

# The demo's own settings: the headline fixes are switched on (bedrock-invocation-logging with the logging
# configuration to put back); Macie stays in notify (the default).
DEMO_CONTEXT = {
    "mlwarden": {
        "rules": {
            "s3-bucket-kms-encryption": {"mode": "remediate"},
            "sagemaker-notebook-direct-internet": {"mode": "remediate"},
            "bedrock-invocation-logging": {"mode": "remediate"},
        },
        "bedrockInvocationLogging": INVOCATION_LOGGING,
    }
}


def cloudtrail_event(
    service: str,
    name: str,
    params: dict[str, Any] | None,
    *,
    error: str | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
) -> dict[str, Any]:
    """An 'AWS API Call via CloudTrail' event as EventBridge delivers it: a call made in ``account`` and ``region``
    by that account's DataScientist role (session alice)."""
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
    if error:
        detail["errorCode"] = error
        detail["errorMessage"] = "Access Denied"
    return {"source": f"aws.{service}", "detail-type": "AWS API Call via CloudTrail", "detail": detail}


def macie_finding_event(bucket: str, key: str) -> dict[str, Any]:
    """A Macie 'SensitiveData:S3Object/Multiple' finding, shaped like the published samples."""
    finding = {
        "schemaVersion": "1.0",
        "id": uuid.uuid4().hex,
        "accountId": ACCOUNT,
        "region": REGION,
        "partition": "aws",
        "type": "SensitiveData:S3Object/Multiple",
        "title": "The S3 object contains multiple categories of sensitive information.",
        "severity": {"description": "High", "score": 3},
        "category": "CLASSIFICATION",
        "count": 1,
        "resourcesAffected": {
            "s3Bucket": {"arn": f"arn:aws:s3:::{bucket}", "name": bucket},
            "s3Object": {
                "bucketArn": f"arn:aws:s3:::{bucket}",
                "key": key,
                "path": f"{bucket}/{key}",
                "versionId": "",
            },
        },
        "classificationDetails": {
            "result": {
                "mimeType": "text/csv",
                "sensitiveData": [
                    {
                        "category": "FINANCIAL_INFORMATION",
                        "totalCount": 2,
                        "detections": [
                            {
                                "type": "CREDIT_CARD_NUMBER",
                                "count": 2,
                                "occurrences": {"cells": [{"column": 3, "columnName": "card", "row": 2}]},
                            }
                        ],
                    },
                    {
                        "category": "PERSONAL_INFORMATION",
                        "totalCount": 2,
                        "detections": [
                            {
                                "type": "NAME",
                                "count": 2,
                                "occurrences": {"cells": [{"column": 1, "columnName": "name", "row": 2}]},
                            }
                        ],
                    },
                ],
                "customDataIdentifiers": {"detections": [], "totalCount": 0},
                "status": {"code": "COMPLETE"},
            }
        },
    }
    return {"source": "aws.macie", "detail-type": "Macie Finding", "detail": finding}


@dataclass
class DemoResult:
    decisions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    events_sent: int = 0


class Narrator:
    def __init__(self) -> None:
        try:
            from rich.console import Console

            self.console: Any = Console(highlight=False, soft_wrap=True)
        except ImportError:  # rich is optional: plain text then
            self.console = None

    def step(self, text: str) -> None:
        self.line("")
        self.line(f"[bold cyan]{text}[/]" if self.console else text)

    def line(self, text: str = "") -> None:
        if self.console:
            self.console.print(text)
        else:
            print(text, flush=True)

    def plain(self, text: str) -> None:
        """A line printed as it is (names from the account may hold rich markup such as ``[x]``)."""
        if self.console:
            self.console.print(text, markup=False)
        else:
            print(text, flush=True)

    def progress(self, text: str) -> None:
        """A line saying what the demo is doing now, during its quiet first seconds (synth, server, deploy)."""
        self.line(f"   [dim]{text}[/]" if self.console else f"   {text}")


def keep_running_lines(endpoint: str, audit_table: str | None) -> list[str]:
    """What ``--keep-running`` prints: the environment and names that ``mlwarden history`` (and the other
    commands) need to reach the local account from another shell."""
    env = (
        f"export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_REGION={REGION} AWS_DEFAULT_REGION={REGION}"
    )
    if audit_table:
        env += f" MLWARDEN_AUDIT_TABLE={audit_table}"
    lines = [
        f"The local account stays up at {endpoint}; Ctrl-C to stop. In another shell:",
        f"   {env}",
    ]
    if audit_table:
        lines += [
            f"   mlwarden history --table {audit_table}   # every decision the demo made",
            f"   mlwarden report --table {audit_table} --output demo-report.html",
        ]
    lines += [
        "   mlwarden scan   # judge what the local account holds now",
        f"   (audit table: {audit_table or 'none'}; endpoint: {endpoint}; region: {REGION}; credentials: testing)",
    ]
    return lines


def deployed_modes(dep: LocalDeployment) -> dict[str, str]:
    """Every rule's mode as the local account's SSM holds it (/mlwarden/rules/<id>/mode), read by path."""
    modes: dict[str, str] = {}
    pages = dep.client("ssm").get_paginator("get_parameters_by_path").paginate(Path="/mlwarden/rules", Recursive=True)
    for page in pages:
        for parameter in page["Parameters"]:
            prefix, _, leaf = parameter["Name"].rpartition("/")
            if leaf == "mode":
                modes[prefix.rsplit("/", 1)[-1]] = parameter["Value"]
    return modes


def create_violations(dep: LocalDeployment) -> None:
    s3, sagemaker = dep.client("s3"), dep.client("sagemaker")
    # 1. A training-data bucket with what AWS applies by default since 2023: SSE-S3, not KMS.
    s3.create_bucket(Bucket=TRAINING_BUCKET)
    s3.put_bucket_encryption(
        Bucket=TRAINING_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    # 2. A compliant bucket (SSE-KMS): its event must change nothing.
    s3.create_bucket(Bucket=FEATURES_BUCKET)
    s3.put_bucket_encryption(
        Bucket=FEATURES_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]
        },
    )
    # 3. A notebook instance open to the internet.
    sagemaker.create_notebook_instance(
        NotebookInstanceName=NOTEBOOK,
        InstanceType="ml.t3.medium",
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution",
        DirectInternetAccess="Enabled",
    )
    # 4. A public bucket holding a customer export (fake data).
    s3.create_bucket(Bucket=UPLOADS_BUCKET)
    s3.put_bucket_acl(Bucket=UPLOADS_BUCKET, ACL="public-read")
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=UPLOADS_KEY_2, Body=b"name,card\nAda Lovelace,4000056655665556\n")
    # 5. A bucket that is public and unencrypted on purpose (an open dataset mirror), exempted by tag.
    s3.create_bucket(Bucket=OPEN_DATA_BUCKET)
    s3.put_bucket_tagging(
        Bucket=OPEN_DATA_BUCKET,
        Tagging={
            "TagSet": [
                {"Key": "mlwarden:exempt", "Value": "all"},
                {"Key": "mlwarden:exempt-reason", "Value": "public research dataset mirror"},
                {"Key": "mlwarden:exempt-until", "Value": (date.today() + timedelta(days=30)).isoformat()},
            ]
        },
    )
    s3.put_object(
        Bucket=UPLOADS_BUCKET,
        Key=UPLOADS_KEY,
        Body=(
            b"name,email,card\nJane Roe,jane@example.com,4111111111111111\nJohn Doe,john@example.com,5500005555555559\n"
        ),
        Tagging="team=growth",
    )


def violation_events() -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "CreateBucket (training data)",
            cloudtrail_event("s3", "CreateBucket", {"bucketName": TRAINING_BUCKET}),
        ),
        (
            "PutBucketEncryption AES256 (training data)",
            cloudtrail_event("s3", "PutBucketEncryption", {"bucketName": TRAINING_BUCKET}),
        ),
        (
            "PutBucketEncryption aws:kms (features, compliant)",
            cloudtrail_event("s3", "PutBucketEncryption", {"bucketName": FEATURES_BUCKET}),
        ),
        (
            "PutBucketEncryption failed with AccessDenied",
            cloudtrail_event("s3", "PutBucketEncryption", {"bucketName": FEATURES_BUCKET}, error="AccessDenied"),
        ),
        (
            "CreateNotebookInstance",
            cloudtrail_event(
                "sagemaker",
                "CreateNotebookInstance",
                {
                    "notebookInstanceName": NOTEBOOK,
                    "instanceType": "ml.t3.medium",
                    "directInternetAccess": "Enabled",
                },
            ),
        ),
        ("Macie finding SensitiveData:S3Object/Multiple", macie_finding_event(UPLOADS_BUCKET, UPLOADS_KEY)),
        (
            "CreateBucket (open datasets, exempt by tag)",
            cloudtrail_event("s3", "CreateBucket", {"bucketName": OPEN_DATA_BUCKET}),
        ),
    ]


def with_duplicate(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """EventBridge delivers at least once: the notebook event arrives twice."""
    (notebook,) = [e for label, e in events if label == "CreateNotebookInstance"]
    return [*events, ("CreateNotebookInstance again (duplicate delivery)", notebook)]


def read_state(dep: LocalDeployment) -> dict[str, Any]:
    s3, sagemaker = dep.client("s3"), dep.client("sagemaker")
    state: dict[str, Any] = {}
    enc = s3.get_bucket_encryption(Bucket=TRAINING_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    state[TRAINING_BUCKET] = {
        "SSEAlgorithm": enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "KMSMasterKeyID": enc["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID"),
        "BucketKeyEnabled": enc.get("BucketKeyEnabled", False),
    }
    nb = sagemaker.describe_notebook_instance(NotebookInstanceName=NOTEBOOK)
    tags = sagemaker.list_tags(ResourceArn=nb["NotebookInstanceArn"]).get("Tags", [])
    state[NOTEBOOK] = {
        "NotebookInstanceStatus": nb["NotebookInstanceStatus"],
        "DirectInternetAccess": nb["DirectInternetAccess"],
        "tags": {t["Key"]: t["Value"] for t in tags},
    }
    try:
        bpa = s3.get_public_access_block(Bucket=UPLOADS_BUCKET)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        bpa = {}
    object_tags = s3.get_object_tagging(Bucket=UPLOADS_BUCKET, Key=UPLOADS_KEY_2).get("TagSet", [])
    try:
        open_data = s3.get_bucket_encryption(Bucket=OPEN_DATA_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
        state[OPEN_DATA_BUCKET] = {"SSEAlgorithm": open_data[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]}
    except s3.exceptions.ClientError:
        state[OPEN_DATA_BUCKET] = {"SSEAlgorithm": None}
    state[UPLOADS_BUCKET] = {
        "block_public_access": all(
            bpa.get(k) for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        ),
        "object_tags": {t["Key"]: t["Value"] for t in object_tags},
    }
    return state


def turn_on_invocation_logging(dep: LocalDeployment) -> None:
    """What a platform team sets up: a customer KMS key, a log bucket encrypted with it and closed to the
    public, and Bedrock model invocation logging to that bucket (the configuration cdk.json declares)."""
    s3 = dep.client("s3")
    key = dep.client("kms").create_key(Description="Bedrock invocation logs")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=INVOCATION_LOGS_BUCKET)
    s3.put_bucket_encryption(
        Bucket=INVOCATION_LOGS_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=INVOCATION_LOGS_BUCKET,
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        ),
    )
    dep.client("bedrock").put_model_invocation_logging_configuration(loggingConfig=INVOCATION_LOGGING)


def invocation_logging(dep: LocalDeployment) -> dict[str, Any] | None:
    """Bedrock's model invocation logging configuration as Bedrock reports it now (None: logging is off)."""
    return dep.client("bedrock").get_model_invocation_logging_configuration().get("loggingConfig") or None


def show_decisions(say: Narrator, results: list[tuple[str, dict[str, Any]]]) -> None:
    for rule_id, result in results:
        for d in result["decisions"]:
            note = ""
            if "duplicate:" in d["reason"]:
                note = "  (duplicate delivery: already acted on)"
            elif d["action"] == "exempt":
                note = "  (exempt by tag: left alone)"
            say.line(f"   {rule_id:<36} {d['resource_id'] or '-':<50} {d['compliance']:<14} {d['action']}{note}")


def show_alerts(say: Narrator, alerts: list[dict[str, Any]]) -> None:
    """The headline rules' alerts in full; the others by subject and reason (they are in notify mode)."""
    if not alerts:
        say.line("   (none)")
    others = []
    for alert in alerts:
        body = alert["body"]
        if body["rule_id"] not in HEADLINE:
            others.append(alert)
            continue
        say.line(f"   [bold]{alert['subject']}[/]" if say.console else f"   {alert['subject']}")
        say.line(f"      why:  {body['reason']}")
        say.line(f"      {'done' if body['action'] == 'remediated' else 'todo'}: {body['remediation']}")
        if body.get("details", {}).get("detections"):
            found = ", ".join(f"{k} x{v}" for k, v in body["details"]["detections"].items())
            say.line(f"      found: {found} (counts only; no sample values leave Macie)")
        say.line(f"      attributes: {alert['attributes']}")
    if others:
        say.line(f"   and {len(others)} from the other AI/ML rules, in notify mode:")
        for alert in others:
            say.line(f"   {alert['subject']}")
            say.line(f"      why:  {alert['body']['reason']}")


def audit_table_of(dep: LocalDeployment) -> str | None:
    """The audit table's name in the local account (the stack output ``AuditTableName``)."""
    name = dep.resolve(dep.template.get("Outputs", {}).get("AuditTableName", {}).get("Value", {}))
    return name if isinstance(name, str) and name else None


def run_scenario(dep: LocalDeployment, say: Narrator) -> DemoResult:
    result = DemoResult()
    say.step("2. Make the violations with real boto3 calls")
    create_violations(dep)
    say.line(f"   bucket {TRAINING_BUCKET}: default encryption SSE-S3 (AES256), as AWS creates buckets today")
    say.line(f"   bucket {FEATURES_BUCKET}: SSE-KMS (compliant)")
    say.line(f"   notebook {NOTEBOOK}: DirectInternetAccess Enabled")
    say.line(f"   bucket {UPLOADS_BUCKET}: public-read ACL, holding customer exports (names, card numbers)")
    say.line(f"   bucket {OPEN_DATA_BUCKET}: unencrypted on purpose, tagged mlwarden:exempt=all")

    say.step("3. Send the events AWS would emit to the default event bus")
    events = with_duplicate(violation_events())
    for label, _ in events:
        say.line(f"   - {label}")
    dep.put_events(*(event for _, event in events))
    result.events_sent = len(events)

    say.step("4. EventBridge rules (from the template) deliver to the rule functions, which judge live state")
    result.decisions = dep.deliver()
    routed = sum(len(r["decisions"]) for _, r in result.decisions)
    say.line(f"   {routed} deliveries for {len(events)} events (the failed call matched no pattern):")
    show_decisions(say, result.decisions)
    say.line("   the second training-bucket event found the bucket already fixed (live state, not the event)")

    say.step("5. Alerts received by a subscriber of the topic")
    result.alerts = dep.alerts()
    show_alerts(say, result.alerts)

    say.step("6. State after")
    result.state = read_state(dep)
    t, n, u = result.state[TRAINING_BUCKET], result.state[NOTEBOOK], result.state[UPLOADS_BUCKET]
    say.line(
        f"   {TRAINING_BUCKET}: default encryption {t['SSEAlgorithm']} "
        f"({t['KMSMasterKeyID'] or 'AWS managed key aws/s3'}), Bucket Key {'on' if t['BucketKeyEnabled'] else 'off'}"
    )
    say.line(f"   {NOTEBOOK}: {n['NotebookInstanceStatus']}, tags {n['tags']} (not deleted; recreate it in a VPC)")
    say.line(
        f"   {UPLOADS_BUCKET}: Block Public Access {'on' if u['block_public_access'] else 'off'} "
        "(macie-sensitive-data is in notify mode)"
    )
    open_data = result.state[OPEN_DATA_BUCKET]["SSEAlgorithm"] or "none"
    say.line(f"   {OPEN_DATA_BUCKET}: default encryption {open_data} (exempt: left alone)")

    say.step("7. Switch macie-sensitive-data to remediate at run time (no redeploy); Macie finds a second file")
    from mlwarden.cli.main import main as cli_main

    os.environ["AWS_ENDPOINT_URL"] = dep.endpoint
    cli_main(["toggle", "macie-sensitive-data", "remediate", "--region", REGION])
    from mlwarden import handler as handler_module

    handler_module._runtimes.clear()  # a new invocation environment: the mode is read again
    dep.put_events(macie_finding_event(UPLOADS_BUCKET, UPLOADS_KEY_2))
    replay = dep.deliver()
    result.decisions.extend(replay)
    show_decisions(say, replay)
    replay_alerts = dep.alerts()
    result.alerts.extend(replay_alerts)
    show_alerts(say, replay_alerts)
    result.state = read_state(dep)
    u = result.state[UPLOADS_BUCKET]
    say.line(
        f"   {UPLOADS_BUCKET}: Block Public Access {'on' if u['block_public_access'] else 'off'}, "
        f"{UPLOADS_KEY_2} tags {u['object_tags']}"
    )
    run_generative_ai_scene(dep, say, result)
    audit_table = audit_table_of(dep)
    if audit_table:
        say.step("9. Every decision is in the audit table: mlwarden history --rule macie-sensitive-data")
        cli_main(["history", "--rule", "macie-sensitive-data", "--table", audit_table, "--region", REGION])
    return result


def run_generative_ai_scene(dep: LocalDeployment, say: Narrator, result: DemoResult) -> None:
    """Bedrock model invocation logging, the record of every prompt and answer, is turned off and put back."""
    say.step("8. Generative AI: Bedrock model invocation logging, the record of every prompt and every answer")
    turn_on_invocation_logging(dep)
    say.line(
        "   the platform team turns it on (PutModelInvocationLoggingConfiguration) to bucket "
        f"{INVOCATION_LOGS_BUCKET}: SSE-KMS with a customer key, Block Public Access on"
    )
    dep.put_events(
        cloudtrail_event("bedrock", "PutModelInvocationLoggingConfiguration", {"loggingConfig": INVOCATION_LOGGING})
    )
    judged = dep.deliver()
    show_decisions(say, judged)
    for _, r in judged:
        for d in r["decisions"]:
            say.line(f"      {d['reason']}")
    dep.client("bedrock").delete_model_invocation_logging_configuration()
    deleted = invocation_logging(dep)
    say.line(
        "   then DataScientist/alice turns it off (DeleteModelInvocationLoggingConfiguration): "
        f"{'model calls now leave no record' if deleted is None else 'it is still on'}"
    )
    dep.put_events(cloudtrail_event("bedrock", "DeleteModelInvocationLoggingConfiguration", None))
    caught = dep.deliver()
    show_decisions(say, caught)
    alerts = dep.alerts()
    show_alerts(say, alerts)
    restored = invocation_logging(dep)
    result.events_sent += 2
    result.decisions.extend(judged + caught)
    result.alerts.extend(alerts)
    result.state["model-invocation-logging"] = {"after the delete": deleted, "after delivery": restored}
    bucket = ((restored or {}).get("s3Config") or {}).get("bucketName")
    say.line(
        f"   model invocation logging, read back from Bedrock: {f'on, to bucket {bucket}' if bucket else 'off'} "
        "(put back from cdk.json bedrockInvocationLogging)"
    )


# ------------------------------------------------------------------------------------------- summary
SUMMARY_WIDTH, SUMMARY_LINES = 100, 24
SUMMARY_GROUPS = 12  # resources listed at most (the rest are counted)
OUTCOMES = ("fixed", "open", "exempt")  # the order of the summary's lines
RESOURCE_WIDTH = 44


@dataclass
class Caught:
    """One violating resource and what became of each rule's finding on it."""

    resource: str
    outcome: str  # fixed | open | exempt
    rules: list[str] = field(default_factory=list)
    note: str = ""


def _exemption_note(reason: str) -> str:
    """The exemption part of a decision's reason ("exempt by tag (why) until …", "exempt in cdk.json (why)")."""
    for marker in ("exempt by tag", "exempt in cdk.json"):
        if marker in reason:
            return reason[reason.index(marker) :]
    return ""


def caught(decisions: list[tuple[str, dict[str, Any]]]) -> list[Caught]:
    """What the decisions caught, per resource and outcome: ``fixed`` when a rule remediated it, ``exempt`` when
    an exemption was honoured, ``open`` when a rule found it violating and did neither (notify mode).
    Duplicate deliveries and compliant verdicts add nothing."""
    outcomes: dict[tuple[str, str], str] = {}
    notes: dict[tuple[str, str], str] = {}
    for rule_id, result in decisions:
        for d in result.get("decisions", []):
            key = (str(d.get("resource_id") or "-"), str(d.get("rule_id") or rule_id))
            action, reason = d.get("action"), str(d.get("reason", ""))
            if action == "remediated":
                outcomes[key] = "fixed"
            elif action == "exempt":
                outcomes.setdefault(key, "exempt")
                notes[key] = _exemption_note(reason)
            elif d.get("compliance") == "NON_COMPLIANT" and "duplicate" not in reason:
                outcomes.setdefault(key, "open")
    groups: dict[tuple[str, str], Caught] = {}
    for (resource, rule), outcome in outcomes.items():
        group = groups.setdefault((outcome, resource), Caught(resource, outcome))
        group.rules.append(rule)
        group.note = group.note or notes.get((resource, rule), "")
    for group in groups.values():
        group.rules.sort()
    return sorted(groups.values(), key=lambda c: (OUTCOMES.index(c.outcome), c.resource))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _middle(text: str, width: int) -> str:
    """Shortened in the middle, where resource names repeat themselves (bucket/…/export-2026-12.csv)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def _rules_within(rules: list[str], width: int) -> str:
    """As many rule ids as fit, then "+N more"."""
    shown: list[str] = []
    for index, rule in enumerate(rules):
        rest = len(rules) - index - 1
        candidate = ", ".join([*shown, rule]) + (f" +{rest} more" if rest else "")
        if len(candidate) > width and shown:
            return ", ".join(shown) + f" +{len(rules) - len(shown)} more"
        shown.append(rule)
    return ", ".join(shown)


def summary_lines(
    decisions: list[tuple[str, dict[str, Any]]],
    alerts: list[dict[str, Any]],
    *,
    events: int,
    seconds: float,
    next_steps: list[tuple[str, str]] | None = None,
    width: int = SUMMARY_WIDTH,
) -> list[str]:
    """The one-screen summary that ends the demo (at most ``SUMMARY_LINES`` lines of ``width`` columns): what
    was caught, what was fixed, what is still open or exempt, and what to try next. Made from the handlers'
    results and the alerts alone, so any scenario (one account or several) can end with it."""
    groups = caught(decisions)
    count = {o: sum(len(g.rules) for g in groups if g.outcome == o) for o in OUTCOMES}
    judged = sum(len(r.get("decisions", [])) for _, r in decisions)
    lines = [
        "─" * width,
        _fit(f"Summary: {events} events, {judged} decisions, {len(alerts)} alerts, {seconds:.1f}s", width),
        _fit(
            f"Caught {sum(count.values())} violations on {len({g.resource for g in groups})} resources: "
            f"{count['fixed']} fixed, {count['open']} open (notify mode), {count['exempt']} exempt (left alone)",
            width,
        ),
    ]
    name_width = min(max((len(g.resource) for g in groups), default=0), RESOURCE_WIDTH)
    for group in groups[:SUMMARY_GROUPS]:
        prefix = f"  {group.outcome:<6}  {_middle(group.resource, name_width):<{name_width}}  "
        lines.append(_fit(prefix + _rules_within(group.rules, width - len(prefix)), width))
        if group.note:  # an exemption's reason and end, under its resource
            lines.append(_fit(" " * 10 + group.note, width))
    if len(groups) > SUMMARY_GROUPS:
        lines.append(f"  … and {len(groups) - SUMMARY_GROUPS} more resources (mlwarden history lists them all)")
    fixing = {r for g in groups if g.outcome == "fixed" for r in g.rules}
    still_notify = [r for g in groups if g.outcome == "open" for r in g.rules if r not in fixing]
    steps = next_steps or default_next_steps(sorted(still_notify)[0] if still_notify else "<rule-id>")
    lines.append("Try next:")
    command_width = max(len(command) for command, _ in steps)
    lines += [_fit(f"  {command:<{command_width}}  {why}", width) for command, why in steps]
    return lines[:SUMMARY_LINES]


def default_next_steps(rule: str) -> list[tuple[str, str]]:
    """What to try after the demo: switch a rule still in notify mode, the report, and the real deployment."""
    return [
        (f"mlwarden toggle {rule} remediate", "let that rule fix what it finds (no redeploy)"),
        ("mlwarden demo --keep-running", "keep the local account up for report/history"),
        ("mlwarden report --output report.html", "the compliance report of your own account"),
        ("cdk deploy", "deploy: every rule notifies until toggled"),
    ]


def wait_until_stopped() -> None:
    """Keep the local account up until Ctrl-C, or SIGTERM (``kill``; or a shell that started the demo in the
    background, where Ctrl-C does not reach it)."""
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(keep_running: bool = False, fresh: bool = False) -> int:
    use_local_credentials(REGION)
    say = Narrator()
    started = time.monotonic()
    say.line(
        "[bold]mlwarden demo[/] — guardrails for AI/ML on a local AWS account"
        if say.console
        else "mlwarden demo — guardrails for AI/ML on a local AWS account"
    )
    say.step("1. Synthesize the CDK app and deploy its wiring onto a local account (moto server)")
    say.progress("synthesizing the CDK app (the same template `cdk deploy` would use)…")
    template, from_cache = cached_template(DEMO_CONTEXT, fresh=fresh)
    if from_cache:
        say.progress("the app, cdk.json and the rules are unchanged since the last synthesis: its template is reused")
        say.progress("(`mlwarden demo --fresh` synthesizes again); starting a local AWS account (moto server)…")
    else:
        say.progress(f"synthesized in {time.monotonic() - started:.1f}s; starting a local AWS account (moto server)…")
    with moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        say.progress("deploying the template: functions, EventBridge rules, topic, tables, switches…")
        # Lambda-style JSON logs and EMF metrics would drown the story; the demo prints its own account.
        dep = LocalDeployment(template, endpoint, quiet=True).deploy()
        n_rules = sum(1 for _ in dep.of_type("AWS::Events::Rule"))
        say.line(
            f"   local account at {endpoint}; from the template: {len(dep.functions)} rule functions, "
            f"{n_rules} EventBridge rules, topic {dep.topic_arn.split(':')[-1]}"
        )
        modes = deployed_modes(dep)
        for function in dep.functions.values():
            say.line(f"   {function.rule_id:<36} mode {modes.get(function.rule_id, 'not deployed')}")
        result = run_scenario(dep, say)
        say.line()
        for line in summary_lines(
            result.decisions, result.alerts, events=result.events_sent, seconds=time.monotonic() - started
        ):
            say.plain(line)
        if keep_running:
            say.line()
            for line in keep_running_lines(endpoint, audit_table_of(dep)):
                say.line(line)
            wait_until_stopped()
    return 0
