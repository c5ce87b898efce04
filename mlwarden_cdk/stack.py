"""``MlwardenStack``: the shared resources, then one ``GuardedRule`` per registered rule that cdk.json does not
leave out (``rules.<id>.deploy: false``), then the tamper watch.

The rules live in nested stacks (``RuleStack``), ``RULE_STACKS`` of them at most: a rule's stack is chosen by
a hash of its id (``rule_stack_of``), so adding or leaving out a rule never moves another one (moving a rule
between stacks would replace its resources, whose names are fixed). At 14-16 resources per rule, one stack
would reach CloudFormation's 500 near 30 rules; the shards keep every stack far below it (README, Performance).

Shared: the customer KMS key, the alert topic (only the rule functions publish), the alarm topic (only this
account's CloudWatch alarms and the tamper watch publish), the idempotency and audit tables, the kill switch
and the optional quarantine bucket.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, NestedStack, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlwarden.core.registry import all_specs
from mlwarden.core.settings import KILL_SWITCH_PARAMETER, Settings
from mlwarden.core.spec import RuleSpec
from mlwarden_cdk import organization as org_deployment
from mlwarden_cdk.asset import runtime_dir
from mlwarden_cdk.dashboard import DASHBOARD_NAME, MlwardenDashboard
from mlwarden_cdk.guarded_rule import (
    METRICS_NAMESPACE,
    METRICS_SERVICE,
    GuardedRule,
    SharedResources,
    construct_id,
)
from mlwarden_cdk.guarded_rule import (
    config_frequency as stack_config_frequency,
)
from mlwarden_cdk.nag import acknowledge
from mlwarden_cdk.props import PROP_KEYS, guardrails_settings
from mlwarden_cdk.watch import TamperWatch

STACK_NAME = "Mlwarden"
TOPIC_NAME = "mlwarden-alerts"
ALARM_TOPIC_NAME = "mlwarden-alarms"
# Powertools Idempotency's DynamoDB persistence layer: its default key and expiry attributes.
IDEMPOTENCY_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
# The audit table (mlwarden.core.safety): decisions and counters per rule; decisions per resource in the index.
AUDIT_PARTITION_KEY = "rule_id"
AUDIT_SORT_KEY = "sk"
AUDIT_RESOURCE_INDEX = "by-resource"
AUDIT_RESOURCE_KEY = "resource_id"
AUDIT_TTL_ATTRIBUTE = "expires_at"
KILL_SWITCH_DEFAULT = "off"
ALARMS_OF_THIS_ACCOUNT = f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"

POWERTOOLS_LAYER = "017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27"
POWERTOOLS_LAYER_ARN = f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{POWERTOOLS_LAYER}"

# Nested stacks for the rules. With ~16 resources a rule, RULE_STACK_CAPACITY rules keep a stack under 400
# resources (CloudFormation allows 500); 12 stacks hold the 150-rule catalog of tests/infra/test_scale.py.
RULE_STACKS = 12
RULE_STACK_CAPACITY = 24


def rule_stack_of(rule_id: str) -> int:
    """The nested stack (0 .. RULE_STACKS - 1) a rule lives in: fixed by its id alone."""
    return int(hashlib.sha256(rule_id.encode()).hexdigest(), 16) % RULE_STACKS


def rule_stack_id(index: int) -> str:
    return f"Rules{index:02d}"


class RuleStack(NestedStack):
    """A nested stack of rules: one ``GuardedRule`` each, on the root stack's shared resources (CDK passes
    them in as parameters) and with a code asset of its own (an asset belongs to one stack)."""

    def __init__(self, scope: Construct, id: str, *, shared: SharedResources) -> None:
        super().__init__(scope, id, description=f"mlwarden rules, stack {id}")
        self.shared = dataclasses.replace(shared, code=lambda_.Code.from_asset(str(runtime_dir())))
        self.rules: dict[str, GuardedRule] = {}

    def add(self, spec: RuleSpec, settings: Settings) -> GuardedRule:
        if len(self.rules) >= RULE_STACK_CAPACITY:
            raise ValueError(
                f"{spec.id}: nested stack {self.node.id} already holds {RULE_STACK_CAPACITY} rules; raise "
                "RULE_STACKS in mlwarden_cdk/stack.py (this moves rules between stacks: deploy with the moved rules "
                "left out first, see README, Deploy)"
            )
        rule = GuardedRule(
            self, construct_id(spec.id), spec=spec, rule_settings=settings.rule(spec.id), shared=self.shared
        )
        self.rules[spec.id] = rule
        return rule


class Guardrails(Construct):
    """mlwarden in a stack of yours: ``Guardrails(self, "Guardrails", rules={...}, notification_emails=[...])``.

    The keyword props are the cdk.json ``mlwarden`` block, one keyword per key in snake case (``mlwarden_cdk.props``),
    validated like it; rule options go in ``options`` under their cdk.json key. ``settings`` (already parsed
    settings, as the ready-made app passes them) replaces the props. ``specs``: the rules to deploy (default:
    the registry's), before ``deploy: false``. The rules live in nested stacks, so the scope must be inside a
    Stack. Resource names are fixed (``mlwarden-alerts``, ``/mlwarden/...``): one per account and Region.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: Settings | None = None,
        specs: Sequence[RuleSpec] | None = None,
        rules: Mapping[str, Mapping[str, Any]] | None = None,
        notification_emails: Sequence[str] | None = None,
        alarm_emails: Sequence[str] | None = None,
        kms_key_arn: str | None = None,
        macie_quarantine: bool | None = None,
        powertools_layer_arn: str | None = None,
        config_frequency: str | None = None,
        exemptions: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
        dedup_window_seconds: int | None = None,
        max_exemption_days: int | None = None,
        max_remediations_per_hour: int | None = None,
        audit_retention_days: int | None = None,
        security_hub: bool | None = None,
        chatbot_notifications: bool | None = None,
        organization: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        props = {name: value for name, value in locals().items() if name in PROP_KEYS}
        settings = settings_of_props(scope, settings, props, options, specs)
        super().__init__(scope, id)
        self.settings = settings
        frequency = stack_config_frequency(settings.config_frequency)

        self.key = self._key()
        self.topic = sns.Topic(
            self,
            "AlertTopic",
            topic_name=TOPIC_NAME,
            display_name="mlwarden alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        for email in settings.notification_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarm_topic = self._alarm_topic()
        for email in settings.alarm_emails:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(email))
        self.idempotency_table, self.audit_table = self._tables()
        self.kill_switch = ssm.StringParameter(
            self,
            "KillSwitch",
            parameter_name=KILL_SWITCH_PARAMETER,
            string_value=KILL_SWITCH_DEFAULT,
            description="mlwarden kill switch: any value but exactly 'off' stops every remediation (alerts go on)",
        )
        self.quarantine_bucket = self._quarantine_bucket() if settings.macie_quarantine else None

        shared = SharedResources(
            settings=settings,
            key=self.key,
            topic=self.topic,
            alarm_topic=self.alarm_topic,
            idempotency_table=self.idempotency_table,
            audit_table=self.audit_table,
            code=lambda_.Code.from_asset(str(runtime_dir())),
            powertools_layer=lambda_.LayerVersion.from_layer_version_arn(
                self, "PowertoolsLayer", settings.powertools_layer_arn or POWERTOOLS_LAYER_ARN
            ),
            kill_switch=self.kill_switch,
            config_frequency=frequency,
            quarantine_bucket=self.quarantine_bucket,
            central_bus=org_deployment.central_bus(self, settings),
        )
        self.rule_stacks: dict[int, RuleStack] = {}
        self.rules: dict[str, GuardedRule] = {}
        for spec in all_specs() if specs is None else specs:
            if not settings.deployed(spec.id):
                continue  # a rule left out gets nothing: no function, rules, switch or alarms
            index = rule_stack_of(spec.id)
            if index not in self.rule_stacks:
                self.rule_stacks[index] = RuleStack(self, rule_stack_id(index), shared=shared)
            self.rules[spec.id] = self.rule_stacks[index].add(spec, settings)
        self._only_rule_functions_publish_alerts()
        self.alert_failures_alarm = self._alert_failures_alarm()
        # Who switched a rule off, pulled the kill switch or exempted a resource: reported to the alarm topic.
        self.watch = TamperWatch(self, "TamperWatch", shared=shared)
        self._only_alarms_and_the_watch_publish_alarms()
        self.dashboard = MlwardenDashboard(
            self, "Dashboard", rules=self.rules, organization=settings.organization is not None
        ).dashboard
        self.member_stack_set = org_deployment.member_stack_set(
            self,
            settings,
            [rule.spec for rule in self.rules.values()],
            self.quarantine_bucket.bucket_name if self.quarantine_bucket else None,
        )

        CfnOutput(
            self,
            "AlertTopicArn",
            value=self.topic.topic_arn,
            description="Subscribe here for mlwarden alerts",
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn,
            description="Subscribe here for mlwarden's own failures: dead-lettered events, errors, throttles, "
            "failed and flapping remediations",
        )
        CfnOutput(
            self,
            "DashboardName",
            value=DASHBOARD_NAME,
            description="CloudWatch dashboard: violations, remediations, failures, exempt and flapping per rule",
        )
        CfnOutput(
            self,
            "AuditTableName",
            value=self.audit_table.table_name,
            description="DynamoDB table of every decision mlwarden made (mlwarden history)",
        )
        CfnOutput(
            self,
            "IdempotencyTableName",
            value=self.idempotency_table.table_name,
            description="DynamoDB table that makes each remediation and alert happen once per delivery",
        )
        if self.quarantine_bucket is not None:
            CfnOutput(self, "QuarantineBucketName", value=self.quarantine_bucket.bucket_name)

    def _alert_failures_alarm(self) -> cloudwatch.Alarm:
        """One alarm for every rule: an alert that could not be published (topic key disabled, throttling,
        authorization). The decision and its audit record stand; the event is retried as an alert."""
        alarm = cloudwatch.Alarm(
            self,
            "AlertFailuresAlarm",
            alarm_name="mlwarden-alert-failures",
            alarm_description="mlwarden: an alert could not be published to the alert topic (the change is in the "
            "audit table; the event is retried, then kept in the rule's dead-letter queue).",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="AlertFailures",
                dimensions_map={"service": METRICS_SERVICE},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        return alarm

    def _alarm_topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=ALARM_TOPIC_NAME,
            display_name="mlwarden alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        # CloudWatch alarms of this account only (aws:SourceArn/SourceAccount guard against a confused deputy).
        alarms_of_this_account = ALARMS_OF_THIS_ACCOUNT
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": alarms_of_this_account},
                },
            )
        )
        # Anyone else, including principals of this account: an IAM principal's request has no aws:SourceArn.
        # The tamper watch's role is excepted once it exists (``_only_alarms_and_the_watch_publish_alarms``).
        self._alarm_publishers = iam.PolicyStatement(
            sid="NoPublisherButCloudWatchAlarms",
            effect=iam.Effect.DENY,
            principals=[iam.StarPrincipal()],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"ArnNotLike": {"aws:SourceArn": alarms_of_this_account}},
        )
        topic.add_to_resource_policy(self._alarm_publishers)
        return topic

    def _only_alarms_and_the_watch_publish_alarms(self) -> None:
        """The tamper watch publishes to the alarm topic: its role is the one principal besides CloudWatch
        alarms that the deny spares (aws:PrincipalArn of its sessions is the role's ARN)."""
        self._alarm_publishers.add_condition("ArnNotEquals", {"aws:PrincipalArn": self.watch.role.role_arn})

    def _only_rule_functions_publish_alerts(self) -> None:
        """Deny sns:Publish on the alert topic to every principal but the rule functions' roles.

        aws:PrincipalArn of an assumed-role session is the role's ARN, so the functions keep publishing (their
        roles' PublishAlerts statement allows it); nobody else can forge an alert, whatever their IAM policies.
        """
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NoPublisherButRuleFunctions",
                effect=iam.Effect.DENY,
                principals=[iam.StarPrincipal()],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": [rule.role.role_arn for rule in self.rules.values()]}},
            )
        )

    def _tables(self) -> tuple[dynamodb.Table, dynamodb.Table]:
        common: dict[str, Any] = {
            "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
            "encryption": dynamodb.TableEncryption.CUSTOMER_MANAGED,
            "encryption_key": self.key,
            "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        }
        # Records live for the dedup window only: losing them on stack deletion is harmless.
        idempotency = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.DESTROY,
            **common,
        )
        # The audit trail outlives the stack.
        audit = dynamodb.Table(
            self,
            "AuditTable",
            partition_key=dynamodb.Attribute(name=AUDIT_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=AUDIT_SORT_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=AUDIT_TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN,
            **common,
        )
        audit.add_global_secondary_index(
            index_name=AUDIT_RESOURCE_INDEX,
            partition_key=dynamodb.Attribute(name=AUDIT_RESOURCE_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=AUDIT_SORT_KEY, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        return idempotency, audit

    def _key(self) -> kms.Key:
        key = kms.Key(
            self,
            "Key",
            description="mlwarden: alert and alarm topics, dead-letter queues, tables, logs, quarantine bucket",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Each service principal below acts for any account that asks it to: every grant is bound to this
        # account's resources (aws:SourceAccount / aws:SourceArn, or the encryption context), so that another
        # account's rules, log groups or alarms cannot make the service use this key (confused deputy).
        # EventBridge writes undeliverable events into the KMS-encrypted dead-letter queues itself.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLetterQueues",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/*"},
                },
            )
        )
        # CloudWatch Logs encrypts the functions' log groups with the key (it needs a key-policy grant). The
        # log group's ARN in the encryption context binds it to this account's log groups (CloudWatch Logs'
        # documented guard; it does not document aws:SourceAccount on these calls).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )
        # CloudWatch alarms publish to the KMS-encrypted alarm topic: SNS needs CloudWatch to use the key, for
        # this account's alarms and the alarm topic only (its ARN is built from its fixed name: referencing the
        # topic, which is encrypted with this key, would make a cycle).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "kms:EncryptionContext:aws:sns:topicArn": (
                            f"arn:{Aws.PARTITION}:sns:{Aws.REGION}:{Aws.ACCOUNT_ID}:{ALARM_TOPIC_NAME}"
                        ),
                    },
                    "ArnLike": {"aws:SourceArn": ALARMS_OF_THIS_ACCOUNT},
                },
            )
        )
        return key

    def _quarantine_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "QuarantineBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "The quarantine bucket only receives objects moved by mlwarden's rule functions, which log and "
            "alert on every move; CloudTrail data events can be enabled on it for object-level audit.",
        )
        return bucket


def settings_of_props(
    scope: Construct,
    settings: Settings | None,
    props: Mapping[str, Any],
    options: Mapping[str, Any] | None,
    specs: Sequence[RuleSpec] | None,
) -> Settings:
    """``Guardrails``' settings: ``settings`` as given, or built from the keyword props (``mlwarden_cdk.props``).

    Checks first that ``scope`` is inside a Stack, and that no other ``Guardrails`` of the app would deploy to the
    same account and Region (an environment-agnostic stack counts as any): their fixed names would collide.
    """
    if not _in_a_stack(scope):
        raise ValueError("Guardrails must be created inside a Stack (its rules live in nested stacks)")
    stack = Stack.of(scope)
    for other in scope.node.root.node.find_all():
        if isinstance(other, Guardrails) and _same_environment(Stack.of(other), stack):
            raise ValueError(
                f"Guardrails: {other.node.path} already deploys mlwarden to this account and Region; its resources "
                "have fixed names (mlwarden-alerts, /mlwarden/...), so there can be one per account and Region"
            )
    given = sorted(name for name, value in props.items() if value is not None) + (["options"] if options else [])
    if settings is None:
        return guardrails_settings(props, options, specs)
    if given:
        raise TypeError(f"Guardrails takes settings= or keyword props, not both (got {', '.join(given)})")
    return settings


def _in_a_stack(scope: Construct) -> bool:
    return any(isinstance(node, Stack) for node in scope.node.scopes)


def _same_environment(one: Stack, other: Stack) -> bool:
    """Whether two stacks may deploy to the same account and Region: equal, or unresolved (a token) in either."""
    return all(
        a == b or Token.is_unresolved(a) or Token.is_unresolved(b)
        for a, b in ((one.account, other.account), (one.region, other.region))
    )


class MlwardenStack(Stack):
    """The ready-made app's stack (``app.py``): ``Guardrails`` under the construct id ``Default``, which CDK
    leaves out of logical ids and nested template names, so the template is the one the stack had when it
    held the resources itself (tests/infra snapshots)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: Settings,
        specs: Sequence[RuleSpec] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", "mlwarden: detect, alert on and remediate AWS AI/ML security violations")
        super().__init__(scope, id, **kwargs)
        self.guardrails = Guardrails(self, "Default", settings=settings, specs=specs)
        self.settings = settings
        self.rule_stacks = self.guardrails.rule_stacks
        self.rules = self.guardrails.rules
