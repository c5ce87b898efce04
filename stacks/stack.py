"""``MlwardenStack``: the shared resources, then one ``GuardedRule`` per registered rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, RemovalPolicy, Stack
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
from stacks.guarded_rule import GuardedRule, SharedResources, config_frequency, construct_id
from stacks.nag import acknowledge

STACK_NAME = "Mlwarden"
TOPIC_NAME = "mlwarden-alerts"
KILL_SWITCH_DEFAULT = "off"

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
# The asset is mlwarden's own code only: the CLI and local tooling stay out of the Lambda.
ASSET_EXCLUDE = ["cli", "__pycache__", "*.pyc", "tests"]
POWERTOOLS_LAYER = "017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27"
POWERTOOLS_LAYER_ARN = f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{POWERTOOLS_LAYER}"


class MlwardenStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, **kwargs: Any) -> None:
        kwargs.setdefault("description", "mlwarden: detect, alert on and remediate AWS AI/ML security violations")
        super().__init__(scope, id, **kwargs)
        self.settings = settings
        frequency = config_frequency(settings.config_frequency)

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
        self.kill_switch = ssm.StringParameter(
            self,
            "KillSwitch",
            parameter_name=KILL_SWITCH_PARAMETER,
            string_value=KILL_SWITCH_DEFAULT,
            description="mlwarden kill switch: 'on' stops every remediation (alerts go on); 'off' otherwise",
        )
        self.quarantine_bucket = self._quarantine_bucket() if settings.macie_quarantine else None

        shared = SharedResources(
            settings=settings,
            key=self.key,
            topic=self.topic,
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=ASSET_EXCLUDE),
            powertools_layer=lambda_.LayerVersion.from_layer_version_arn(
                self, "PowertoolsLayer", settings.powertools_layer_arn or POWERTOOLS_LAYER_ARN
            ),
            kill_switch=self.kill_switch,
            config_frequency=frequency,
            quarantine_bucket=self.quarantine_bucket,
        )
        self.rules: dict[str, GuardedRule] = {
            spec.id: GuardedRule(
                self, construct_id(spec.id), spec=spec, rule_settings=settings.rule(spec.id), shared=shared
            )
            for spec in all_specs()
        }

        CfnOutput(
            self,
            "AlertTopicArn",
            value=self.topic.topic_arn,
            description="Subscribe here for mlwarden alerts",
        )
        if self.quarantine_bucket is not None:
            CfnOutput(self, "QuarantineBucketName", value=self.quarantine_bucket.bucket_name)

    def _key(self) -> kms.Key:
        key = kms.Key(
            self,
            "Key",
            description="mlwarden: alert topic, dead-letter queues, function logs and quarantine bucket",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # EventBridge writes undeliverable events into the KMS-encrypted dead-letter queues itself.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLetterQueues",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/*"}
                },
            )
        )
        # CloudWatch Logs encrypts the functions' log groups with the key (it needs a key-policy grant).
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
