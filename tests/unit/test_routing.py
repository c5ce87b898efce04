"""Every event file under tests/events, delivered as AWS delivers it, against every rule's deployed patterns.

Adding a sample or a rule changes this table on purpose: each file states which rules it must reach.
"""

from __future__ import annotations

import pytest

from mlwarden.core import events
from tests.conftest import as_delivered, load_event, sample_files
from tests.unit.routing import pattern_routes, routes

KMS = "s3-bucket-kms-encryption"
MACIE = "macie-sensitive-data"
NOTEBOOK = "sagemaker-notebook-direct-internet"

EXPECTED: dict[str, set[str]] = {
    "cloudtrail-other/awsdocs-cloudtrail-UpdateTrail-error-TrailNotFound.json": set(),  # failed call
    "cloudtrail-other/awsdocs-kms-DisableKeyRotation.json": {"kms-key-rotation"},
    "cloudtrail-other/stratus-bedrock-DeleteGuardrail.json": {"bedrock-guardrail-integrity"},
    "cloudtrail-other/stratus-cloudtrail-StopLogging.json": {"cloudtrail-logging"},
    "cloudtrail-other/sumologic-bedrock-InvokeModel.json": set(),
    # A failed fine-tuning job makes no model; a batch job's output key is judged when it is created.
    "eventbridge-bedrock/awsdocs-bedrock-BatchInferenceJobStateChange-Completed.json": set(),
    "eventbridge-bedrock/awsdocs-bedrock-ModelCustomizationJobStateChange-Failed.json": set(),
    "cloudtrail-other/sumologic-bedrock-agentcore-CreateAgentRuntime.json": {"bedrock-agentcore-runtime-network"},
    "cloudtrail-s3/awsdocs-s3-PutBucketAcl.json": {
        "s3-bucket-external-access",
        "s3-bucket-public-access",
    },  # empty bucketName: both answer NOT_APPLICABLE
    "cloudtrail-s3/elastic-s3-DeleteBucket.json": set(),
    "cloudtrail-s3/elastic-s3-PutBucketVersioning-enabled.json": set(),
    "cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json": {"s3-bucket-kms-encryption"},
    "cloudtrail-sagemaker/awsdocs-sagemaker-CreateEndpoint.json": {
        "sagemaker-endpoint-config-kms",
        "sagemaker-endpoint-config-production-variants",
        "sagemaker-endpoint-monitoring",
    },
    "cloudtrail-sagemaker/awsdocs-sagemaker-CreateModel.json": {
        "sagemaker-model-container-registry",
        "sagemaker-model-network-isolation",
    },
    "config-compliance-change/nzism-lambda-public-access-COMPLIANT.json": set(),
    "config-compliance-change/nzism-loggroup-retention-NON_COMPLIANT-with-old-result.json": set(),
    "config-invocation/powertools-config-change-ec2-instance-real.json": set(),
    "config-invocation/powertools-config-oversized-change-ec2-instance.json": set(),
    "config-invocation/powertools-config-scheduled-notification.json": set(),
    "handwritten/cloudtrail-bedrock-CreateAgent-no-guardrail.json": {"bedrock-agent-guardrail"},
    "handwritten/cloudtrail-bedrock-CreateDataSource-no-kms.json": {"bedrock-knowledge-base-kms"},
    "handwritten/cloudtrail-bedrock-CreateModelCustomizationJob-no-kms.json": {"bedrock-custom-model-kms"},
    "handwritten/cloudtrail-bedrock-CreateModelImportJob-no-kms.json": {"bedrock-custom-model-kms"},
    "handwritten/cloudtrail-bedrock-CreateModelInvocationJob-no-output-key.json": {"bedrock-custom-model-kms"},
    "handwritten/cloudtrail-bedrock-CreateGuardrail-weak.json": {"bedrock-guardrail-integrity"},
    "handwritten/asff-BedrockAgentCore.2-gateway-authorizer-NONE-FAILED.json": {"bedrock-agentcore-gateway-security"},
    "handwritten/cloudtrail-bedrock-agentcore-CreateAgentRuntime-PUBLIC.json": {"bedrock-agentcore-runtime-network"},
    "handwritten/cloudtrail-bedrock-agentcore-CreateBrowser-PUBLIC-no-recording.json": {
        "bedrock-agentcore-browser-security"
    },
    "handwritten/cloudtrail-bedrock-agentcore-CreateCodeInterpreter-SANDBOX.json": {
        "bedrock-agentcore-code-interpreter-network"
    },
    "handwritten/cloudtrail-bedrock-agentcore-CreateGateway-authorizer-NONE.json": {
        "bedrock-agentcore-gateway-security"
    },
    "handwritten/cloudtrail-bedrock-agentcore-CreateMemory-no-kms.json": {"bedrock-agentcore-memory-kms"},
    "handwritten/cloudtrail-bedrock-agentcore-UpdateAgentRuntime-back-to-PUBLIC.json": {
        "bedrock-agentcore-runtime-network"
    },
    "handwritten/cloudtrail-bedrock-agentcore-UpdateGateway-kms-key-dropped.json": {
        "bedrock-agentcore-gateway-security"
    },
    "handwritten/cloudtrail-bedrock-DeleteModelInvocationLoggingConfiguration.json": {"bedrock-invocation-logging"},
    "handwritten/cloudtrail-bedrock-PutModelInvocationLoggingConfiguration-text-delivery-off.json": {
        "bedrock-invocation-logging"
    },
    "handwritten/cloudtrail-bedrock-UpdateAgent-guardrail-DRAFT.json": {"bedrock-agent-guardrail"},
    "handwritten/cloudtrail-bedrock-UpdateDataSource-no-kms.json": {"bedrock-knowledge-base-kms"},
    "handwritten/cloudtrail-bedrock-UpdateGuardrail-content-filter-lowered.json": {"bedrock-guardrail-integrity"},
    "handwritten/cloudtrail-cloudtrail-DeleteTrail.json": {"cloudtrail-logging"},
    "handwritten/cloudtrail-cloudtrail-PutEventSelectors-management-events-off.json": {"cloudtrail-logging"},
    "handwritten/cloudtrail-cloudtrail-UpdateTrail-log-file-validation-off.json": {"cloudtrail-logging"},
    "handwritten/cloudtrail-config-DeleteConfigurationRecorder.json": {"config-recorder-enabled"},
    "handwritten/cloudtrail-config-DeleteDeliveryChannel.json": {"config-recorder-enabled"},
    "handwritten/cloudtrail-config-StopConfigurationRecorder.json": {"config-recorder-enabled"},
    "handwritten/cloudtrail-ec2-AuthorizeSecurityGroupIngress-ssh-0.0.0.0.json": {"ec2-security-group-open-ingress"},
    "handwritten/cloudtrail-ec2-ModifySecurityGroupRules-all-tcp-0.0.0.0.json": {"ec2-security-group-open-ingress"},
    "handwritten/cloudtrail-iam-AddUserToGroup.json": {"ml-role-full-access-policy"},
    "handwritten/cloudtrail-iam-AttachGroupPolicy-AmazonBedrockFullAccess.json": {
        "iam-admin-policy-attached",
        "ml-role-full-access-policy",
    },
    # Attaching any other policy does not reach ml-role-full-access-policy (its pattern names the three).
    "handwritten/cloudtrail-iam-AttachRolePolicy-AdministratorAccess.json": {"iam-admin-policy-attached"},
    "handwritten/cloudtrail-iam-AttachRolePolicy-AmazonSageMakerFullAccess.json": {
        "iam-admin-policy-attached",
        "ml-role-full-access-policy",
    },
    "handwritten/cloudtrail-iam-CreatePolicyVersion-setAsDefault-allow-star-on-star.json": {
        "iam-admin-policy-attached"
    },
    "handwritten/cloudtrail-iam-PutUserPolicy-allow-star-on-star.json": {"iam-admin-policy-attached"},
    "handwritten/cloudtrail-kms-DisableKey.json": {"kms-key-deletion"},
    "handwritten/cloudtrail-kms-ScheduleKeyDeletion.json": {"kms-key-deletion"},
    "handwritten/cloudtrail-macie2-DisableMacie.json": {"macie-enabled"},
    "handwritten/cloudtrail-macie2-UpdateMacieSession-PAUSED.json": {"macie-enabled"},
    "handwritten/cloudtrail-s3-CreateBucket.json": {
        "s3-bucket-kms-encryption",
        "s3-bucket-public-access",
        "s3-bucket-ssl-only",
    },
    "handwritten/cloudtrail-s3-DeleteAccountPublicAccessBlock.json": {"s3-account-public-access-block"},
    "handwritten/cloudtrail-s3-DeleteBucketPolicy.json": {"s3-bucket-ssl-only"},
    "handwritten/cloudtrail-s3-DeleteBucketPublicAccessBlock.json": {"s3-bucket-public-access"},
    "handwritten/cloudtrail-s3-PutAccountPublicAccessBlock-all-off.json": {"s3-account-public-access-block"},
    "handwritten/cloudtrail-s3-PutBucketAcl-AllUsers-read.json": {
        "s3-bucket-external-access",
        "s3-bucket-public-access",
    },
    "handwritten/cloudtrail-s3-PutBucketEncryption-AES256.json": {"s3-bucket-kms-encryption"},
    "handwritten/cloudtrail-s3-PutBucketEncryption-AccessDenied.json": set(),  # failed call
    "handwritten/cloudtrail-s3-PutBucketEncryption-aws-kms.json": {
        "s3-bucket-kms-encryption"
    },  # routed; judged compliant live
    "handwritten/cloudtrail-s3-PutBucketPolicy-cross-account-read.json": {
        "s3-bucket-external-access",
        "s3-bucket-public-access",
        "s3-bucket-ssl-only",
    },
    "handwritten/cloudtrail-s3-PutBucketPublicAccessBlock-all-off.json": {"s3-bucket-public-access"},
    "handwritten/cloudtrail-sagemaker-CreateDomain-PublicInternetOnly.json": {"sagemaker-domain-network"},
    "handwritten/cloudtrail-sagemaker-CreateEndpointConfig-no-kms.json": {
        "sagemaker-endpoint-config-kms",
        "sagemaker-endpoint-config-production-variants",
    },
    "handwritten/cloudtrail-sagemaker-CreateFeatureGroup-offline-store-no-kms.json": {"sagemaker-feature-group-kms"},
    "handwritten/cloudtrail-sagemaker-CreateInferenceExperiment-data-capture-no-kms.json": {
        "sagemaker-inference-experiment-kms"
    },
    "handwritten/cloudtrail-sagemaker-CreateDataQualityJobDefinition-no-network-isolation.json": {
        "sagemaker-monitoring-job-definition-security"
    },
    "handwritten/cloudtrail-sagemaker-CreateModelBiasJobDefinition-two-instances-no-network-config.json": {
        "sagemaker-monitoring-job-definition-security"
    },
    "handwritten/cloudtrail-sagemaker-CreateModelPackage-Approved.json": {"sagemaker-model-approval"},
    "handwritten/cloudtrail-sagemaker-CreateMonitoringSchedule-own-definition-no-network-config.json": {
        "sagemaker-monitoring-schedule-security"
    },
    "handwritten/cloudtrail-sagemaker-CreateNotebookInstance-direct-internet-enabled.json": {
        "sagemaker-notebook-direct-internet",
        "sagemaker-notebook-kms",
        "sagemaker-notebook-platform",
        "sagemaker-notebook-root-access",
        "sagemaker-notebook-vpc",
    },
    "handwritten/cloudtrail-sagemaker-CreateProcessingJob-no-network-config.json": {"sagemaker-training-job-security"},
    "handwritten/cloudtrail-sagemaker-CreateTrainingJob-no-isolation-no-kms.json": {"sagemaker-training-job-security"},
    "handwritten/cloudtrail-sagemaker-DeleteMonitoringSchedule.json": {"sagemaker-endpoint-monitoring"},
    "handwritten/cloudtrail-sagemaker-StopMonitoringSchedule.json": {"sagemaker-endpoint-monitoring"},
    "handwritten/cloudtrail-sagemaker-UpdateDomain-PublicInternetOnly.json": {"sagemaker-domain-network"},
    "handwritten/cloudtrail-sagemaker-UpdateEndpoint.json": {
        "sagemaker-endpoint-config-kms",
        "sagemaker-endpoint-config-production-variants",
        "sagemaker-endpoint-monitoring",
    },
    "handwritten/cloudtrail-sagemaker-UpdateFeatureGroup-online-store-Standard_V2.json": {
        "sagemaker-feature-group-kms"
    },
    "handwritten/cloudtrail-sagemaker-UpdateInferenceExperiment-data-capture-key-removed.json": {
        "sagemaker-inference-experiment-kms"
    },
    "handwritten/cloudtrail-sagemaker-UpdateMonitoringSchedule-named-model-quality-definition.json": {
        "sagemaker-monitoring-schedule-security"
    },
    "handwritten/cloudtrail-sagemaker-UpdateModelPackage-Approved-by-assumed-role.json": {"sagemaker-model-approval"},
    "handwritten/cloudtrail-sagemaker-UpdateNotebookInstance-root-access-enabled.json": {
        "sagemaker-notebook-platform",
        "sagemaker-notebook-root-access",
    },
    "handwritten/config-invocation-bedrock-DataSource-no-kms.json": {"bedrock-knowledge-base-kms"},
    "handwritten/eventbridge-bedrock-ModelCustomizationJobStateChange-Completed.json": {"bedrock-custom-model-kms"},
    "handwritten/eventbridge-inspector2-Finding-ECR-image-HIGH-ACTIVE.json": {"inspector-critical-finding"},
    "handwritten/eventbridge-sagemaker-ModelPackageStateChange-Approved.json": {"sagemaker-model-approval"},
    "handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-InService.json": {
        "sagemaker-notebook-direct-internet",
        "sagemaker-notebook-root-access",
    },
    "handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-Stopped.json": {
        "sagemaker-notebook-platform",
        "sagemaker-notebook-root-access",
    },
    # Tamper watch events (tests/unit/test_watch.py): no rule listens to switch or tagging calls
    "handwritten/cloudtrail-bedrock-agentcore-TagResource-mlwarden-exempt-gateway.json": set(),
    "handwritten/cloudtrail-ec2-CreateTags-mlwarden-exempt-security-group.json": set(),
    "handwritten/cloudtrail-iam-TagRole-mlwarden-exempt.json": set(),
    "handwritten/cloudtrail-kms-TagResource-mlwarden-exempt.json": set(),
    "handwritten/cloudtrail-lambda-TagResource-mlwarden-exempt-map.json": set(),
    "handwritten/cloudtrail-s3-PutBucketTagging-mlwarden-exempt-all.json": set(),
    "handwritten/cloudtrail-s3-PutBucketTagging-no-mlwarden-tags.json": set(),
    "handwritten/cloudtrail-sagemaker-AddTags-mlwarden-exempt-notebook.json": set(),
    "handwritten/cloudtrail-ssm-AddTagsToResource-mode-parameter.json": set(),
    "handwritten/cloudtrail-ssm-DeleteParameters-mlwarden-mode-and-app-parameter.json": set(),
    "handwritten/cloudtrail-ssm-PutParameter-application-parameter.json": set(),
    "handwritten/cloudtrail-ssm-PutParameter-kill-switch-AccessDenied.json": set(),
    "handwritten/cloudtrail-ssm-PutParameter-kill-switch-on-by-iam-user.json": set(),
    "handwritten/cloudtrail-ssm-PutParameter-rule-mode-off-by-assumed-role.json": set(),
    # created already exempt: the notebook rules judge it (and find the exemption), the watch reports the tag
    "handwritten/cloudtrail-sagemaker-CreateNotebookInstance-with-mlwarden-exempt-tag.json": {
        "sagemaker-notebook-direct-internet",
        "sagemaker-notebook-kms",
        "sagemaker-notebook-platform",
        "sagemaker-notebook-root-access",
        "sagemaker-notebook-vpc",
    },
    # created already exempt: the rules judging the resource find the exemption, the watch reports the tag
    "handwritten/cloudtrail-s3-CreateBucket-with-mlwarden-exempt-tag.json": {
        "s3-bucket-kms-encryption",
        "s3-bucket-public-access",
        "s3-bucket-ssl-only",
    },
    "handwritten/cloudtrail-sagemaker-CreateFeatureGroup-with-mlwarden-exempt-tag.json": {
        "sagemaker-feature-group-kms"
    },
    # mlwarden's own EventBridge rules, schedules and Config rules changed: the tamper watch's, no rule's
    "handwritten/cloudtrail-config-DeleteConfigRule-mlwarden-rule.json": set(),
    "handwritten/cloudtrail-config-PutConfigRule-mlwarden-scope-narrowed.json": set(),
    "handwritten/cloudtrail-config-PutConfigRule-named-by-arn-only.json": set(),
    "handwritten/cloudtrail-events-DisableRule-mlwarden-rule.json": set(),
    "handwritten/cloudtrail-events-DisableRule-other-rule.json": set(),
    "handwritten/cloudtrail-events-PutRule-tamper-watch-control-disabled.json": set(),
    "handwritten/cloudtrail-events-RemoveTargets-mlwarden-rule.json": set(),
    "handwritten/cloudtrail-scheduler-DeleteSchedule-mlwarden-sweep.json": set(),
    "handwritten/cloudtrail-scheduler-UpdateSchedule-mlwarden-sweep-disabled.json": set(),
    "macie/aws-samples-reveal-SensitiveData-Multiple-csv-ssn-ccn.json": {"macie-sensitive-data"},
    "macie/siemplify-doc-SensitiveData-Personal-unencrypted-bucket.json": {"macie-sensitive-data"},
    # Security Hub v2 (OCSF): a FAILED control no rule owns; an owned control (IAM.1) that PASSED
    "securityhub-ocsf/elastic-securityhub-v2-SQS.1-FAILED.json": set(),
    "securityhub-ocsf/elastic-securityhub-v2-IAM.1-policy-PASSED.json": set(),
    "handwritten/ocsf-securityhub-v2-S3.8-bucket-bpa-FAILED.json": {"s3-bucket-public-access"},
    "securityhub/asr-afsbp-S3.2-public-read-PASSED.json": set(),  # PASSED: never routed
    "securityhub/asr-afsbp-S3.8-bucket-bpa-FAILED.json": {
        "s3-bucket-public-access"
    },  # FAILED S3.8: the rule owning the control
}


def test_every_event_file_has_an_expected_routing():
    files = set(sample_files())
    assert files - set(EXPECTED) == set(), "new event file: add the rules it must reach to EXPECTED"
    assert set(EXPECTED) - files == set(), "EXPECTED names a file that no longer exists"


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_sample_reaches_exactly_the_expected_rules(relative):
    assert routes(relative) == EXPECTED[relative]


@pytest.mark.parametrize("relative", [f for f in sorted(EXPECTED) if f.startswith("config-invocation/")])
def test_config_invocations_are_not_eventbridge_events(relative):
    delivered = as_delivered(load_event(relative))
    assert events.kind_of(delivered) == events.CONFIG_INVOCATION
    assert pattern_routes(delivered) == set()


def test_stopped_notebook_state_change_reaches_only_the_rules_that_fix_a_stopped_instance():
    # Root access and the platform can only be changed on a stopped instance: those rules wait for the Stopped event.
    event = load_event("handwritten/eventbridge-sagemaker-NotebookInstanceStateChange-InService.json")
    event["detail"]["NotebookInstanceStatus"] = "Stopped"
    assert pattern_routes(event) == {"sagemaker-notebook-platform", "sagemaker-notebook-root-access"}


@pytest.mark.parametrize(
    ("policy_arn", "reaches"),
    [
        ("arn:aws:iam::aws:policy/AmazonSageMakerFullAccess", True),
        ("arn:aws-us-gov:iam::aws:policy/AmazonBedrockFullAccess", True),
        ("arn:aws:iam::aws:policy/BedrockAgentCoreFullAccess", True),
        ("arn:aws:iam::aws:policy/amazonsagemakerfullaccess", True),  # however IAM may take its case
        ("arn:aws:iam::123456789012:policy/AmazonSageMakerFullAccess", False),  # a customer policy of that name
        ("arn:aws:iam::aws:policy/AmazonSageMakerReadOnly", False),
    ],
)
def test_only_attaching_the_three_full_access_policies_reaches_ml_role_full_access_policy(policy_arn, reaches):
    event = as_delivered(load_event("handwritten/cloudtrail-iam-AttachRolePolicy-AmazonSageMakerFullAccess.json"))
    event["detail"]["requestParameters"]["policyArn"] = policy_arn
    assert ("ml-role-full-access-policy" in pattern_routes(event)) is reaches
