"""ec2-security-group-open-ingress against the local account: a group opening a non-web port to the internet is
reported, and in remediate mode exactly the offending rules are revoked; web ports, narrow ranges, deleted
groups and exempt groups are left alone."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXEMPT_UNTIL, as_cloudtrail_event, load_event
from tests.functional.conftest import assert_exempt_alert

RULE = "ec2-security-group-open-ingress"
AUTHORIZE_EVENT = "handwritten/cloudtrail-ec2-AuthorizeSecurityGroupIngress-ssh-0.0.0.0.json"
MODIFY_EVENT = "handwritten/cloudtrail-ec2-ModifySecurityGroupRules-all-tcp-0.0.0.0.json"


def authorize_event(group_id: str) -> dict:
    return as_cloudtrail_event(load_event(AUTHORIZE_EVENT), requestParameters__groupId=group_id)


def modify_event(group_id: str) -> dict:
    event = as_cloudtrail_event(load_event(MODIFY_EVENT))
    event["detail"]["requestParameters"]["ModifySecurityGroupRulesRequest"]["GroupId"] = group_id
    return event


def security_group(aws, name: str = "training", tags: dict[str, str] | None = None) -> str:
    ec2 = aws.client("ec2")
    vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    extra = (
        {
            "TagSpecifications": [
                {"ResourceType": "security-group", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        }
        if tags
        else {}
    )
    return ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id, **extra)["GroupId"]


def allow(aws, group_id: str, protocol: str, low: int, high: int, *, cidr: str = "0.0.0.0/0", v6: bool = False) -> str:
    ranges = {"Ipv6Ranges": [{"CidrIpv6": cidr}]} if v6 else {"IpRanges": [{"CidrIp": cidr}]}
    answer = aws.client("ec2").authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[{"IpProtocol": protocol, "FromPort": low, "ToPort": high, **ranges}]
    )
    return answer["SecurityGroupRules"][0]["SecurityGroupRuleId"]


def ingress(aws, group_id: str) -> dict[str, tuple]:
    rules = aws.client("ec2").describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return {
        r["SecurityGroupRuleId"]: (
            r["IpProtocol"],
            r.get("FromPort"),
            r.get("ToPort"),
            r.get("CidrIpv4") or r.get("CidrIpv6"),
        )
        for r in rules["SecurityGroupRules"]
        if not r["IsEgress"]
    }


def test_ssh_open_to_the_internet_in_notify_mode_alerts_and_changes_nothing(aws, harness):
    # Given a group with HTTPS and SSH open to everyone
    group = security_group(aws)
    https = allow(aws, group, "tcp", 443, 443)
    ssh = allow(aws, group, "tcp", 22, 22)
    # When CloudTrail reports the SSH rule being added
    run = harness.invoke(RULE, authorize_event(group))
    # Then the group is non-compliant because of SSH only, and one alert names the rule to revoke
    decision = run.decision
    assert decision["compliance"] == "NON_COMPLIANT"
    assert decision["action"] == "notified"
    assert decision["resource_arn"] == f"arn:aws:ec2:us-east-1:123456789012:security-group/{group}"
    assert decision["controls"] == ["EC2.18", "EC2.19", "EC2.13", "EC2.14"]
    assert f"tcp 22 from 0.0.0.0/0 ({ssh})" in decision["reason"]
    assert https not in decision["reason"]
    alert = run.alerts[0]
    assert alert["subject"] == f"[HIGH] {RULE}: {group} non-compliant"
    assert alert["attributes"] == {"severity": "HIGH", "rule_id": RULE, "status": "notified"}
    assert alert["body"]["remediation"].startswith(f"revoke ingress rule(s) {ssh}")
    assert [r["SecurityGroupRuleId"] for r in alert["body"]["before"]["offending_rules"]] == [ssh]
    assert f"groupId={group}" in alert["body"]["console_url"]
    # and nothing was revoked
    assert set(ingress(aws, group)) == {https, ssh}


def test_remediate_mode_revokes_exactly_the_offending_rules(aws, harness):
    # Given open web ports, SSH open to a narrow range, and two rules open to the internet on other ports
    group = security_group(aws)
    web = allow(aws, group, "tcp", 80, 80)
    narrow_ssh = allow(aws, group, "tcp", 22, 22, cidr="10.0.0.0/8")
    postgres = allow(aws, group, "tcp", 5432, 5432)
    jupyter_v6 = allow(aws, group, "tcp", 8888, 8888, cidr="::/0", v6=True)
    harness.set_mode(RULE, "remediate")
    calls = harness.clients
    run = harness.invoke(RULE, authorize_event(group))
    assert run.decision["action"] == "remediated"
    # Then only the two internet-facing non-web rules are gone, in one call naming them by id
    revokes = [c for c in calls.calls if c.operation == "RevokeSecurityGroupIngress"]
    assert len(revokes) == 1
    assert sorted(revokes[0].params["SecurityGroupRuleIds"]) == sorted([postgres, jupyter_v6])
    assert set(ingress(aws, group)) == {web, narrow_ssh}
    alert = run.alerts[0]
    assert alert["attributes"]["status"] == "remediated"
    assert sorted(alert["body"]["after"]["revoked"]) == sorted([postgres, jupyter_v6])
    # A second delivery of the same event finds nothing to revoke
    calls.clear()
    second = harness.invoke(RULE, authorize_event(group))
    assert second.decision["compliance"] == "COMPLIANT"
    assert "RevokeSecurityGroupIngress" not in calls.operations("ec2")
    assert second.alerts == []


def test_a_prefix_of_length_zero_is_everyone_whatever_its_host_bits(aws, harness):
    # 203.0.113.7/0 matches every IPv4 address, exactly like 0.0.0.0/0
    group = security_group(aws)
    allow(aws, group, "tcp", 3389, 3389, cidr="203.0.113.7/0")
    run = harness.invoke(RULE, authorize_event(group))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert "tcp 3389 from 203.0.113.7/0" in run.decision["reason"]


def test_all_traffic_rule_from_modify_event_is_critical(aws, harness):
    group = security_group(aws)
    everything = allow(aws, group, "-1", -1, -1)
    run = harness.invoke(RULE, modify_event(group))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert f"all traffic, every port from 0.0.0.0/0 ({everything})" in run.decision["reason"]
    assert run.alerts[0]["subject"] == f"[CRITICAL] {RULE}: {group} non-compliant"


def test_port_range_that_includes_a_non_web_port_is_a_violation(aws, harness):
    group = security_group(aws)
    allow(aws, group, "tcp", 443, 444)
    run = harness.invoke(RULE, authorize_event(group))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert "tcp 443-444" in run.decision["reason"]


def test_web_ports_and_narrow_ranges_are_compliant_and_silent(aws, harness):
    group = security_group(aws)
    allow(aws, group, "tcp", 443, 443)
    allow(aws, group, "tcp", 80, 80, cidr="::/0", v6=True)
    allow(aws, group, "tcp", 22, 22, cidr="192.0.2.0/24")
    allow(aws, group, "icmp", -1, -1)  # ICMP has no ports
    harness.set_mode(RULE, "remediate")
    run = harness.invoke(RULE, authorize_event(group))
    assert run.decision["compliance"] == "COMPLIANT"
    assert run.decision["reason"] == "no ingress rule opens a port other than 80, 443 to the internet"
    assert run.alerts == []


def test_allowed_public_ports_option_widens_what_may_be_public(aws, harness):
    group = security_group(aws)
    allow(aws, group, "tcp", 22, 22)
    run = harness.invoke(RULE, authorize_event(group), options=json.dumps({"allowedPublicPorts": [22, 443]}))
    assert run.decision["compliance"] == "COMPLIANT"
    assert "other than 22, 443" in run.decision["reason"]


def test_deleted_group_is_not_applicable_and_silent(aws, harness):
    run = harness.invoke(RULE, authorize_event("sg-0123456789abcdef9"))
    assert run.decision["compliance"] == "NOT_APPLICABLE"
    assert "no longer exists" in run.decision["reason"]
    assert run.alerts == []


@pytest.mark.parametrize("mode", ["notify", "remediate"])
def test_exempt_group_is_never_changed(aws, harness, mode):
    group = security_group(
        aws,
        "bastion",
        tags={
            "mlwarden:exempt": RULE,
            "mlwarden:exempt-reason": "break-glass bastion",
            "mlwarden:exempt-until": EXEMPT_UNTIL,
        },
    )
    ssh = allow(aws, group, "tcp", 22, 22)
    harness.set_mode(RULE, mode)
    run = harness.invoke(RULE, authorize_event(group))
    assert run.decision["action"] == "exempt"
    assert "break-glass bastion" in run.decision["reason"]
    assert_exempt_alert(run)
    assert ssh in ingress(aws, group)


def test_sweep_judges_every_group_of_the_region(aws, harness):
    open_group = security_group(aws, "open")
    allow(aws, open_group, "tcp", 6006, 6006)  # TensorBoard
    closed_group = security_group(aws, "closed")
    scheduled = {
        "version": "1.0",
        "invokingEvent": json.dumps(
            {"messageType": "ScheduledNotification", "notificationCreationTime": "2026-11-25T10:00:00Z"}
        ),
        "ruleParameters": "{}",
        "resultToken": "TESTMODE",
        "eventLeftScope": False,
        "executionRoleArn": "arn:aws:iam::123456789012:role/config",
        "configRuleArn": "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-ec2",
        "configRuleName": f"mlwarden-{RULE}",
        "configRuleId": "config-rule-ec2",
        "accountId": "123456789012",
    }
    run = harness.invoke(RULE, scheduled)
    verdicts = {d["resource_id"]: d["compliance"] for d in run.decisions}
    assert verdicts[open_group] == "NON_COMPLIANT"
    assert verdicts[closed_group] == "COMPLIANT"


def test_attack_two_half_internet_ranges_on_ssh_are_revoked_together_and_nothing_else(aws, harness):
    # Given SSH opened to 0.0.0.0/1 and 128.0.0.0/1 (together every address) and to a narrow range
    group = security_group(aws)
    low = allow(aws, group, "tcp", 22, 22, cidr="0.0.0.0/1")
    high = allow(aws, group, "tcp", 22, 22, cidr="128.0.0.0/1")
    narrow = allow(aws, group, "tcp", 22, 22, cidr="10.0.0.0/8")
    web = allow(aws, group, "tcp", 443, 443, cidr="0.0.0.0/1")
    run = harness.invoke(RULE, authorize_event(group))
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert f"tcp 22 from 0.0.0.0/1 ({low}) — with {high} every address" in run.decision["reason"]
    # In remediate mode exactly the two halves are revoked; the narrow and web rules stay
    harness.set_mode(RULE, "remediate")
    harness.clients.clear()
    fixed = harness.invoke(RULE, authorize_event(group))
    assert fixed.decision["action"] == "remediated"
    revokes = [c for c in harness.clients.calls if c.operation == "RevokeSecurityGroupIngress"]
    assert sorted(revokes[0].params["SecurityGroupRuleIds"]) == sorted([low, high])
    assert set(ingress(aws, group)) == {narrow, web}
    # No prefix list is referenced, so none was read
    assert "GetManagedPrefixListEntries" not in harness.clients.operations("ec2")


def test_attack_managed_prefix_list_holding_the_internet_opens_ssh(aws, harness):
    # Given a managed prefix list holding 0.0.0.0/0, referenced by an SSH rule
    ec2 = aws.client("ec2")
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName="everyone", AddressFamily="IPv4", MaxEntries=5, Entries=[{"Cidr": "0.0.0.0/0"}]
    )["PrefixList"]["PrefixListId"]
    group = security_group(aws)
    answer = ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": prefix_list}]}
        ],
    )
    rule_id = answer["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    narrow = allow(aws, group, "tcp", 22, 22, cidr="10.0.0.0/8")
    run = harness.invoke(RULE, authorize_event(group))
    # Then the list's entries are read and the rule is judged open to the internet
    assert run.decision["compliance"] == "NON_COMPLIANT"
    assert f"tcp 22 from prefix list {prefix_list} (0.0.0.0/0) ({rule_id})" in run.decision["reason"]
    assert "GetManagedPrefixListEntries" in harness.clients.operations("ec2")
    harness.set_mode(RULE, "remediate")
    fixed = harness.invoke(RULE, authorize_event(group))
    assert fixed.decision["action"] == "remediated"
    assert set(ingress(aws, group)) == {narrow}
