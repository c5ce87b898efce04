"""``TamperWatch``: who switched a rule off, pulled the kill switch, exempted a resource or silenced a rule's
triggers (issue 9 §1.4, §1.5).

One function (``mlwarden.watch.handler``, on the rules' shared code asset) fed by EventBridge rules on the
default bus, one per pattern of ``mlwarden.core.tamper.patterns()`` and each named after it
(``mlwarden-tamper-watch-<key>``) — changes to /mlwarden/ SSM parameters, tagging calls that may set
``mlwarden:exempt*``, and changes to mlwarden's own EventBridge rules, schedules and Config rules — and
publishing to the ALARM topic. Built like a rule's function (``GuardedRule``): its own role with exactly
``WATCH_ACTIONS``, log group, KMS-encrypted dead-letter queue for EventBridge and failed asynchronous
invocations, and alarms on errors and dead letters.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlwarden.core import tamper
from mlwarden_cdk.guarded_rule import (
    ALARM_PERIOD,
    DEAD_LETTER_ACTIONS,
    KEY_ACTIONS,
    LOG_ACTIONS,
    POWERTOOLS_ENV,
    SharedResources,
    construct_id,
    dead_letter_queue,
    event_rule,
    first_occurrence_alarm,
    log_group,
    mlwarden_function,
)
from mlwarden_cdk.nag import acknowledge

WATCH_HANDLER = "mlwarden.watch.handler"
WATCH_FUNCTION_NAME = tamper.WATCH_NAME
ALARM_ACTIONS = ("sns:Publish",)  # the alarm topic only
READ_SWITCH_ACTIONS = ("ssm:GetParameter",)  # /mlwarden/ parameters only: the value CloudTrail hides
# This Region's Config rules: which one a PutConfigRule named by ARN or id alone was (the ARN has no name in it).
READ_CONFIG_RULE_ACTIONS = ("config:DescribeConfigRules",)
WATCH_ACTIONS: tuple[str, ...] = (
    LOG_ACTIONS + ALARM_ACTIONS + KEY_ACTIONS + READ_SWITCH_ACTIONS + READ_CONFIG_RULE_ACTIONS + DEAD_LETTER_ACTIONS
)
MLWARDEN_PARAMETERS = f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{tamper.PARAMETER_PREFIX}*"
CONFIG_RULES = f"arn:{Aws.PARTITION}:config:{Aws.REGION}:{Aws.ACCOUNT_ID}:config-rule/*"
WATCH_ALARM_SIGNALS = ("dead-letters", "errors")


class TamperWatch(Construct):
    def __init__(self, scope: Construct, id: str, *, shared: SharedResources) -> None:
        super().__init__(scope, id)
        self.dead_letter_queue = dead_letter_queue(self, shared)
        self.log_group = log_group(self, shared)
        self.role = iam.Role(
            self,
            "Role",
            description="mlwarden tamper watch: report changes to mlwarden switches, exemption tags and triggers",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={"mlwarden-tamper-watch": iam.PolicyDocument(statements=self._statements(shared))},
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:"
            f"parameter{tamper.PARAMETER_PREFIX}*]",
            "tamper watch: ssm:GetParameter reads back whichever /mlwarden/ parameter a CloudTrail call changed, "
            "including ones an attacker created; CloudTrail never records the value written.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:config:<AWS::Region>:<AWS::AccountId>:config-rule/*]",
            "tamper watch: config:DescribeConfigRules finds which Config rule a PutConfigRule named by ARN or id "
            "alone was (a rule's ARN and id carry no part of its name): every rule of the Region is listed.",
        )
        environment = {tamper.ENV_ALARM_TOPIC_ARN: shared.alarm_topic.topic_arn, **POWERTOOLS_ENV}
        self.function = mlwarden_function(
            self,
            name=WATCH_FUNCTION_NAME,
            description="mlwarden tamper watch: who changed a switch, set an exemption tag or silenced a trigger",
            handler=WATCH_HANDLER,
            shared=shared,
            role=self.role,
            log_group=self.log_group,
            dead_letter_queue=self.dead_letter_queue,
            environment=environment,
        )
        self.event_rules = {key: self._event_rule(key, pattern) for key, pattern in tamper.patterns().items()}
        # Organization mode: what the member accounts forward (stacks/member.py), on the central bus.
        self.central_bus_rules = (
            {key: self._event_rule(key, pattern, shared) for key, pattern in tamper.member_patterns().items()}
            if shared.central_bus is not None
            else {}
        )
        self.alarms = self._alarms(shared)
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the tamper watch's EventBridge targets and of the "
            "function's failed asynchronous invocations; cdk-nag only recognises SQS redrive DLQs.",
        )

    def _statements(self, shared: SharedResources) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="WriteOwnLogs", actions=list(LOG_ACTIONS), resources=[self.log_group.log_group_arn]
            ),
            iam.PolicyStatement(
                sid="PublishAlarms", actions=list(ALARM_ACTIONS), resources=[shared.alarm_topic.topic_arn]
            ),
            iam.PolicyStatement(sid="UseStackKey", actions=list(KEY_ACTIONS), resources=[shared.key.key_arn]),
            iam.PolicyStatement(
                sid="ReadMlwardenParameters", actions=list(READ_SWITCH_ACTIONS), resources=[MLWARDEN_PARAMETERS]
            ),
            iam.PolicyStatement(
                sid="FindConfigRulesNamedByArnOrId", actions=list(READ_CONFIG_RULE_ACTIONS), resources=[CONFIG_RULES]
            ),
            iam.PolicyStatement(
                sid="SendFailuresToDeadLetterQueue",
                actions=list(DEAD_LETTER_ACTIONS),
                resources=[self.dead_letter_queue.queue_arn],
            ),
        ]

    def _event_rule(
        self, key: str, pattern: dict[str, object], central: SharedResources | None = None
    ) -> events.CfnRule:
        # L1 on purpose, as GuardedRule: the pattern from tamper.patterns() goes into the template as computed.
        # ``central``: the rule goes on the central bus (organization mode: changes made in member accounts).
        name = construct_id(key)
        rule = event_rule(
            self,
            f"{'CentralBus' if central else ''}Event{name}",
            name=tamper.rule_name(key),
            description=f"mlwarden tamper watch: {key} changes"
            + (", forwarded by the organization's accounts" if central else ""),
            pattern=pattern,
            function=self.function,
            dead_letter_queue=self.dead_letter_queue,
            target_id="TamperWatch",
            queue_sid=f"{'CentralBus' if central else 'EventBridge'}{name}",
        )
        if central is not None and central.central_bus is not None:
            rule.event_bus_name = central.central_bus.event_bus_name
        return rule

    def _alarms(self, shared: SharedResources) -> dict[str, cloudwatch.Alarm]:
        metrics: dict[str, tuple[cloudwatch.IMetric, str]] = {
            "dead-letters": (
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic="Maximum"
                ),
                "changes to mlwarden switches, exemption tags or triggers failed every retry and wait, unreported, "
                "in the watch's dead-letter queue; read them, fix the cause, then redrive the queue",
            ),
            "errors": (
                self.function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                "the tamper watch raised an error (Lambda and EventBridge retry, then the dead-letter queue); "
                "see its log group",
            ),
        }
        return {
            suffix: first_occurrence_alarm(
                self,
                f"Alarm{construct_id(suffix)}",
                name=f"{WATCH_FUNCTION_NAME}-{suffix}",
                description=f"mlwarden tamper watch: {metrics[suffix][1]}.",
                metric=metrics[suffix][0],
                alarm_topic=shared.alarm_topic,
            )
            for suffix in WATCH_ALARM_SIGNALS
        }
