"""Pure judgements of the access rules (issue 4): who is "everyone", which ports are open, what is "admin"."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from mlwarden.rules.ec2_security_group_open_ingress import disallowed_ports, offending_rules, open_to_everyone
from mlwarden.rules.iam_admin_policy_attached import (
    admin_statements,
    arn_identity,
    is_aws_administrator_access,
    is_service_linked,
)
from mlwarden.rules.inspector_critical_finding import fix_text, summarize


@pytest.mark.parametrize(
    ("cidr", "everyone"),
    [
        ("0.0.0.0/0", True),
        ("203.0.113.7/0", True),  # host bits are ignored: still every address
        ("::/0", True),
        ("2001:db8::1/0", True),
        ("0.0.0.0/1", False),
        ("10.0.0.0/8", False),
        ("::/1", False),
        ("", False),
        (None, False),
        ("not-a-cidr", False),
    ],
)
def test_open_to_everyone(cidr, everyone):
    assert open_to_everyone(cidr) is everyone


WEB = {80, 443}


@pytest.mark.parametrize(
    ("protocol", "low", "high", "opens"),
    [
        ("tcp", 443, 443, None),
        ("tcp", 80, 80, None),
        ("6", 22, 22, "tcp 22"),
        ("udp", 443, 443, None),
        ("tcp", 443, 444, "tcp 443-444"),
        ("tcp", 0, 65535, "tcp 0-65535"),
        ("-1", -1, -1, "all traffic, every port"),
        ("tcp", -1, -1, "tcp every port"),
        ("icmp", -1, -1, None),
        ("50", None, None, None),
    ],
)
def test_disallowed_ports(protocol, low, high, opens):
    assert disallowed_ports({"IpProtocol": protocol, "FromPort": low, "ToPort": high}, WEB) == opens


def test_only_internet_facing_ingress_rules_offend():
    rules = [
        {"SecurityGroupRuleId": "sgr-egress", "IsEgress": True, "IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"},
        {
            "SecurityGroupRuleId": "sgr-narrow",
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "CidrIpv4": "10.0.0.0/8",
        },
        {
            "SecurityGroupRuleId": "sgr-peer",
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "ReferencedGroupInfo": {"GroupId": "sg-1"},
        },
        {
            "SecurityGroupRuleId": "sgr-ssh6",
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "CidrIpv6": "::/0",
        },
    ]
    assert [r["SecurityGroupRuleId"] for r in offending_rules(rules, WEB)] == ["sgr-ssh6"]


def _ingress(rule_id, cidr=None, low=22, high=22, protocol="tcp", prefix_list=None):
    rule = {"SecurityGroupRuleId": rule_id, "IsEgress": False, "IpProtocol": protocol, "FromPort": low, "ToPort": high}
    if prefix_list:
        rule["PrefixListId"] = prefix_list
    elif cidr and ":" in cidr:
        rule["CidrIpv6"] = cidr
    else:
        rule["CidrIpv4"] = cidr
    return rule


def _ids(rules, prefix_lists=None):
    bad = offending_rules(rules, WEB, prefix_lists) if prefix_lists else offending_rules(rules, WEB)
    return sorted(r["SecurityGroupRuleId"] for r in bad)


def test_attack_two_half_internet_ranges_open_ssh_together():
    rules = [_ingress("sgr-low", "0.0.0.0/1"), _ingress("sgr-high", "128.0.0.0/1"), _ingress("sgr-lan", "10.0.0.0/8")]
    bad = offending_rules(rules, WEB)
    # Both halves are revoked (together they are every address); the narrow rule stays.
    assert sorted(r["SecurityGroupRuleId"] for r in bad) == ["sgr-high", "sgr-low"]
    assert bad[0]["together_with"] == ["sgr-high"]


def test_attack_ipv6_halves_and_overlapping_port_ranges_open_ssh_together():
    rules = [_ingress("sgr-a", "::/1", 0, 100), _ingress("sgr-b", "8000::/1", 20, 30)]
    assert _ids(rules) == ["sgr-a", "sgr-b"]


def test_attack_all_traffic_half_plus_ssh_half_is_open():
    rules = [_ingress("sgr-all", "0.0.0.0/1", -1, -1, protocol="-1"), _ingress("sgr-ssh", "128.0.0.0/1")]
    assert _ids(rules) == ["sgr-all", "sgr-ssh"]


def test_attack_managed_prefix_list_holding_the_internet_opens_ssh():
    rules = [_ingress("sgr-pl", prefix_list="pl-1"), _ingress("sgr-half", "128.0.0.0/1", prefix_list=None)]
    assert _ids(rules[:1], {"pl-1": ["0.0.0.0/0"]}) == ["sgr-pl"]
    assert _ids(rules, {"pl-1": ["0.0.0.0/1", "10.0.0.0/8"]}) == ["sgr-half", "sgr-pl"]
    assert _ids(rules, {"pl-1": ["10.0.0.0/8"]}) == []


def test_union_rules_keep_web_ports_and_disjoint_port_halves_compliant():
    # Halves on the web ports only, or halves that never reach the same port, open nothing.
    assert _ids([_ingress("a", "0.0.0.0/1", 443, 443), _ingress("b", "128.0.0.0/1", 443, 443)]) == []
    assert _ids([_ingress("a", "0.0.0.0/1", 22, 22), _ingress("b", "128.0.0.0/1", 23, 23)]) == []
    assert _ids([_ingress("a", "0.0.0.0/1", 22, 22), _ingress("b", "8000::/1", 22, 22)]) == []


def test_redundant_coverage_revokes_until_what_is_left_is_not_everyone():
    rules = [_ingress("whole", "0.0.0.0/0"), _ingress("low", "0.0.0.0/1"), _ingress("high", "128.0.0.0/1")]
    assert _ids(rules) == ["high", "low", "whole"]
    assert _ids([_ingress("whole", "0.0.0.0/0"), _ingress("lan", "10.0.0.0/8")]) == ["whole"]


@pytest.mark.parametrize(
    ("statement", "admin"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": ["s3:GetObject", "*:*"], "Resource": ["arn:aws:s3:::b", "*"]}, True),
        ({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}, False),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, False),
        ({"Effect": "Deny", "Action": "*", "Resource": "*"}, False),
        # An Allow with NotAction grants every action but those named: admin-equivalent on every resource,
        # unless it names every IAM action (AWS's PowerUserAccess): without IAM no grant can be widened.
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, False),
        ({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"}, False),
        ({"Effect": "Allow", "NotAction": "iam:Delete*", "Resource": "*"}, True),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b/*"}, False),
        ({"Effect": "Allow", "NotAction": "*", "Resource": "*"}, False),  # excludes every action: grants none
        ({"Effect": "Allow", "Action": "*", "NotResource": "*"}, False),  # excludes every resource
        ({"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::1:role/x"}, False),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:*"}, False),
        ({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::*"}, False),
        ({"Effect": "Allow", "Action": "*", "Resource": "arn:*:*:*:*:*:*"}, False),  # 7 segments: not every ARN
        ({"Effect": "Allow", "Action": "s*", "Resource": "*"}, False),
        ({"Effect": "Allow", "Action": "*:Get*", "Resource": "*"}, False),
    ],
)
def test_admin_statements(statement, admin):
    assert bool(admin_statements({"Statement": [statement]})) is admin


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "NotAction": "iam:PassRole", "Resource": "*"},
        {"Effect": "Allow", "NotAction": ["iam:CreateUser", "organizations:*"], "Resource": ["*"]},
        {"Effect": "Allow", "NotAction": [], "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:PassRole", "NotResource": "arn:aws:iam::123456789012:role/x"},
    ],
)
def test_attack_notaction_allow_is_admin(statement):
    assert admin_statements({"Statement": [statement]}) == ["statement 1"]


@pytest.mark.parametrize(
    "resource", ["arn:*", "arn:*:*", "*:*", "ARN:*", "arn:aws:*", "arn:aws:*:*:*:*", "arn:*:*:*:*:*"]
)
def test_attack_resource_pattern_matching_every_arn_is_admin(resource):
    assert admin_statements({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": resource}]})


@pytest.mark.parametrize("not_resource", ["arn:aws:s3:::audit-logs", ["arn:aws:iam::*:role/breakglass"], []])
def test_attack_notresource_allow_is_admin(not_resource):
    assert admin_statements({"Statement": [{"Effect": "Allow", "Action": "*:*", "NotResource": not_resource}]})


@pytest.mark.parametrize("action", ["?*", "**", "*:*", "*?", "?*:*", "*:?*", ["s3:GetObject", "***"], " * "])
def test_attack_action_pattern_matching_every_action_is_admin(action):
    assert admin_statements({"Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def test_admin_statements_reads_url_encoded_documents_and_single_statements():
    document = {"Version": "2012-10-17", "Statement": {"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}}
    assert admin_statements(quote(json.dumps(document))) == ["All"]
    assert admin_statements("") == []


def test_aws_administrator_access_and_arn_identity():
    assert is_aws_administrator_access("arn:aws:iam::aws:policy/AdministratorAccess")
    assert not is_aws_administrator_access("arn:aws:iam::123456789012:policy/AdministratorAccess")
    assert not is_aws_administrator_access("arn:aws:iam::aws:policy/job-function/SystemAdministrator")
    assert arn_identity("arn:aws:iam::123456789012:role/emergency/break-glass") == (
        "123456789012",
        "role",
        "break-glass",
    )
    assert arn_identity("arn:aws:s3:::bucket") is None


def test_inspector_summary_names_what_to_update():
    finding = {
        "findingArn": "arn:aws:inspector2:us-east-1:123456789012:finding/abc",
        "severity": "CRITICAL",
        "type": "PACKAGE_VULNERABILITY",
        "packageVulnerabilityDetails": {
            "vulnerabilityId": "CVE-2023-30861",
            "vulnerablePackages": [
                {"name": "flask", "version": "2.0.0", "fixedInVersion": "2.3.2", "filePath": "requirements.txt"},
                {"name": "werkzeug", "version": "1.0.0"},
            ],
        },
        "resources": [
            {"type": "AWS_LAMBDA_FUNCTION", "id": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"}
        ],
    }
    summary = summarize(finding)
    assert summary["packages"][0] == {
        "name": "flask",
        "installed": "2.0.0",
        "fixed_in": "2.3.2",
        "path": "requirements.txt",
    }
    assert fix_text(summary) == (
        "update flask from 2.0.0 to 2.3.2; werkzeug 1.0.0 has no fixed version yet: mitigate or remove it; "
        "rebuild the deployment package or layer and redeploy the function"
    )


@pytest.mark.parametrize(
    ("arn_or_path", "linked"),
    [
        ("arn:aws:iam::123456789012:role/aws-service-role/sagemaker.amazonaws.com/AWSServiceRoleForSageMaker", True),
        ("/aws-service-role/sagemaker.amazonaws.com/", True),
        ("arn:aws:iam::123456789012:role/AWSServiceRoleForSageMaker", False),  # a name proves nothing
        ("arn:aws:iam::123456789012:role/team/aws-service-role/Admin", False),  # the path must start with it
        ("/team/aws-service-role/", False),
        ("/", False),
    ],
)
def test_attack_service_linked_role_is_told_by_its_path_not_its_name(arn_or_path, linked):
    assert is_service_linked("role", arn_or_path) is linked
