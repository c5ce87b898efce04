"""``GuardedRule``: everything one rule needs, derived from its spec.

A rule gets its own Lambda function (on the shared code asset), log group, IAM role, dead-letter queue,
EventBridge rules (one per pattern from ``rule_patterns(spec)``: its triggers merged, usually into one),
optional custom AWS Config rule, the SSM mode parameter and its CloudWatch alarms (``ALARM_SIGNALS``). The
role holds exactly the spec's actions plus ``ENGINE_ACTIONS``; nothing else can add to it (see
``GuardedRule._function``).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aws_cdk import Aws, Duration, Names, RemovalPolicy, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_config as config
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlwarden.core.events import scheduled_sweep_input
from mlwarden.core.patterns import Deployment, rule_patterns
from mlwarden.core.settings import (
    ALLOW_REMEDIATION_TAG,
    RuleSettings,
    Settings,
    SettingsError,
    mode_parameter_name,
    resource_name,
    runtime_settings_for,
)
from mlwarden.core.spec import PASS_ROLE, STACK_RESOURCES, RuleSpec, SweepTrigger
from mlwarden_cdk.nag import acknowledge

HANDLER = "mlwarden.handler.handler"
RUNTIME = lambda_.Runtime.PYTHON_3_13
MEMORY_MB = 256
TIMEOUT = Duration.minutes(2)
LOG_RETENTION = logs.RetentionDays.ONE_YEAR

# EventBridge -> Lambda delivery: retried for up to two hours, then parked in the rule's dead-letter queue.
EVENT_RETRY_ATTEMPTS = 4
EVENT_MAX_AGE = Duration.hours(2)
# Lambda's own retries of a failed asynchronous invocation, then the same dead-letter queue.
ASYNC_RETRY_ATTEMPTS = 2
DLQ_RETENTION = Duration.days(14)

POWERTOOLS_ENV = {
    "POWERTOOLS_SERVICE_NAME": "mlwarden",
    "POWERTOOLS_METRICS_NAMESPACE": "mlwarden",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}

# What every rule function needs besides its spec's actions; each is granted on the stack's own resources.
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")  # its own log group
ALERT_ACTIONS = ("sns:Publish",)  # the alert topic
# The stack key: encrypted topic, queue, quarantine bucket, and the tables (DynamoDB decrypts the table key
# with the caller's permission).
KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
SWITCH_ACTIONS = ("ssm:GetParameter",)  # its mode parameter and the kill switch
DEAD_LETTER_ACTIONS = ("sqs:SendMessage",)  # its dead-letter queue (on-failure destination)
# The idempotency table: what Powertools Idempotency's DynamoDB persistence layer calls.
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# The audit table: decisions (PutItem) and remediation counters (UpdateItem). Nothing reads it from a function:
# `mlwarden history` reads with the user's own credentials.
AUDIT_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem")
ENGINE_ACTIONS: tuple[str, ...] = tuple(
    dict.fromkeys(
        LOG_ACTIONS
        + ALERT_ACTIONS
        + KEY_ACTIONS
        + SWITCH_ACTIONS
        + DEAD_LETTER_ACTIONS
        + IDEMPOTENCY_ACTIONS
        + AUDIT_ACTIONS
    )
)
# Added when the spec has a Config trigger. AWS Config has no resource-level permissions for these two.
CONFIG_ENGINE_ACTIONS: tuple[str, ...] = ("config:PutEvaluations", "config:GetResourceConfigHistory")
# Added when cdk.json securityHub is true: import verdicts as findings of this account's default product.
SECURITY_HUB_ACTIONS: tuple[str, ...] = ("securityhub:BatchImportFindings",)

# S3 actions on wildcard bucket / object ARNs are allowed only on buckets of the deployment's own account.
S3_RESOURCE_ACCOUNT = "s3:ResourceAccount"

# Alarms: one per rule per signal, evaluated over one 5-minute period, raised at the first occurrence.
ALARM_PERIOD = Duration.minutes(5)
ALARM_THRESHOLD = 1
# Powertools Metrics (EMF) of the handler: the namespace, and the "service" dimension next to "rule_id".
METRICS_NAMESPACE = POWERTOOLS_ENV["POWERTOOLS_METRICS_NAMESPACE"]
METRICS_SERVICE = POWERTOOLS_ENV["POWERTOOLS_SERVICE_NAME"]
# Alarm name suffix (mlwarden-<rule-id>-<suffix>) -> the handler's custom metric it watches, and what it means.
CUSTOM_METRIC_ALARMS = {
    "failures": ("Failures", "a decision ended as failed (the alert names the denied or failing call)"),
    "flapping": (
        "Flapping",
        "something keeps undoing the fix, so mlwarden stopped remediating the resource; find who reverts it "
        "(the audit table records the causing principal)",
    ),
}
ALARM_SIGNALS = ("dead-letters", "errors", "throttles", *CUSTOM_METRIC_ALARMS)
# Organization mode only: a member account's role for the rule is missing or refuses its function
# (mlwarden.handler counts MemberRoleFailures); the decision is failed and alerted, this alarm says it goes on.
MEMBER_ROLE_ALARM = (
    "member-roles",
    "MemberRoleFailures",
    "a member account's role for this rule is missing or refuses its central function, so the rule cannot act "
    "there (the failed alert names the account and the role); check the StackSet instance of that account",
)

CONFIG_FREQUENCIES = {
    "One_Hour": config.MaximumExecutionFrequency.ONE_HOUR,
    "Three_Hours": config.MaximumExecutionFrequency.THREE_HOURS,
    "Six_Hours": config.MaximumExecutionFrequency.SIX_HOURS,
    "Twelve_Hours": config.MaximumExecutionFrequency.TWELVE_HOURS,
    "TwentyFour_Hours": config.MaximumExecutionFrequency.TWENTY_FOUR_HOURS,
}

# How cdk-nag prints the pseudo parameters inside a resource ARN (for IAM5 finding ids).
_NAG_PLACEHOLDERS = {
    "partition": "<AWS::Partition>",
    "region": "<AWS::Region>",
    "account": "<AWS::AccountId>",
}
_AWS_PLACEHOLDERS = {"partition": Aws.PARTITION, "region": Aws.REGION, "account": Aws.ACCOUNT_ID}


# configFrequency (the periodic Config rules' frequency) in hours, for the scheduled sweeps.
SWEEP_HOURS = {"One_Hour": 1, "Three_Hours": 3, "Six_Hours": 6, "Twelve_Hours": 12, "TwentyFour_Hours": 24}


def config_frequency(value: str) -> config.MaximumExecutionFrequency:
    try:
        return CONFIG_FREQUENCIES[value]
    except KeyError:
        raise SettingsError(
            f"cdk.json mlwarden.configFrequency is {value!r}; use one of {', '.join(CONFIG_FREQUENCIES)}"
        ) from None


def construct_id(rule_id: str) -> str:
    """``example-rule-id`` -> ``ExampleRuleId``."""
    return "".join(word[:1].upper() + word[1:] for word in rule_id.split("-"))


@dataclass(frozen=True)
class SharedResources:
    """What the stack creates once and every rule uses."""

    settings: Settings
    key: kms.IKey
    topic: sns.ITopic
    alarm_topic: sns.ITopic
    idempotency_table: dynamodb.ITable
    audit_table: dynamodb.ITable
    code: lambda_.Code
    powertools_layer: lambda_.ILayerVersion
    kill_switch: ssm.IStringParameter
    config_frequency: config.MaximumExecutionFrequency
    quarantine_bucket: s3.IBucket | None = None
    # Organization mode (mlwarden_cdk/organization.py): the bus the member accounts forward their events to.
    central_bus: events.IEventBus | None = None


@dataclass(frozen=True)
class GrantedActions:
    """The spec's actions this deployment grants: on the spec's resources, and on "*" (``unscoped``)."""

    scoped: tuple[str, ...]
    unscoped: tuple[str, ...]

    @classmethod
    def of(cls, spec: RuleSpec, rule_settings: RuleSettings, settings: Settings) -> GrantedActions:
        perms = spec.permissions
        actions = list(perms.detect)
        if spec.sweeps_periodically or settings.organization is not None:
            # Organization mode: every rule sweeps the member accounts on a schedule (mlwarden_cdk/organization.py).
            actions += perms.sweep  # the periodic Config rule or the schedule sweeps through this function
        if rule_settings.allow_remediation:
            actions += perms.remediate
        for feature, feature_actions in perms.features:
            if not hasattr(settings, feature):
                raise ValueError(f"{spec.id}: permission feature {feature!r} is not a setting of mlwarden")
            # Feature actions are remediation actions: allowRemediation false withholds them too.
            if getattr(settings, feature) and rule_settings.allow_remediation:
                actions += feature_actions
        granted = tuple(dict.fromkeys(actions))
        return cls(
            scoped=tuple(a for a in granted if a not in perms.unscoped),
            unscoped=tuple(a for a in granted if a in perms.unscoped),
        )


class GuardedRule(Construct):
    """One rule deployed: function, role, log group, dead-letter queue, triggers and SSM mode switch."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: RuleSpec,
        rule_settings: RuleSettings,
        shared: SharedResources,
    ) -> None:
        super().__init__(scope, id)
        self.spec = spec
        self.rule_settings = rule_settings
        settings = shared.settings

        self.dead_letter_queue = dead_letter_queue(self, shared)
        self.log_group = log_group(self, shared)
        allow = "true" if rule_settings.allow_remediation else "false"
        self.mode_parameter = ssm.StringParameter(
            self,
            "Mode",
            parameter_name=mode_parameter_name(spec.id),
            string_value=rule_settings.mode,
            description=f"mlwarden {spec.id} mode: off, notify or remediate. allowRemediation={allow}",
        )
        Tags.of(self.mode_parameter).add(ALLOW_REMEDIATION_TAG, allow)

        self.granted = GrantedActions.of(spec, rule_settings, settings)
        from mlwarden_cdk import organization  # organization mode: the hooks below do nothing without the block

        self.role = iam.Role(
            self,
            "Role",
            role_name=organization.central_role_name_of(spec, settings),
            description=f"mlwarden {spec.id}: "
            + ("detect and remediate" if rule_settings.allow_remediation else "detect"),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={
                "mlwarden-rule": iam.PolicyDocument(
                    statements=self._statements(shared) + organization.central_statements(spec, settings)
                )
            },
        )
        self._acknowledge_role_wildcards(shared)
        organization.acknowledge_central_wildcards(self.role, spec, settings)

        environment = runtime_settings_for(
            spec,
            settings,
            topic_arn=shared.topic.topic_arn,
            quarantine_bucket=shared.quarantine_bucket.bucket_name if shared.quarantine_bucket else None,
            idempotency_table=shared.idempotency_table.table_name,
            audit_table=shared.audit_table.table_name,
            own_role_arn=self.role.role_arn,
            account=Aws.ACCOUNT_ID,
        ).to_env()
        environment.update(POWERTOOLS_ENV)
        environment.update(organization.function_environment(spec, settings))
        self.function = self._function(shared, environment)

        # The loop guard drops only this function's own calls; findings about other accounts are not routed.
        deployment = Deployment(role_arn=self.role.role_arn, account=Aws.ACCOUNT_ID)
        self.event_rules = [
            self._event_rule(index, pattern) for index, pattern in enumerate(rule_patterns(spec, deployment))
        ]
        self.central_bus_rules = organization.central_bus_rules(self, shared)

        self.config_rule: config.CustomRule | None = None
        if spec.config:
            self.config_rule = config.CustomRule(
                self,
                "ConfigRule",
                config_rule_name=resource_name(spec.id),
                description=f"mlwarden {spec.id}: {spec.title}",
                lambda_function=self.function,
                configuration_changes=True,
                periodic=spec.config.periodic,
                maximum_execution_frequency=shared.config_frequency if spec.config.periodic else None,
                rule_scope=config.RuleScope.from_resources(
                    [config.ResourceType.of(resource_type) for resource_type in spec.config.resource_types]
                ),
            )

        sweep = spec.sweep or organization.organization_sweep(spec, settings)
        self.sweep_schedule = self._sweep_schedule(shared, sweep) if sweep else None

        self.alarms = self._alarms(shared)

        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the rule's EventBridge targets and of the "
            "function's failed asynchronous invocations; cdk-nag only recognises SQS redrive DLQs.",
        )

    # -- scheduled sweep -------------------------------------------------------------------------------
    def _sweep_schedule(self, shared: SharedResources, sweep: SweepTrigger) -> scheduler.CfnSchedule:
        """The backstop for types AWS Config does not record: an EventBridge Scheduler schedule (not a rule on
        the event bus, whose quota the event rules use) that invokes the function with a sweep input at the
        cdk.json configFrequency. Failed invocations go, after the retries, to the rule's dead-letter queue."""
        role = iam.Role(
            self,
            "SweepScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"EventBridge Scheduler invokes mlwarden {self.spec.id} for its periodic sweep",
        )
        # Exact grants (no version wildcard, no key action wildcard): invoke this function, send to its DLQ.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTheRulesFunction", actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendFailuresToDeadLetterQueue",
                actions=list(DEAD_LETTER_ACTIONS),
                resources=[self.dead_letter_queue.queue_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="UseStackKey", actions=list(KEY_ACTIONS), resources=[shared.key.key_arn])
        )
        hours = SWEEP_HOURS[shared.settings.config_frequency]
        return scheduler.CfnSchedule(
            self,
            "SweepSchedule",
            # Named (in the default group) so that the tamper watch knows it: see mlwarden.core.tamper.
            name=resource_name(self.spec.id),
            description=f"mlwarden {self.spec.id}: periodic sweep of {', '.join(sweep.resource_types)}",
            schedule_expression=f"rate({hours} hour{'s' if hours > 1 else ''})",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(
                mode="FLEXIBLE", maximum_window_in_minutes=min(hours * 60 // 4, 240)
            ),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.function.function_arn,
                role_arn=role.role_arn,
                input=Stack.of(self).to_json_string(scheduled_sweep_input(self.spec.id, Aws.ACCOUNT_ID, Aws.REGION)),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            ),
        )

    # -- IAM --------------------------------------------------------------------------------------------
    def _statements(self, shared: SharedResources) -> list[iam.PolicyStatement]:
        placeholders = self._placeholders(shared, _AWS_PLACEHOLDERS, lambda value: value)
        statements = rule_action_statements(self.spec, self.granted, [placeholders])
        statements += [
            iam.PolicyStatement(
                sid="WriteOwnLogs", actions=list(LOG_ACTIONS), resources=[self.log_group.log_group_arn]
            ),
            iam.PolicyStatement(sid="PublishAlerts", actions=list(ALERT_ACTIONS), resources=[shared.topic.topic_arn]),
            iam.PolicyStatement(sid="UseStackKey", actions=list(KEY_ACTIONS), resources=[shared.key.key_arn]),
            iam.PolicyStatement(
                sid="ReadModeAndKillSwitch",
                actions=list(SWITCH_ACTIONS),
                resources=[self.mode_parameter.parameter_arn, shared.kill_switch.parameter_arn],
            ),
            iam.PolicyStatement(
                sid="SendFailuresToDeadLetterQueue",
                actions=list(DEAD_LETTER_ACTIONS),
                resources=[self.dead_letter_queue.queue_arn],
            ),
            # The tables themselves only: the functions never query the audit table's index.
            iam.PolicyStatement(
                sid="ActOncePerDelivery",
                actions=list(IDEMPOTENCY_ACTIONS),
                resources=[shared.idempotency_table.table_arn],
            ),
            iam.PolicyStatement(
                sid="WriteAuditTrail", actions=list(AUDIT_ACTIONS), resources=[shared.audit_table.table_arn]
            ),
        ]
        if self.spec.config:
            statements.append(
                iam.PolicyStatement(sid="ReportConfigEvaluations", actions=list(CONFIG_ENGINE_ACTIONS), resources=["*"])
            )
        if shared.settings.security_hub:
            statements.append(
                iam.PolicyStatement(
                    sid="ImportFindingsToSecurityHub",
                    actions=list(SECURITY_HUB_ACTIONS),
                    resources=[
                        f"arn:{Aws.PARTITION}:securityhub:{Aws.REGION}:{Aws.ACCOUNT_ID}:product/{Aws.ACCOUNT_ID}/default"
                    ],
                )
            )
        return statements

    def _scoped_groups(self) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        return scoped_groups(self.spec, self.granted)

    def _placeholders(
        self, shared: SharedResources, base: dict[str, str], render: Callable[[str], str]
    ) -> dict[str, str | None]:
        """What a spec's resource templates may name: pseudo parameters and the stack's own resources
        (``STACK_RESOURCES``; None where this deployment does not create the resource)."""
        bucket = shared.quarantine_bucket
        stack_resources = {"quarantine_bucket": render(bucket.bucket_name) if bucket is not None else None}
        assert set(stack_resources) == set(STACK_RESOURCES), "a stack resource a spec may name is not filled in"
        return {**base, **stack_resources}

    def _acknowledge_role_wildcards(self, shared: SharedResources) -> None:
        """One acknowledgement per wildcard resource the role holds, with the reason it cannot be narrower."""
        spec = self.spec
        reasons: dict[str, list[str]] = {}
        placeholders = self._placeholders(
            shared, _NAG_PLACEHOLDERS, lambda token: self._nag_reference(token, shared.quarantine_bucket)
        )
        for _, actions, resources in self._scoped_groups():
            for resource in resources:
                if "*" in resource:
                    reasons.setdefault(_fill(resource, placeholders, spec.id), []).append(
                        f"{', '.join(actions)} act on whichever {spec.resource_type} an event, "
                        "a Config evaluation or a scan names, known only at run time"
                    )
        if self.granted.unscoped:
            reasons.setdefault("*", []).append(
                f"{', '.join(self.granted.unscoped)} support no resource-level permissions"
            )
        if spec.config:
            reasons.setdefault("*", []).append(
                f"{', '.join(CONFIG_ENGINE_ACTIONS)} (reporting Config evaluations) support no "
                "resource-level permissions"
            )
        for resource, why in reasons.items():
            acknowledge(self.role, f"AwsSolutions-IAM5[Resource::{resource}]", f"{spec.id}: " + "; ".join(why) + ".")

    def _nag_reference(self, token: str, resource: Construct | None) -> str:
        """How cdk-nag prints a reference to ``resource`` (of the root stack) inside an ARN: ``<LogicalId>``
        in the root stack; in a rule's nested stack, the parameter CDK passes it in:
        ``<referenceto<unique id of the resource>Ref>``."""
        if resource is not None and Stack.of(resource) is not Stack.of(self):
            cfn_resource = resource.node.default_child or resource
            return f"<referenceto{Names.node_unique_id(cfn_resource.node)}Ref>"
        resolved = Stack.of(self).resolve(token)
        if isinstance(resolved, dict) and set(resolved) == {"Ref"}:
            return f"<{resolved['Ref']}>"
        raise ValueError(f"cannot name {resolved!r} in a cdk-nag finding id")

    # -- function and triggers ------------------------------------------------------------------------
    def _function(self, shared: SharedResources, environment: dict[str, str]) -> lambda_.Function:
        return mlwarden_function(
            self,
            name=resource_name(self.spec.id),
            description=f"mlwarden {self.spec.id}: {self.spec.title}",
            handler=HANDLER,
            shared=shared,
            role=self.role,
            log_group=self.log_group,
            dead_letter_queue=self.dead_letter_queue,
            environment=environment,
        )

    # -- alarms ---------------------------------------------------------------------------------------
    def _alarms(self, shared: SharedResources) -> dict[str, cloudwatch.Alarm]:
        """One alarm per signal of ``ALARM_SIGNALS`` (and ``MEMBER_ROLE_ALARM`` in organization mode), each
        notifying the alarm topic."""
        rule_id = self.spec.id
        metrics: dict[str, tuple[cloudwatch.IMetric, str]] = {
            "dead-letters": (
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic="Maximum"
                ),
                "events for this rule failed every retry and wait in its dead-letter queue; read them, fix the "
                "cause, then redrive the queue",
            ),
            "errors": (
                self.function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                "the function raised an error (Lambda and EventBridge retry, then the dead-letter queue); "
                "see its log group",
            ),
            "throttles": (
                self.function.metric_throttles(period=ALARM_PERIOD, statistic="Sum"),
                "Lambda throttled the function (account concurrency); events are retried, then dead-lettered",
            ),
        }
        custom = dict(CUSTOM_METRIC_ALARMS)
        if shared.settings.organization is not None:
            suffix, metric_name, what = MEMBER_ROLE_ALARM
            custom[suffix] = (metric_name, what)
        for suffix, (metric_name, what) in custom.items():
            metric = cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=metric_name,
                dimensions_map={"rule_id": rule_id, "service": METRICS_SERVICE},
                period=ALARM_PERIOD,
                statistic="Sum",
            )
            metrics[suffix] = (metric, what)
        return {
            suffix: first_occurrence_alarm(
                self,
                f"Alarm{construct_id(suffix)}",
                name=f"mlwarden-{rule_id}-{suffix}",
                description=f"mlwarden {rule_id}: {metrics[suffix][1]}.",
                metric=metrics[suffix][0],
                alarm_topic=shared.alarm_topic,
            )
            for suffix in metrics
        }

    def _event_rule(self, index: int, pattern: dict[str, object]) -> events.CfnRule:
        # L1 on purpose: the pattern from rule_patterns(spec) goes into the template exactly as computed.
        return event_rule(
            self,
            f"Event{index}",
            name=resource_name(self.spec.id, index),
            description=f"mlwarden {self.spec.id}: trigger {index + 1}",
            pattern=pattern,
            function=self.function,
            dead_letter_queue=self.dead_letter_queue,
            target_id="RuleFunction",
            queue_sid=f"EventBridgeTrigger{index}",
        )


def scoped_groups(spec: RuleSpec, granted: GrantedActions) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(sid, actions, resource templates) of the granted resource-level actions: the spec's resources, then
    one group per narrower resource set of ``Permissions.action_resources``."""
    perms = spec.permissions
    groups: dict[tuple[str, ...], list[str]] = {}
    for action in granted.scoped:
        groups.setdefault(perms.resources_of(action), []).append(action)
    out = []
    if perms.resources in groups:
        out.append(("RuleActions", tuple(groups.pop(perms.resources)), perms.resources))
    for index, (resources, actions) in enumerate(groups.items(), start=1):
        out.append((f"RuleActionsOnNarrowerResources{index}", tuple(actions), resources))
    return out


def rule_action_statements(
    spec: RuleSpec, granted: GrantedActions, placeholders: list[Mapping[str, str | None]]
) -> list[iam.PolicyStatement]:
    """The statements granting the rule's own actions (its spec's, as ``granted``): each resource template
    filled in once per placeholder set (the function: its own account and Region; a member role of the
    organization template: its account, in each Region of the organization). Nothing of the stack's plumbing."""
    statements = []
    for sid, actions, templates in scoped_groups(spec, granted):
        resources = list(dict.fromkeys(_fill(t, p, spec.id) for t in templates for p in placeholders))
        if PASS_ROLE in actions:
            # Roles may be passed only to the services the spec names (iam:PassedToService).
            statements.append(
                iam.PolicyStatement(
                    sid=f"{sid}PassRole",
                    actions=[PASS_ROLE],
                    resources=resources,
                    conditions={"StringEquals": {"iam:PassedToService": list(spec.permissions.passed_to)}},
                )
            )
            actions = tuple(a for a in actions if a != PASS_ROLE)
            if not actions:
                continue
        statements += _account_bound_statements(sid, actions, templates, resources)
    if granted.unscoped:
        statements.append(
            iam.PolicyStatement(
                sid="RuleActionsWithoutResourceLevelPermissions",
                actions=list(granted.unscoped),
                resources=["*"],
            )
        )
    return statements


def dead_letter_queue(scope: Construct, shared: SharedResources) -> sqs.Queue:
    """A function's dead-letter queue: KMS-encrypted with the stack key, TLS only."""
    return sqs.Queue(
        scope,
        "DeadLetterQueue",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=shared.key,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )


def log_group(scope: Construct, shared: SharedResources) -> logs.LogGroup:
    """A function's log group: encrypted with the stack key, kept when the stack goes."""
    return logs.LogGroup(
        scope,
        "LogGroup",
        retention=LOG_RETENTION,
        encryption_key=shared.key,
        removal_policy=RemovalPolicy.RETAIN,
    )


def mlwarden_function(
    scope: Construct,
    *,
    name: str,
    description: str,
    handler: str,
    shared: SharedResources,
    role: iam.Role,
    log_group: logs.LogGroup,
    dead_letter_queue: sqs.Queue,
    environment: dict[str, str],
) -> lambda_.Function:
    """A function on the shared code asset and Powertools layer; failed asynchronous invocations go to its
    dead-letter queue after the retries."""
    function = lambda_.Function(
        scope,
        "Function",
        function_name=name,
        description=description[:256],
        runtime=RUNTIME,
        architecture=lambda_.Architecture.X86_64,
        handler=handler,
        code=shared.code,
        layers=[shared.powertools_layer],
        memory_size=MEMORY_MB,
        timeout=TIMEOUT,
        # The function sees the role as immutable: grants made through it (the on-failure destination,
        # the Config rule's AWSConfigRulesExecutionRole managed policy) are dropped, so the role keeps
        # exactly the statements it was given.
        role=role.without_policy_updates(),
        log_group=log_group,
        environment=environment,
        retry_attempts=ASYNC_RETRY_ATTEMPTS,
        on_failure=destinations.SqsDestination(dead_letter_queue),
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        "Python 3.13 is the newest runtime with a published Powertools for AWS Lambda (Python) v3 layer, "
        "which the function needs.",
    )
    return function


def first_occurrence_alarm(
    scope: Construct, id: str, *, name: str, description: str, metric: cloudwatch.IMetric, alarm_topic: sns.ITopic
) -> cloudwatch.Alarm:
    """An alarm that fires at the first occurrence in a period, stays quiet without data, and notifies the
    alarm topic: what every function's failure signals use."""
    alarm = cloudwatch.Alarm(
        scope,
        id,
        alarm_name=name,
        alarm_description=description[:1024],
        metric=metric,
        threshold=ALARM_THRESHOLD,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
    return alarm


def event_rule(
    scope: Construct,
    id: str,
    *,
    name: str,
    description: str,
    pattern: dict[str, object],
    function: lambda_.IFunction,
    dead_letter_queue: sqs.Queue,
    target_id: str,
    queue_sid: str,
) -> events.CfnRule:
    """An EventBridge rule ``name`` delivering ``pattern`` (exactly as given) to ``function``: retried for
    ``EVENT_MAX_AGE``, then kept in ``dead_letter_queue``, which admits this rule only. Named, never left to
    CloudFormation: the tamper watch recognises mlwarden's own rules by name (``NAME_PREFIX``)."""
    rule = events.CfnRule(
        scope,
        id,
        name=name,
        description=description,
        event_pattern=pattern,
        state="ENABLED",
        targets=[
            events.CfnRule.TargetProperty(
                id=target_id,
                arn=function.function_arn,
                retry_policy=events.CfnRule.RetryPolicyProperty(
                    maximum_retry_attempts=EVENT_RETRY_ATTEMPTS,
                    maximum_event_age_in_seconds=int(EVENT_MAX_AGE.to_seconds()),
                ),
                dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letter_queue.queue_arn),
            )
        ],
    )
    function.add_permission(
        f"{id}Invoke",
        principal=iam.ServicePrincipal("events.amazonaws.com"),
        source_arn=rule.attr_arn,
    )
    dead_letter_queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid=queue_sid,
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[dead_letter_queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
        )
    )
    return rule


def _fill(resource: str, placeholders: Mapping[str, str | None], rule_id: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(resource) if name}
    missing = sorted(name for name in names if placeholders.get(name) is None)
    if missing:
        raise SettingsError(
            f"{rule_id}: an action is granted on {resource}, but this deployment has no {', '.join(missing)}"
        )
    return resource.format(**placeholders)


def _any_accounts_bucket(resource: str) -> bool:
    """Whether a spec resource template matches buckets (or their objects) that other accounts may own."""
    if resource == "*":
        return True
    prefix = "arn:{partition}:s3:::"
    return resource.startswith(prefix) and "*" in resource.removeprefix(prefix).split("/")[0]


def _account_bound_statements(
    sid: str, actions: tuple[str, ...], templates: tuple[str, ...], filled: list[str]
) -> list[iam.PolicyStatement]:
    """``actions`` on the resources (``templates`` as filled in); where they match any account's buckets, the
    S3 actions only on buckets this account owns (``s3:ResourceAccount``): a wildcard bucket ARN names every
    account's buckets, and another account's bucket policy may well allow this role in."""
    s3_actions = [a for a in actions if a.startswith("s3:")]
    if not (s3_actions and any(_any_accounts_bucket(template) for template in templates)):
        return [iam.PolicyStatement(sid=sid, actions=list(actions), resources=filled)]
    statements = [
        iam.PolicyStatement(
            sid=sid,
            actions=s3_actions,
            resources=filled,
            conditions={"StringEquals": {S3_RESOURCE_ACCOUNT: Aws.ACCOUNT_ID}},
        )
    ]
    others = [a for a in actions if not a.startswith("s3:")]
    if others:
        statements.append(iam.PolicyStatement(sid=f"{sid}NotS3", actions=others, resources=filled))
    return statements
