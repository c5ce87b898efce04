"""SageMaker training (and processing) jobs must run isolated and encrypted.

Checks, each switchable with the cdk.json option ``trainingJobChecks`` (default: all five):

- ``interContainerTrafficEncryption``: EnableInterContainerTrafficEncryption when the job runs on 2+ instances
  (a single instance has no traffic between containers; AWS Config's Model Monitor rules judge the same way);
- ``networkIsolation``: EnableNetworkIsolation (the container gets no network access);
- ``vpcConfig``: VpcConfig with subnets of the customer's VPC;
- ``volumeKmsKey``: a customer KMS key for the ML storage volume (VolumeKmsKeyId);
- ``outputKmsKey``: a customer KMS key for the output in S3 (OutputDataConfig / ProcessingOutputConfig KmsKeyId).

A job's settings cannot be changed once it is created. Remediation stops a job that is still InProgress
(StopTrainingJob / StopProcessingJob) so it is rerun with the settings fixed; nothing is ever deleted.
"""

from __future__ import annotations

from typing import Any

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.model import COMPLIANT, NON_COMPLIANT, Evaluation, RemediationResult, ResourceRef
from mlwarden.core.spec import CloudTrailTrigger, Option, Permissions, Rule, RuleSpec
from mlwarden.rules import _sagemaker

TRAINING_JOB_TYPE = _sagemaker.TRAINING_JOB_TYPE
PROCESSING_JOB_TYPE = _sagemaker.PROCESSING_JOB_TYPE
OPTION = "trainingJobChecks"
CHECKS = ("interContainerTrafficEncryption", "networkIsolation", "vpcConfig", "volumeKmsKey", "outputKmsKey")
FIXES = {
    "interContainerTrafficEncryption": "EnableInterContainerTrafficEncryption",
    "networkIsolation": "EnableNetworkIsolation",
    "vpcConfig": "VpcConfig (private subnets and security groups of your VPC)",
    "volumeKmsKey": "a customer KMS key for the storage volume (VolumeKmsKeyId; instance types with local NVMe "
    "storage encrypt it in hardware and take none)",
    "outputKmsKey": "a customer KMS key for the output (KmsKeyId)",
}
RUNNING = "InProgress"
STOPPED = ("Stopping", "Stopped")


# ------------------------------------------------------------------------------------- facts (pure)
def _instances(*counts: Any) -> int:
    return sum(c for c in counts if isinstance(c, int))


def training_facts(job: dict[str, Any]) -> dict[str, Any]:
    """The settings the checks judge, from DescribeTrainingJob (JSON-safe)."""
    resources = job.get("ResourceConfig") or {}
    groups = resources.get("InstanceGroups") or []
    return {
        "JobType": "training",
        "Arn": job.get("TrainingJobArn", ""),
        "Status": job.get("TrainingJobStatus", "unknown"),
        "InstanceCount": _instances(resources.get("InstanceCount"), *(g.get("InstanceCount") for g in groups)),
        "EnableInterContainerTrafficEncryption": bool(job.get("EnableInterContainerTrafficEncryption")),
        "EnableNetworkIsolation": bool(job.get("EnableNetworkIsolation")),
        "Subnets": list((job.get("VpcConfig") or {}).get("Subnets") or []),
        "VolumeKmsKeyId": resources.get("VolumeKmsKeyId") or None,
        "HasOutput": True,  # OutputDataConfig is required for training jobs
        "OutputKmsKeyId": (job.get("OutputDataConfig") or {}).get("KmsKeyId") or None,
    }


def processing_facts(job: dict[str, Any]) -> dict[str, Any]:
    """The settings the checks judge, from DescribeProcessingJob (JSON-safe)."""
    network = job.get("NetworkConfig") or {}
    cluster = (job.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    output = job.get("ProcessingOutputConfig") or {}
    return {
        "JobType": "processing",
        "Arn": job.get("ProcessingJobArn", ""),
        "Status": job.get("ProcessingJobStatus", "unknown"),
        "InstanceCount": _instances(cluster.get("InstanceCount")),
        "EnableInterContainerTrafficEncryption": bool(network.get("EnableInterContainerTrafficEncryption")),
        "EnableNetworkIsolation": bool(network.get("EnableNetworkIsolation")),
        "Subnets": list((network.get("VpcConfig") or {}).get("Subnets") or []),
        "VolumeKmsKeyId": cluster.get("VolumeKmsKeyId") or None,
        "HasOutput": bool(output.get("Outputs")),
        "OutputKmsKeyId": output.get("KmsKeyId") or None,
    }


def failed_checks(facts: dict[str, Any], checks: list[str]) -> dict[str, str]:
    """Check name -> what is wrong, for each configured check the job fails."""
    problems = {
        "interContainerTrafficEncryption": (
            facts["InstanceCount"] > 1 and not facts["EnableInterContainerTrafficEncryption"],
            f"inter-container traffic is not encrypted ({facts['InstanceCount']} instances)",
        ),
        "networkIsolation": (not facts["EnableNetworkIsolation"], "network isolation is off"),
        "vpcConfig": (not facts["Subnets"], "no VpcConfig (the job runs outside your VPC)"),
        "volumeKmsKey": (not facts["VolumeKmsKeyId"], "the storage volume has no customer KMS key"),
        "outputKmsKey": (
            facts["HasOutput"] and not facts["OutputKmsKeyId"],
            "the output in S3 has no customer KMS key",
        ),
    }
    return {name: problems[name][1] for name in CHECKS if name in checks and problems[name][0]}


def configured_checks(value: Any) -> tuple[list[str], list[str]]:
    """(known checks to run, unknown names) from the option's value."""
    names = [value] if isinstance(value, str) else list(value or [])
    return [n for n in CHECKS if n in names], [str(n) for n in names if n not in CHECKS]


class SageMakerTrainingJobSecurity(Rule):
    spec = RuleSpec(
        id="sagemaker-training-job-security",
        title="SageMaker training and processing jobs must run isolated and encrypted",
        severity="MEDIUM",
        resource_type=TRAINING_JOB_TYPE,
        # No Security Hub FSBP control covers training or processing jobs.
        controls=(),
        permissions=Permissions(
            detect=(
                "sagemaker:DescribeTrainingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:ListTags",
            ),
            remediate=("sagemaker:StopTrainingJob", "sagemaker:StopProcessingJob"),
            # `mlwarden scan` only: Config does not record jobs
            sweep=("sagemaker:ListTrainingJobs", "sagemaker:ListProcessingJobs"),
            resources=(
                "arn:{partition}:sagemaker:{region}:{account}:training-job/*",
                "arn:{partition}:sagemaker:{region}:{account}:processing-job/*",
            ),
            unscoped=("sagemaker:ListTrainingJobs", "sagemaker:ListProcessingJobs"),
        ),
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.sagemaker",
                event_source="sagemaker.amazonaws.com",
                event_names=("CreateTrainingJob", "CreateProcessingJob"),
            ),
        ),
        options=(
            Option(
                key=OPTION,
                default=list(CHECKS),
                help="sagemaker-training-job-security checks to apply, among " + ", ".join(CHECKS),
            ),
        ),
        remediation_summary="StopTrainingJob / StopProcessingJob while the job is InProgress; never delete",
    )

    # -- which job ---------------------------------------------------------------------------------------
    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        if events.detail(event).get("eventName") == "CreateProcessingJob":
            return _sagemaker.ref_from_event(event, PROCESSING_JOB_TYPE, "processingJobName")
        return _sagemaker.ref_from_event(event, TRAINING_JOB_TYPE, "trainingJobName")

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        return _sagemaker.ref_from_arn(arn, region, account, TRAINING_JOB_TYPE, PROCESSING_JOB_TYPE)

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        # Only running jobs: a finished job cannot be stopped, and an account keeps years of finished jobs.
        training = _sagemaker.list_refs(
            ctx,
            region,
            TRAINING_JOB_TYPE,
            "list_training_jobs",
            "TrainingJobSummaries",
            "TrainingJobName",
            "TrainingJobArn",
            StatusEquals=RUNNING,
        )
        processing = _sagemaker.list_refs(
            ctx,
            region,
            PROCESSING_JOB_TYPE,
            "list_processing_jobs",
            "ProcessingJobSummaries",
            "ProcessingJobName",
            "ProcessingJobArn",
            StatusEquals=RUNNING,
        )
        return [*training, *processing]

    # -- live state --------------------------------------------------------------------------------------
    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        if ref.resource_type == PROCESSING_JOB_TYPE:
            return processing_facts(
                _sagemaker.describe(ctx, ref, "describe_processing_job", ProcessingJobName=ref.resource_id)
            )
        return training_facts(_sagemaker.describe(ctx, ref, "describe_training_job", TrainingJobName=ref.resource_id))

    def evaluate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> Evaluation:
        checks, unknown = configured_checks(ctx.settings.option(OPTION, list(CHECKS)))
        note = f" (unknown {OPTION} ignored: {', '.join(unknown)})" if unknown else ""
        failed = failed_checks(state, checks)
        kind = f"{state['JobType']} job"
        if not failed:
            return Evaluation(COMPLIANT, f"the {kind} passes the checks {', '.join(checks) or '(none)'}{note}")
        stop = "StopTrainingJob" if state["JobType"] == "training" else "StopProcessingJob"
        action = f"stop the job ({stop}); " if state["Status"] == RUNNING else ""
        fix = (
            f"{action}run it again with {'; '.join(FIXES[name] for name in failed)} "
            "(a job's settings cannot be changed once it is created)"
        )
        before = {k: state[k] for k in state if k not in ("Arn", "JobType")}
        return Evaluation(
            NON_COMPLIANT, f"{'; '.join(failed.values())} ({kind} is {state['Status']}){note}", fix, before
        )

    def remediate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> RemediationResult:
        current = self.fetch(ref, ctx)
        if self.evaluate(ref, current, ctx).compliance == COMPLIANT:
            return RemediationResult("already compliant: nothing changed", {"Status": current["Status"]})
        status = current["Status"]
        if status in STOPPED:
            return RemediationResult(f"the job is already {status}: nothing changed", {"Status": status})
        if status != RUNNING:
            return RemediationResult(
                f"the job had already finished ({status}) so there is nothing to stop; run it again with the "
                "failed checks fixed",
                {"Status": status},
                done=False,
            )
        client = ctx.client("sagemaker", ref.region, ref.account)
        if current["JobType"] == "processing":
            client.stop_processing_job(ProcessingJobName=ref.resource_id)
            what = "StopProcessingJob"
        else:
            client.stop_training_job(TrainingJobName=ref.resource_id)
            what = "StopTrainingJob"
        return RemediationResult(
            f"stopped the job ({what}); run it again with the failed checks fixed",
            {"Status": "Stopping"},
        )

    def read_tags(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> dict[str, str]:
        return _sagemaker.tags(ctx, ref, self.arn(ref, state))

    def arn(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        return str(state.get("Arn") or ref.arn)

    def details(self, ref: ResourceRef, state: dict[str, Any]) -> dict[str, Any]:
        return {"job_type": state.get("JobType"), "job_status": state.get("Status")}

    def console_url(self, ref: ResourceRef) -> str:
        return _sagemaker.console_url(ref)


RULE = SageMakerTrainingJobSecurity()
