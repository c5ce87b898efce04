"""A subset of the rules (issue 16): cdk.json ``rules.<id>.deploy: false`` leaves a rule out of the deployment.

The other infra tests use the repository's cdk.json, which deploys every rule; these synthesize with all rules
but one left out.
"""

from __future__ import annotations

import json

import pytest

from mlwarden.core.registry import rule_ids
from mlwarden.core.settings import SettingsError, mode_parameter_name
from mlwarden_cdk.app import build_app
from mlwarden_cdk.guarded_rule import construct_id
from tests.infra.cfn import Synth
from tests.infra.conftest import synthesize

pytestmark = pytest.mark.slow

KEPT = "s3-bucket-kms-encryption"
LEFT_OUT = [rule_id for rule_id in rule_ids() if rule_id != KEPT]
SUBSET = {"mlwarden": {"rules": {rule_id: {"mode": "off", "deploy": False} for rule_id in LEFT_OUT}}}


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(SUBSET, tmp_path_factory.mktemp("cdk-subset"))


def test_rules_at_mode_off_but_left_out_do_not_deploy_their_resources(subset: Synth, default: Synth) -> None:
    # 24 of 25 rules at mode off still deployed ~474 resources; left out, they deploy none of theirs
    per_rule = {
        rule_id: [lid for lid in default.template["Resources"] if lid.startswith(construct_id(rule_id))]
        for rule_id in rule_ids()
    }
    assert all(per_rule.values())
    expected = len(default.template["Resources"]) - sum(len(per_rule[rule_id]) for rule_id in LEFT_OUT)
    assert len(subset.template["Resources"]) == expected
    assert len(subset.template["Resources"]) < len(default.template["Resources"]) / 4
    assert all(len(template["Resources"]) <= 400 for template in subset.templates.values())


@pytest.mark.parametrize("rule_id", LEFT_OUT[:3] + LEFT_OUT[-2:])
def test_a_left_out_rule_gets_no_function_switch_rule_or_widget(subset: Synth, rule_id: str) -> None:
    assert subset.functions_of(rule_id) == []
    assert not [lid for lid in subset.template["Resources"] if lid.startswith(construct_id(rule_id))]
    parameters = {props["Properties"]["Name"] for _, props in subset.resources("AWS::SSM::Parameter")}
    assert mode_parameter_name(rule_id) not in parameters
    (dashboard,) = [r for _, r in subset.resources("AWS::CloudWatch::Dashboard")]
    assert rule_id not in json.dumps(dashboard)


def test_the_kept_rule_is_deployed_whole(subset: Synth) -> None:
    subset.function_of(KEPT)
    assert subset.event_rules_of(KEPT)
    config_rules = [r for _, r in subset.resources("AWS::Config::ConfigRule")]
    assert len(config_rules) == 1
    parameters = {props["Properties"]["Name"] for _, props in subset.resources("AWS::SSM::Parameter")}
    assert mode_parameter_name(KEPT) in parameters
    # only the kept rule's role may publish alerts
    (topic_policy,) = [
        r for _, r in subset.resources("AWS::SNS::TopicPolicy") if "NoPublisherButRuleFunctions" in json.dumps(r)
    ]
    (deny,) = [
        s
        for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "NoPublisherButRuleFunctions"
    ]
    roles = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert roles == [{"Fn::GetAtt": [subset.role_of(KEPT), "Arn"]}] or roles == {
        "Fn::GetAtt": [subset.role_of(KEPT), "Arn"]
    }


def test_enabled_instead_of_deploy_fails_the_synth_and_suggests_deploy() -> None:
    with pytest.raises(
        SettingsError, match=rf"mlwarden.rules.{KEPT}.enabled is not a known key; did you mean deploy\?"
    ):
        build_app({"mlwarden": {"rules": {KEPT: {"enabled": False}}}}, nag=False)
