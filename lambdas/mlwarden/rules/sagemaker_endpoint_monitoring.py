"""SageMaker endpoints must capture inference data and keep their Model Monitor / Clarify schedules running.

An endpoint is non-compliant when:

- its endpoint config has no DataCaptureConfig, or capture is disabled/stopped (judged on the config going live
  when an UpdateEndpoint is still deploying);
- a monitoring type required by cdk.json ``endpointMonitoring`` (default ``["DataQuality"]``; any of
  DataQuality, ModelQuality, ModelBias, ModelExplainability) has no Scheduled/Pending schedule on it;
- any schedule on it is Stopped (someone switched monitoring off).

Remediation starts Stopped schedules (StartMonitoringSchedule); nothing else can be fixed in place safely —
data capture lives in an immutable endpoint config and a schedule needs a baseline and job definition only
its owner knows — so the alert says exactly what to create.

Stop/DeleteMonitoringSchedule events name a schedule, not an endpoint: they are reported against the schedule
(``AWS::SageMaker::MonitoringSchedule``) and the verdict covers the endpoint it monitors, found with
DescribeMonitoringSchedule or, once deleted, with the schedule's execution history (ListMonitoringExecutions
keeps the endpoint name after the schedule is gone). A deleted schedule that never ran names no endpoint: that
decision is NOT_APPLICABLE, and ``mlwarden scan`` judges every endpoint.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlwarden.core import events
from mlwarden.core.context import RuleContext
from mlwarden.core.errors import error_code, error_message
from mlwarden.core.model import (
    COMPLIANT,
    NON_COMPLIANT,
    Evaluation,
    RemediationResult,
    ResourceGone,
    ResourceRef,
)
from mlwarden.core.spec import CloudTrailTrigger, Option, Permissions, Rule, RuleSpec

ENDPOINT_TYPE = "AWS::SageMaker::Endpoint"
SCHEDULE_TYPE = "AWS::SageMaker::MonitoringSchedule"
MONITORING_TYPES = ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability")
DEFAULT_REQUIRED = ["DataQuality"]
ACTIVE = ("Scheduled", "Pending")
ENDPOINT_EVENTS = ("CreateEndpoint", "UpdateEndpoint")
SCHEDULE_EVENTS = ("StopMonitoringSchedule", "DeleteMonitoringSchedule")

HOW_TO_CREATE = {
    "DataQuality": "a DataQuality monitoring schedule (baseline with a data quality job, "
    "CreateDataQualityJobDefinition, then CreateMonitoringSchedule MonitoringType=DataQuality)",
    "ModelQuality": "a ModelQuality monitoring schedule (ground-truth labels in S3, "
    "CreateModelQualityJobDefinition, then CreateMonitoringSchedule MonitoringType=ModelQuality)",
    "ModelBias": "a Clarify ModelBias monitoring schedule (CreateModelBiasJobDefinition, "
    "then CreateMonitoringSchedule MonitoringType=ModelBias)",
    "ModelExplainability": "a Clarify ModelExplainability monitoring schedule "
    "(CreateModelExplainabilityJobDefinition, then CreateMonitoringSchedule MonitoringType=ModelExplainability)",
}
ENABLE_CAPTURE = (
    "create an endpoint config with DataCaptureConfig EnableCapture=true (inputs and outputs, an S3 destination) "
    "and switch the endpoint to it with UpdateEndpoint (endpoint configs cannot be changed in place)"
)


def _gone(exc: ClientError) -> bool:
    code, message = error_code(exc), error_message(exc).lower()
    return code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException" and ("could not find" in message or "does not exist" in message)
    )


def endpoint_ref(name: str, region: str, account: str = "", arn: str = "") -> ResourceRef:
    if not arn and account:
        arn = f"arn:aws:sagemaker:{region}:{account}:endpoint/{name.lower()}"
    return ResourceRef(ENDPOINT_TYPE, name, region, account, arn)


def schedule_ref(name: str, region: str, account: str = "", event_name: str = "") -> ResourceRef:
    arn = f"arn:aws:sagemaker:{region}:{account}:monitoring-schedule/{name.lower()}" if account else ""
    return ResourceRef(SCHEDULE_TYPE, name, region, account, arn, context={"event_name": event_name})


def required_types(value: Any) -> tuple[list[str], list[str]]:
    """(required monitoring types, unknown names) from the cdk.json ``endpointMonitoring`` value."""
    names = value if isinstance(value, list) else DEFAULT_REQUIRED
    known = [n for n in MONITORING_TYPES if n in names]
    unknown = [str(n) for n in names if n not in MONITORING_TYPES]
    return known, unknown


def capture_on(capture: dict[str, Any] | None) -> bool:
    return capture is not None and capture.get("EnableCapture") is True and capture.get("CaptureStatus") != "Stopped"


def judge(state: dict[str, Any], required: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Pure verdict: (problems, names of Stopped schedules to start, things a human must do)."""
    problems: list[str] = []
    human: list[str] = []
    capture = state.get("data_capture")
    where = state.get("capture_source") or "the endpoint config"
    if not capture:
        problems.append(f"no DataCaptureConfig in {where}")
        human.append(ENABLE_CAPTURE)
    elif not capture_on(capture):
        status = capture.get("CaptureStatus")
        problems.append(f"data capture is {'stopped' if status == 'Stopped' else 'disabled'} in {where}")
        human.append(ENABLE_CAPTURE)
    schedules = state.get("schedules") or []
    active = {s["MonitoringType"] for s in schedules if s["MonitoringScheduleStatus"] in ACTIVE}
    stopped = [s for s in schedules if s["MonitoringScheduleStatus"] == "Stopped"]
    for schedule in stopped:
        problems.append(f"{schedule['MonitoringType']} schedule {schedule['MonitoringScheduleName']} is Stopped")
    for kind in required:
        if kind in active or any(s["MonitoringType"] == kind for s in stopped):
            continue
        failed = [s["MonitoringScheduleName"] for s in schedules if s["MonitoringType"] == kind]
        if failed:
            problems.append(f"{kind} schedule {', '.join(failed)} is Failed")
            human.append(f"recreate {HOW_TO_CREATE[kind]}")
        else:
            problems.append(f"no {kind} monitoring schedule")
            human.append(f"create {HOW_TO_CREATE[kind]}")
    return problems, [s["MonitoringScheduleName"] for s in stopped], human


class SageMakerEndpointMonitoring(Rule):
    spec = RuleSpec(
        id="sagemaker-endpoint-monitoring",
        title="SageMaker endpoint must capture data and keep its monitoring schedules running",
        severity="MEDIUM",
        resource_type=ENDPOINT_TYPE,
        controls=(),
        permissions=Permissions(
            detect=(
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",  # only while an UpdateEndpoint is deploying a new config
                "sagemaker:ListMonitoringSchedules",
                "sagemaker:DescribeMonitoringSchedule",  # schedule events: which endpoint it monitors
                "sagemaker:ListMonitoringExecutions",  # deleted schedule: its endpoint, from execution history
                "sagemaker:ListTags",
            ),
            remediate=("sagemaker:StartMonitoringSchedule",),
            sweep=("sagemaker:ListEndpoints",),  # `mlwarden scan` only: Config does not record endpoints
            resources=(
                "arn:{partition}:sagemaker:{region}:{account}:endpoint/*",
                "arn:{partition}:sagemaker:{region}:{account}:endpoint-config/*",
                "arn:{partition}:sagemaker:{region}:{account}:monitoring-schedule/*",
            ),
            unscoped=(
                "sagemaker:ListMonitoringSchedules",
                "sagemaker:ListMonitoringExecutions",
                "sagemaker:ListEndpoints",
            ),
        ),
        cloudtrail=(
            CloudTrailTrigger(
                source="aws.sagemaker",
                event_source="sagemaker.amazonaws.com",
                event_names=ENDPOINT_EVENTS + SCHEDULE_EVENTS,
            ),
        ),
        options=(
            Option(
                key="endpointMonitoring",
                default=list(DEFAULT_REQUIRED),
                help="monitoring types every SageMaker endpoint must have a running schedule for: any of "
                "DataQuality, ModelQuality, ModelBias, ModelExplainability",
            ),
        ),
        remediation_summary="StartMonitoringSchedule for Stopped schedules; missing data capture or schedules: "
        "the alert says what to create",
    )

    # ------------------------------------------------------------------------------------------ refs
    def refs_from_event(self, event: dict[str, Any]) -> list[ResourceRef]:
        params = events.request_parameters(event)
        region, account = events.region(event, "us-east-1"), events.account(event)
        name = events.detail(event).get("eventName")
        if name in SCHEDULE_EVENTS:
            schedule = params.get("monitoringScheduleName")
            if isinstance(schedule, str) and schedule:
                return [schedule_ref(schedule, region, account, str(name))]
            return []
        endpoint = params.get("endpointName")
        if not isinstance(endpoint, str) or not endpoint:
            return []
        response = events.detail(event).get("responseElements")
        arn = response.get("endpointArn") if isinstance(response, dict) else ""
        return [endpoint_ref(endpoint, region, account, arn if isinstance(arn, str) else "")]

    def ref_from_arn(self, arn: str, region: str, account: str) -> ResourceRef | None:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "sagemaker" or not parts[5].startswith("endpoint/"):
            return None
        return endpoint_ref(parts[5].split("/", 1)[1], parts[3] or region, parts[4] or account, arn)

    def list_refs(self, ctx: RuleContext, region: str) -> list[ResourceRef]:
        client = ctx.client("sagemaker", region)
        return [
            endpoint_ref(ep["EndpointName"], region, "", ep.get("EndpointArn", ""))
            for page in client.get_paginator("list_endpoints").paginate()
            for ep in page.get("Endpoints", [])
        ]

    # ------------------------------------------------------------------------------------ live state
    def fetch(self, ref: ResourceRef, ctx: RuleContext) -> dict[str, Any]:
        client = ctx.client("sagemaker", ref.region, ref.account)
        schedule: dict[str, Any] | None = None
        endpoint_name = ref.resource_id
        if ref.resource_type == SCHEDULE_TYPE:
            schedule, endpoint_name = self._schedule_and_endpoint(client, ref.resource_id)
        try:
            endpoint = client.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as exc:
            if _gone(exc):
                raise ResourceGone(f"endpoint {endpoint_name}") from exc
            raise
        capture, source = endpoint.get("DataCaptureConfig"), f"endpoint config {endpoint.get('EndpointConfigName')}"
        pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
        if pending and pending != endpoint.get("EndpointConfigName"):
            # An UpdateEndpoint is deploying another config: judge the one going live.
            try:
                capture = client.describe_endpoint_config(EndpointConfigName=pending).get("DataCaptureConfig")
                source = f"endpoint config {pending} (being deployed)"
            except ClientError as exc:
                if not _gone(exc):
                    raise
        schedules = [
            {
                "MonitoringScheduleName": s["MonitoringScheduleName"],
                "MonitoringScheduleArn": s.get("MonitoringScheduleArn", ""),
                # Schedules made before monitoring types existed are data quality schedules.
                "MonitoringType": s.get("MonitoringType") or "DataQuality",
                "MonitoringScheduleStatus": s.get("MonitoringScheduleStatus", ""),
            }
            for page in client.get_paginator("list_monitoring_schedules").paginate(EndpointName=endpoint_name)
            for s in page.get("MonitoringScheduleSummaries", [])
        ]
        return {
            "endpoint_name": endpoint_name,
            "endpoint_arn": endpoint.get("EndpointArn", ""),
            "endpoint_status": endpoint.get("EndpointStatus", ""),
            "data_capture": _capture_summary(capture),
            "capture_source": source,
            "schedules": schedules,
            "schedule": schedule,
        }

    @staticmethod
    def _schedule_and_endpoint(client: Any, name: str) -> tuple[dict[str, Any], str]:
        try:
            described = client.describe_monitoring_schedule(MonitoringScheduleName=name)
            schedule = {
                "MonitoringScheduleName": name,
                "MonitoringScheduleArn": described.get("MonitoringScheduleArn", ""),
                "MonitoringScheduleStatus": described.get("MonitoringScheduleStatus", ""),
            }
            endpoint = described.get("EndpointName")
            if endpoint:
                return schedule, str(endpoint)
            raise ResourceGone(f"monitoring schedule {name} monitors no endpoint (batch transform input)")
        except ClientError as exc:
            if not _gone(exc):
                raise
        # Deleted: its execution history still names the endpoint it monitored.
        executions = client.list_monitoring_executions(MonitoringScheduleName=name, MaxResults=1).get(
            "MonitoringExecutionSummaries", []
        )
        endpoint = next((e.get("EndpointName") for e in executions if e.get("EndpointName")), None)
        if not endpoint:
            raise ResourceGone(
                f"monitoring schedule {name} was deleted before it ever ran, so the endpoint it monitored is "
                "unknown; `mlwarden scan --rule sagemaker-endpoint-monitoring` judges every endpoint"
            )
        return {"MonitoringScheduleName": name, "MonitoringScheduleStatus": "Deleted"}, str(endpoint)

    def evaluate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> Evaluation:
        required, unknown = required_types(ctx.settings.option("endpointMonitoring", DEFAULT_REQUIRED))
        problems, to_start, human = judge(state, required)
        endpoint = state["endpoint_name"]
        note = f" (cdk.json endpointMonitoring names unknown type(s) {', '.join(unknown)}: ignored)" if unknown else ""
        deleted = state.get("schedule") or {}
        if deleted.get("MonitoringScheduleStatus") == "Deleted":
            note += f"; schedule {deleted['MonitoringScheduleName']} was deleted"
        if not problems:
            wanted = ", ".join(required) or "no schedule (none required)"
            return Evaluation(COMPLIANT, f"endpoint {endpoint}: data capture on; running: {wanted}{note}")
        if state.get("endpoint_status") == "Creating" and any(
            p.startswith("no ") and "schedule" in p for p in problems
        ):
            note += " (the endpoint is still Creating: attach its schedules once it is InService)"
        fix = []
        if to_start:
            fix.append(f"start the stopped schedule(s) {', '.join(to_start)} (StartMonitoringSchedule)")
        fix += [f"a human must {step}" for step in dict.fromkeys(human)]
        before = {
            "EndpointName": endpoint,
            "EndpointStatus": state.get("endpoint_status"),
            "DataCapture": state.get("data_capture"),
            "MonitoringSchedules": state.get("schedules"),
            "RequiredMonitoring": required,
        }
        return Evaluation(NON_COMPLIANT, f"endpoint {endpoint}: {'; '.join(problems)}{note}", "; ".join(fix), before)

    def remediate(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> RemediationResult:
        current = self.fetch(ref, ctx)
        required, _ = required_types(ctx.settings.option("endpointMonitoring", DEFAULT_REQUIRED))
        problems, to_start, human = judge(current, required)
        if not problems:
            return RemediationResult("already compliant: nothing changed", _after(current))
        client = ctx.client("sagemaker", ref.region, ref.account)
        for name in to_start:
            client.start_monitoring_schedule(MonitoringScheduleName=name)
        started = {name: "Scheduled" for name in to_start}
        after = _after(current, started)
        steps = dict.fromkeys(human)
        if to_start and not steps:
            return RemediationResult(f"started the stopped schedule(s) {', '.join(to_start)}", after)
        still = "; ".join(f"a human must {step}" for step in steps)
        if to_start:
            return RemediationResult(
                f"started the stopped schedule(s) {', '.join(to_start)}; {still}", after, done=False
            )
        return RemediationResult(f"nothing mlwarden can fix in place: {still}", after, done=False)

    def read_tags(self, ref: ResourceRef, state: dict[str, Any], ctx: RuleContext) -> dict[str, str]:
        """The endpoint's tags (also for schedule events: the endpoint is what is governed)."""
        client = ctx.client("sagemaker", ref.region, ref.account)
        tags: dict[str, str] = {}
        for page in client.get_paginator("list_tags").paginate(ResourceArn=state["endpoint_arn"]):
            tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        return tags

    def arn(self, ref: ResourceRef, state: dict[str, Any]) -> str:
        if ref.resource_type == SCHEDULE_TYPE:
            return str((state.get("schedule") or {}).get("MonitoringScheduleArn") or ref.arn)
        return str(state.get("endpoint_arn") or ref.arn)

    def details(self, ref: ResourceRef, state: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"endpoint": state.get("endpoint_name")}
        if ref.resource_type == SCHEDULE_TYPE:
            out["event"] = ref.context.get("event_name", "")
        return out

    def console_url(self, ref: ResourceRef) -> str:
        base = f"https://{ref.region}.console.aws.amazon.com/sagemaker/home?region={ref.region}"
        if ref.resource_type == SCHEDULE_TYPE:
            return f"{base}#/endpoints"
        return f"{base}#/endpoints/{ref.resource_id}"


def _capture_summary(capture: dict[str, Any] | None) -> dict[str, Any] | None:
    if not capture:
        return None
    keys = ("EnableCapture", "CaptureStatus", "CurrentSamplingPercentage", "InitialSamplingPercentage")
    summary = {k: capture[k] for k in keys if k in capture}
    summary["DestinationS3Uri"] = capture.get("DestinationS3Uri")
    return summary


def _after(state: dict[str, Any], started: dict[str, str] | None = None) -> dict[str, Any]:
    started = started or {}
    return {
        "DataCapture": state.get("data_capture"),
        "MonitoringSchedules": [
            {**s, "MonitoringScheduleStatus": started.get(s["MonitoringScheduleName"], s["MonitoringScheduleStatus"])}
            for s in state.get("schedules") or []
        ],
    }


RULE = SageMakerEndpointMonitoring()
