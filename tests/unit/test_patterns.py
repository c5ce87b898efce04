"""EventBridge patterns derived from the rule specs (what the stack deploys and the CLI routes with)."""

from __future__ import annotations

import copy
import json

import pytest
from moto.events.models import EventPattern

from mlwarden.core.patterns import CLOUDTRAIL_DETAIL_TYPE, Deployment, event_patterns, matches
from mlwarden.core.registry import all_rules, get_rule
from tests.conftest import as_cloudtrail_event, load_event

RULE_IDS = [r.spec.id for r in all_rules()]
ROUTED_FINDINGS = (["aws.securityhub"], ["aws.config"])


def own_patterns(rule_id: str) -> list[dict]:
    """The rule's own triggers, without the Security Hub / Config compliance routing (tested below)."""
    return [p for p in event_patterns(get_rule(rule_id).spec) if p["source"] not in ROUTED_FINDINGS]


def test_s3_kms_rule_listens_to_successful_encryption_calls_only():
    assert own_patterns("s3-bucket-kms-encryption") == [
        {
            "source": ["aws.s3"],
            "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
            "detail": {
                "eventSource": ["s3.amazonaws.com"],
                "eventName": ["CreateBucket", "DeleteBucketEncryption", "PutBucketEncryption"],
                "errorCode": [{"exists": False}],
            },
        }
    ]


def test_notebook_rule_listens_to_creation_start_and_running_states():
    assert own_patterns("sagemaker-notebook-direct-internet") == [
        {
            "source": ["aws.sagemaker"],
            "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
            "detail": {
                "eventSource": ["sagemaker.amazonaws.com"],
                "eventName": ["CreateNotebookInstance", "StartNotebookInstance"],
                "errorCode": [{"exists": False}],
            },
        },
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Notebook Instance State Change"],
            "detail": {"NotebookInstanceStatus": ["Pending", "InService"]},
        },
    ]


def test_macie_rule_listens_to_sensitive_data_findings_by_type_prefix():
    assert event_patterns(get_rule("macie-sensitive-data").spec) == [
        {
            "source": ["aws.macie"],
            "detail-type": ["Macie Finding"],
            "detail": {"type": [{"prefix": "SensitiveData:S3Object/"}]},
        }
    ]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_cloudtrail_pattern_excludes_failed_calls(rule_id):
    spec = get_rule(rule_id).spec
    cloudtrail = [p for p in event_patterns(spec) if p["detail-type"] == [CLOUDTRAIL_DETAIL_TYPE]]
    assert len(cloudtrail) == len(spec.cloudtrail)
    for pattern, trigger in zip(cloudtrail, spec.cloudtrail, strict=True):
        if trigger.successful_only:
            assert pattern["detail"]["errorCode"] == [{"exists": False}]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_pattern_is_valid_for_eventbridge_and_narrow(rule_id):
    for pattern in event_patterns(get_rule(rule_id).spec):
        EventPattern.load(json.dumps(pattern))  # raises on empty arrays, bare values
        assert pattern["source"] and pattern["detail-type"], "patterns name a source and a detail-type"
        assert all(not s.endswith("*") for s in pattern["source"])


def test_a_failed_call_does_not_match_even_with_the_right_event_name():
    record = load_event("cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json")
    (pattern,) = [EventPattern.load(json.dumps(p)) for p in own_patterns("s3-bucket-kms-encryption")]
    assert pattern.matches_event(as_cloudtrail_event(record))
    denied = as_cloudtrail_event(record, errorCode="AccessDenied", errorMessage="Access Denied")
    assert not pattern.matches_event(denied)


def securityhub_event(*findings: dict) -> dict:
    return {
        "source": "aws.securityhub",
        "detail-type": "Security Hub Findings - Imported",
        "detail": {"findings": list(findings)},
    }


def finding(
    control: str,
    status: str = "FAILED",
    state: str = "ACTIVE",
    generator: str = "aws-fsbp/S3.17",
    workflow: str = "NEW",
    consolidated: bool = True,
) -> dict:
    f = {
        "Compliance": {"Status": status},
        "RecordState": state,
        "GeneratorId": generator,
        "Workflow": {"Status": workflow},
        "ProductFields": {},
    }
    if consolidated:
        f["Compliance"]["SecurityControlId"] = control
    else:
        f["ProductFields"]["ControlId"] = control
    return f


@pytest.mark.parametrize(
    ("findings", "routed"),
    [
        ([finding("S3.17")], True),
        ([finding("S3.17", consolidated=False)], True),  # per-standard findings name the control elsewhere
        ([finding("S3.17", status="PASSED")], False),
        ([finding("S3.17", state="ARCHIVED")], False),
        ([finding("S3.17", workflow="SUPPRESSED")], False),
        ([finding("S3.17", generator="mlwarden/s3-bucket-kms-encryption")], False),  # never our own findings
        ([finding("S3.8")], False),  # another rule's control
        ([finding("S3.8", status="PASSED"), finding("S3.17")], True),  # any finding of the batch
    ],
)
def test_securityhub_findings_reach_the_rule_that_owns_the_control(findings, routed):
    patterns = [
        p
        for p in event_patterns(get_rule("s3-bucket-kms-encryption").spec)
        if p["detail-type"] == ["Security Hub Findings - Imported"]
    ]
    assert len(patterns) == 1
    assert matches(patterns[0], securityhub_event(*findings)) is routed


def ocsf_finding(**changes: object) -> dict:
    """The real Security Hub v2 SQS.1 finding (Elastic's test corpus), re-pointed at S3.17; then the changes
    (dotted paths)."""
    finding = copy.deepcopy(load_event("securityhub-ocsf/elastic-securityhub-v2-SQS.1-FAILED.json"))
    finding["compliance"]["control"] = "S3.17"
    for dotted, value in {"compliance.status_id": 3, **changes}.items():
        *path, last = dotted.split(".")
        target = finding
        for part in path:
            target = target[part]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return finding


def ocsf_event(finding: dict) -> dict:
    return {"source": "aws.securityhub", "detail-type": "Findings Imported V2", "detail": {"findings": [finding]}}


@pytest.mark.parametrize(
    ("changes", "routed"),
    [
        ({}, True),
        ({"compliance.status_id": 1, "compliance.status": "Pass"}, False),
        ({"compliance.status_id": 2, "compliance.status": "Warning"}, False),
        ({"activity_id": 3, "activity_name": "Close"}, False),  # closed finding
        ({"status_id": 3, "status": "Suppressed"}, False),
        ({"status_id": 5, "status": "Archived"}, False),
        ({"status_id": 4, "status": "Resolved"}, True),  # as for ASFF: resolved-but-failed is judged again
        ({"compliance.control": "S3.8"}, False),  # another rule's control
        ({"class_uid": 2004, "class_name": "Detection Finding"}, False),
        # never mlwarden's own findings, nor any account's product (e.g. mlwarden's ASFF import seen as OCSF)
        ({"finding_info.uid": "mlwarden/s3-bucket-kms-encryption/arn:aws:s3:::b"}, False),
        ({"metadata.product.uid": "arn:aws:securityhub:us-east-2:123456789012:product/123456789012/default"}, False),
        ({"metadata.product.uid": "arn:aws:securityhub:us-east-2::productv2/aws/securityhub-coverage"}, False),
        ({"metadata.product.uid": "arn:aws:securityhub:us-east-2::productv2/aws/guardduty"}, False),
        ({"metadata.product.uid": None}, False),
    ],
)
def test_ocsf_findings_reach_the_rule_that_owns_the_control(changes, routed):
    from mlwarden.core.findings import is_routable_ocsf

    rule = get_rule("s3-bucket-kms-encryption")
    (pattern,) = [p for p in event_patterns(rule.spec) if p["detail-type"] == ["Findings Imported V2"]]
    finding = ocsf_finding(**changes)
    assert matches(pattern, ocsf_event(finding)) is routed
    assert is_routable_ocsf(finding, rule.spec.controls) is routed  # the engine's second line agrees


@pytest.mark.parametrize(
    ("rule_name", "compliance", "routed"),
    [
        ("s3-default-encryption-kms", "NON_COMPLIANT", True),
        ("s3-default-encryption-kms-conformance-pack-abcd1234", "NON_COMPLIANT", True),
        ("s3-default-encryption-kms", "COMPLIANT", False),
        ("mlwarden-s3-bucket-kms-encryption", "NON_COMPLIANT", False),
        ("cloudwatch-log-group-retention-period-check", "NON_COMPLIANT", False),
    ],
)
def test_config_compliance_changes_of_mapped_managed_rules_reach_the_rule(rule_name, compliance, routed):
    (pattern,) = [p for p in event_patterns(get_rule("s3-bucket-kms-encryption").spec) if p["source"] == ["aws.config"]]
    event = {
        "source": "aws.config",
        "detail-type": "Config Rules Compliance Change",
        "detail": {
            "messageType": "ComplianceChangeNotification",
            "configRuleName": rule_name,
            "resourceType": "AWS::S3::Bucket",
            "resourceId": "b",
            "newEvaluationResult": {"complianceType": compliance},
        },
    }
    assert matches(pattern, event) is routed
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is routed  # moto agrees here


def test_our_matcher_agrees_with_moto_on_every_sample_and_pattern():
    from tests.conftest import as_delivered, sample_files

    compared = 0
    for relative in sample_files():
        event = as_delivered(load_event(relative))
        if "detail-type" not in event:
            continue
        for rule in all_rules():
            for pattern in event_patterns(rule.spec):
                if pattern["source"] == ["aws.securityhub"]:
                    continue  # moto does not descend into arrays of objects (detail.findings)
                compared += 1
                assert matches(pattern, event) == EventPattern.load(json.dumps(pattern)).matches_event(event), (
                    relative,
                    rule.spec.id,
                )
    assert compared > 50


OWN_ROLE = "arn:aws:iam::123456789012:role/Mlwarden-RuleS3BucketKmsEncryptionRole1A2B-XYZ"
DEPLOYED = Deployment(role_arn=OWN_ROLE, account="123456789012")


def assumed(role: str, session: str, partition: str = "aws") -> dict:
    return {
        "type": "AssumedRole",
        "arn": f"arn:{partition}:sts::123456789012:assumed-role/{role}/{session}",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": f"arn:{partition}:iam::123456789012:role/{role}"},
        },
    }


def admitted(value_filter) -> str:
    """A value the first filter of a request parameter admits (an exact value, or a suffix's)."""
    if isinstance(value_filter, str):
        return value_filter
    suffix = value_filter["suffix"]
    return "arn:aws" + (suffix["equals-ignore-case"] if isinstance(suffix, dict) else suffix)


@pytest.mark.parametrize(
    ("identity", "routed"),
    [
        (assumed("Admin", "alice"), True),
        ({"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/bob"}, True),
        ({"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}, True),  # no issuer: still judged
        # Attack: a session *named* like mlwarden's, from any other role, must not be hidden
        (assumed("Admin", "mlwarden-x"), True),
        (assumed("Admin", "mlwarden-s3-bucket-kms-encryption"), True),
        # An IAM Identity Center user called mlwarden-ops is an ordinary user
        (assumed("AWSReservedSSO_Admin_1234", "mlwarden-ops"), True),
        # Another mlwarden function's role: judged too (the rule re-reads live state)
        (assumed("Mlwarden-RuleIamAdminPolicyAttachedRole9Z-ABC", "anything"), True),
        # This rule's own function role, whatever the session name: never re-triggers it
        (assumed("Mlwarden-RuleS3BucketKmsEncryptionRole1A2B-XYZ", "i-chose-this-name"), False),
    ],
)
@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_attack_session_named_mlwarden_is_not_hidden_only_the_rules_own_role_is(rule_id, identity, routed):
    spec = get_rule(rule_id).spec
    for pattern, trigger in zip(
        [p for p in event_patterns(spec, DEPLOYED) if p["detail-type"] == [CLOUDTRAIL_DETAIL_TYPE]],
        spec.cloudtrail,
        strict=True,
    ):
        event = {
            "source": trigger.source,
            "detail-type": CLOUDTRAIL_DETAIL_TYPE,
            "detail": {
                "eventSource": trigger.event_source,
                "eventName": trigger.event_names[0],
                "userIdentity": identity,
                # A call the trigger's request filter admits (e.g. an AttachRolePolicy of a watched policy)
                "requestParameters": {key: admitted(filters[0]) for key, filters in trigger.request.items()},
            },
        }
        assert matches(pattern, event) is routed
        assert EventPattern.load(json.dumps(pattern)).matches_event(event) is routed


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_no_deployed_pattern_uses_eventbridge_wildcards(rule_id):
    # EventBridge allows at most 30 rules with wildcard filters per bus (not adjustable); mlwarden deploys ~60.
    for pattern in event_patterns(get_rule(rule_id).spec, DEPLOYED):
        assert '"wildcard"' not in json.dumps(pattern)


def _finding_events(account: str) -> list[dict]:
    control = {"Compliance": {"Status": "FAILED", "SecurityControlId": "IAM.1"}, "RecordState": "ACTIVE"}
    return [
        {
            "source": "aws.securityhub",
            "detail-type": "Security Hub Findings - Imported",
            "account": "123456789012",
            "detail": {
                "findings": [
                    {
                        **control,
                        "AwsAccountId": account,
                        "Workflow": {"Status": "NEW"},
                        "GeneratorId": "security-control/IAM.1",
                    }
                ]
            },
        },
        {
            "source": "aws.securityhub",
            "detail-type": "Findings Imported V2",
            "account": "123456789012",
            "detail": {
                "findings": [
                    {
                        "class_uid": 2003,
                        "activity_id": 1,
                        "status_id": 1,
                        "cloud": {"account": {"uid": account}},
                        "compliance": {"control": "IAM.1", "status_id": 3},
                        "metadata": {"product": {"uid": "arn:aws:securityhub:us-east-1::productv2/aws/securityhub"}},
                        "finding_info": {"uid": "arn:aws:securityhub:us-east-1:1:security-control/IAM.1/finding/x"},
                    }
                ]
            },
        },
        {
            "source": "aws.config",
            "detail-type": "Config Rules Compliance Change",
            "account": "123456789012",
            "detail": {
                "awsAccountId": account,
                "messageType": "ComplianceChangeNotification",
                "configRuleName": "s3-default-encryption-kms",
                "newEvaluationResult": {"complianceType": "NON_COMPLIANT"},
            },
        },
        {
            "source": "aws.macie",
            "detail-type": "Macie Finding",
            "account": "123456789012",
            "detail": {"accountId": account, "type": "SensitiveData:S3Object/Personal"},
        },
        {
            "source": "aws.inspector2",
            "detail-type": "Inspector2 Finding",
            "account": "123456789012",
            "detail": {"awsAccountId": account, "status": "ACTIVE", "severity": "CRITICAL"},
        },
    ]


KINDS = ["securityhub", "securityhub-ocsf", "config", "macie", "inspector"]


@pytest.mark.parametrize("kind", KINDS)
def test_attack_finding_about_another_account_is_not_routed_to_this_deployment(kind):
    index = KINDS.index(kind)
    own, other = _finding_events("123456789012")[index], _finding_events("999999999999")[index]
    deployed = [
        p
        for rule in all_rules()
        for p in event_patterns(rule.spec, DEPLOYED)
        if p["source"] == [own["source"]] and p["detail-type"] == [own["detail-type"]]
    ]
    assert deployed
    assert any(matches(p, own) for p in deployed), "the deployment's own findings are routed"
    assert not any(matches(p, other) for p in deployed), "another account's findings are not"


def test_ocsf_resources_are_read_from_the_arn_in_uid_alt_and_global_ones_in_the_findings_region():
    from mlwarden.core.findings import refs_from_securityhub

    # The real IAM.1 sample (an IAM policy, `region: global`, id in uid, ARN in uid_alt), turned to Fail
    finding = copy.deepcopy(load_event("securityhub-ocsf/elastic-securityhub-v2-IAM.1-policy-PASSED.json"))
    finding["compliance"].update(status="Fail", status_id=3)
    finding["status"], finding["status_id"] = "New", 1
    event = ocsf_event(finding)
    (ref,) = refs_from_securityhub(get_rule("iam-admin-policy-attached"), event)
    assert ref.resource_type == "AWS::IAM::Policy"
    assert ref.arn == "arn:aws:iam::123456789012:policy/service-role/Amazon_EventBridge_Invoke_Sqs_1412345678"
    assert (ref.region, ref.account) == ("us-east-2", "123456789012")
    # a resource owned by another account than the finding's is left alone
    finding["resources"][0]["owner"]["account"]["uid"] = "999999999999"
    assert refs_from_securityhub(get_rule("iam-admin-policy-attached"), ocsf_event(finding)) == []
