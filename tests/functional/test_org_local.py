"""The local organization (cli/local_org.py) the organization tests and `mlwarden demo --org` run on.

These prove the harness itself: accounts are separate, the OUs hold the accounts the StackSet would reach, and
the moto fidelity patches make moto do what AWS does (and are undone afterwards).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from mlwarden.cli import local_org
from mlwarden.cli.local_org import CENTRAL_ACCOUNT, PRODUCTION_OU, SANDBOX_OU, SECOND_REGION

SANDBOX, PRODUCTION = (m[1] for m in local_org.MEMBERS)


@pytest.fixture
def organization(aws):
    with local_org.aws_fidelity():
        yield local_org.create_local_organization(aws.endpoint)


def test_the_organization_has_the_ids_of_its_cdk_json_block(organization):
    orgs = organization.client(CENTRAL_ACCOUNT, "organizations")
    assert orgs.describe_organization()["Organization"]["Id"] == local_org.ORGANIZATION_BLOCK["organizationId"]
    assert {
        ou["Id"]
        for ou in orgs.list_organizational_units_for_parent(ParentId=organization.root_id)["OrganizationalUnits"]
    } == set(local_org.ORGANIZATION_BLOCK["organizationalUnitIds"])
    assert [m.account for m in organization.accounts_in([SANDBOX_OU])] == [SANDBOX]
    assert [m.account for m in organization.accounts_in([PRODUCTION_OU])] == [PRODUCTION]
    # the root reaches both members through their OUs, never the management (central) account
    assert [m.account for m in organization.accounts_in([organization.root_id])] == [SANDBOX, PRODUCTION]


def test_each_account_acts_only_in_itself(organization):
    sandbox_s3 = organization.client(SANDBOX, "s3")
    sandbox_s3.create_bucket(Bucket="only-in-sandbox")
    identity = organization.client(SANDBOX, "sts").get_caller_identity()
    assert identity["Account"] == SANDBOX
    assert identity["Arn"].endswith(f":assumed-role/{local_org.ADMIN_ROLE}/mlwarden-local")
    assert [b["Name"] for b in sandbox_s3.list_buckets()["Buckets"]] == ["only-in-sandbox"]
    assert organization.client(PRODUCTION, "s3").list_buckets()["Buckets"] == []
    assert organization.client(CENTRAL_ACCOUNT, "s3").list_buckets()["Buckets"] == []


def _central_queue(organization):
    events = organization.client(CENTRAL_ACCOUNT, "events")
    sqs = organization.client(CENTRAL_ACCOUNT, "sqs")
    events.create_event_bus(Name="mlwarden-central")
    url = sqs.create_queue(QueueName="central-target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="s3-calls", EventBusName="mlwarden-central", EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule="s3-calls", EventBusName="mlwarden-central", Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def test_an_event_forwarded_to_the_central_bus_keeps_its_account_region_and_resources(organization):
    sqs, url = _central_queue(organization)
    member_events = organization.client(SANDBOX, "events", SECOND_REGION)
    member_events.put_rule(Name="forward", EventPattern=json.dumps({"source": ["aws.s3"]}))
    member_events.put_targets(
        Rule="forward",
        Targets=[
            {
                "Id": "central",
                "Arn": f"arn:aws:events:us-east-1:{CENTRAL_ACCOUNT}:event-bus/mlwarden-central",
                "RoleArn": f"arn:aws:iam::{SANDBOX}:role/forwarder",
            }
        ],
    )
    member_events.put_events(
        Entries=[
            {"Source": "aws.s3", "DetailType": "x", "Detail": "{}", "Resources": ["arn:aws:s3:::b"]},
            {"Source": "aws.ec2", "DetailType": "x", "Detail": "{}"},  # matches no forwarding rule
        ]
    )
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert (event["account"], event["region"], event["resources"]) == (SANDBOX, SECOND_REGION, ["arn:aws:s3:::b"])


def test_assume_role_is_denied_for_a_missing_role_and_a_wrong_external_id(organization, aws):
    missing = f"arn:aws:iam::{PRODUCTION}:role/mlwarden-member-nothing-here"
    with pytest.raises(ClientError) as denied:
        local_org.assumed_session(aws.endpoint, missing, "us-east-1")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert missing in denied.value.response["Error"]["Message"]

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{CENTRAL_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "mlwarden-o-mlwarden01"}},
            }
        ],
    }
    organization.client(PRODUCTION, "iam").create_role(RoleName="guarded", AssumeRolePolicyDocument=json.dumps(trust))
    guarded = f"arn:aws:iam::{PRODUCTION}:role/guarded"
    for wrong in ({}, {"ExternalId": "mlwarden-o-someoneelse"}):
        with pytest.raises(ClientError) as denied:
            local_org.assumed_session(aws.endpoint, guarded, "us-east-1", **wrong)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
    session = local_org.assumed_session(aws.endpoint, guarded, "us-east-1", ExternalId="mlwarden-o-mlwarden01")
    identity = session.client("sts", endpoint_url=aws.endpoint).get_caller_identity()
    assert identity["Account"] == PRODUCTION


def test_the_fidelity_patches_are_undone_afterwards(aws):
    # moto as it is: a role that does not exist can be assumed (the other tests of the session rely on moto)
    with local_org.aws_fidelity(), pytest.raises(ClientError):
        local_org.assumed_session(aws.endpoint, f"arn:aws:iam::{PRODUCTION}:role/absent", "us-east-1")
    session = local_org.assumed_session(aws.endpoint, f"arn:aws:iam::{PRODUCTION}:role/absent", "us-east-1")
    assert session.client("sts", endpoint_url=aws.endpoint).get_caller_identity()["Account"] == PRODUCTION


def test_the_resolver_reads_the_intrinsics_of_a_member_template():
    template = {
        "Parameters": {"CentralAccount": {"Type": "String"}, "Flag": {"Type": "String", "Default": "x"}},
        "Conditions": {"IsGlobal": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}},
    }
    resolver = local_org.Resolver(
        template, account=SANDBOX, region=SECOND_REGION, parameters={"CentralAccount": CENTRAL_ACCOUNT}
    )
    assert resolver.condition("IsGlobal") is False
    assert resolver.value({"Fn::Sub": "arn:${AWS::Partition}:events:us-east-1:${CentralAccount}:event-bus/b"}) == (
        f"arn:aws:events:us-east-1:{CENTRAL_ACCOUNT}:event-bus/b"
    )
    assert resolver.value({"Fn::If": ["IsGlobal", "yes", {"Ref": "Flag"}]}) == "x"
    assert resolver.value({"Fn::Join": ["", ["a", {"Ref": "AWS::AccountId"}]]}) == f"a{SANDBOX}"
    with pytest.raises(local_org.TemplateError):
        resolver.value({"Fn::ImportValue": "elsewhere"})
    with pytest.raises(local_org.TemplateError):
        resolver.value({"Ref": "NotDeployed"})
    with pytest.raises(local_org.TemplateError, match="CentralAccount"):
        local_org.Resolver(template, account=SANDBOX, region=SECOND_REGION, parameters={})
