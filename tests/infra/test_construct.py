"""``Guardrails`` in a stack of a user's own (issue 15, item 2): the construct deploys exactly what the ready-made
app deploys, and its keyword props are the cdk.json block, validated the same way.

A user's app has its own cdk.json; the test apps get the feature flags of ours (``cdk_json_context`` without the
``mlwarden`` block), as ``cdk init`` would give them, so that the templates can be compared whole.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnOutput, CfnResource, Environment, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlwarden.core.settings import CONTEXT_KEY, TOP_LEVEL_KEYS, SettingsError
from mlwarden_cdk import Guardrails, MlwardenStack
from mlwarden_cdk.app import build_app, cdk_json_context, flat_template
from mlwarden_cdk.nag import add_nag
from mlwarden_cdk.props import PROP_KEYS, context_block
from tests.infra.conftest import LAYER_OVERRIDE

pytestmark = pytest.mark.slow

FLAGS = {key: value for key, value in cdk_json_context().items() if key != CONTEXT_KEY}
CDK_JSON_RULES = cdk_json_context()[CONTEXT_KEY]["rules"]


class MyStack(Stack):
    """What a user writes: an existing stack of theirs, with mlwarden in it next to their own resources."""

    def __init__(self, scope: Construct, id: str, env: Environment | None = None, **props: Any) -> None:
        super().__init__(scope, id, description="the user's own stack", env=env)
        sqs.CfnQueue(self, "TheirQueue")  # plain: no encryption, DLQ or SSL policy (cdk-nag flags it)
        self.guardrails = Guardrails(self, "Guardrails", **props)


def user_app(outdir: Path, *, nag: bool = False, **props: Any) -> tuple[dict[str, Any], Guardrails]:
    """The user's app synthesized; with ``nag``, cdk-nag's AwsSolutions pack added as ``add_nag`` adds it (its
    findings, errors, make the synthesis raise after the report is written)."""
    app = App(context=FLAGS, outdir=str(outdir))
    stack = MyStack(app, "MyStack", **props)
    if not nag:
        return flat_template(stack.guardrails, app.synth().directory), stack.guardrails
    add_nag(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()  # the assembly is written before the validation runs
    return flat_template(stack.guardrails, outdir), stack.guardrails


def ready_made_app(outdir: Path, block: Mapping[str, Any]) -> tuple[dict[str, Any], MlwardenStack]:
    """app.py's stack with ``block`` as the whole cdk.json ``mlwarden`` block (rules merged over cdk.json's)."""
    app, stack = build_app({CONTEXT_KEY: block}, nag=False, outdir=str(outdir))
    return flat_template(stack, app.synth().directory), stack


def logical_ids(guardrails: Guardrails) -> dict[str, str]:
    """Construct path below the Guardrails -> logical id, for every resource and the root stack's outputs (the
    nested stacks' outputs and parameters are references, resolved away by ``flat_template``)."""
    ids = {}
    for element in guardrails.node.find_all():
        if isinstance(element, CfnResource) or (isinstance(element, CfnOutput) and not Stack.of(element).nested):
            relative = element.node.path[len(guardrails.node.path) :]
            ids[relative] = Stack.of(element).resolve(element.logical_id)
    return ids


def renamed(template: dict[str, Any], rename: Mapping[str, str]) -> dict[str, Any]:
    """``template`` with every logical id in ``rename`` replaced (keys, Ref, GetAtt, DependsOn, ${...} in Sub)."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(rename, key=len, reverse=True))) + r")\b")
    return json.loads(pattern.sub(lambda match: rename[match.group(1)], json.dumps(template)))


def assert_same_deployment(mine: tuple[dict[str, Any], Guardrails], ready: tuple[dict[str, Any], Any]) -> None:
    (template, guardrails), (expected, stack) = mine, ready
    ours, theirs = logical_ids(guardrails), logical_ids(stack.guardrails)
    # The same constructs, at the same paths below the Guardrails
    assert set(ours) == set(theirs)
    # Only the prefix of the logical ids differs (the construct id "Guardrails"; "Default" is left out of ids)
    rename = {ours[path]: theirs[path] for path in ours if ours[path] != theirs[path]}
    assert rename and all(new_id.startswith("Guardrails") for new_id in rename)
    template = renamed(template, rename)
    # Then, besides the user's own resource, every resource and output is the app's, property for property
    assert template["Resources"].pop("TheirQueue") == {"Type": "AWS::SQS::Queue"}
    assert template["Resources"] == expected["Resources"]
    assert template["Outputs"] == expected["Outputs"]
    assert template.get("Parameters") == expected.get("Parameters")


def test_the_construct_in_a_users_stack_deploys_what_the_app_deploys(tmp_path: Path) -> None:
    # Given the repository's cdk.json rules, passed as the construct's rules prop in a user's stack with cdk-nag
    mine = user_app(tmp_path / "mine", nag=True, rules=CDK_JSON_RULES)
    # Then cdk-nag flags the user's plain queue, and nothing of mlwarden: the construct carries its acknowledgements
    report = json.loads((tmp_path / "mine" / "validation-report.json").read_text())
    flagged = {
        construct["constructPath"]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
    assert flagged == {"MyStack/TheirQueue"}
    # When the ready-made app is synthesized from the same block
    ready = ready_made_app(tmp_path / "app", {"rules": CDK_JSON_RULES})
    # Then the two deploy the same resources (same types and counts, same rule functions' properties)
    assert_same_deployment(mine, ready)
    functions = [r for r in mine[0]["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == len(CDK_JSON_RULES) + 1  # the rules' and the tamper watch's


def test_every_prop_reaches_the_deployment_as_its_cdk_json_key_does(tmp_path: Path) -> None:
    # Given a construct with every kind of prop: rules left out and modes, e-mails, quarantine, safety limits,
    # exemptions and a rule option (under its cdk.json key)
    kept = sorted(CDK_JSON_RULES)[:2]
    rules = {rule_id: {"deploy": rule_id in kept} for rule_id in CDK_JSON_RULES}
    rules[kept[0]] = {"mode": "remediate", "allowRemediation": True}
    rules[kept[1]] = {"mode": "notify", "allowRemediation": False}
    props: dict[str, Any] = {
        "rules": rules,
        "notification_emails": ("secops@example.com",),
        "alarm_emails": ["oncall@example.com"],
        "macie_quarantine": True,
        "config_frequency": "Six_Hours",
        "exemptions": {kept[0]: [{"resource": "sandbox", "reason": "reviewed", "until": "2099-01-01"}]},
        "dedup_window_seconds": 600,
        "max_remediations_per_hour": 5,
        "audit_retention_days": 90,
        "max_exemption_days": 30,
        "security_hub": True,
        "chatbot_notifications": True,
        "powertools_layer_arn": LAYER_OVERRIDE,
        "options": {"trustedAccounts": ["111122223333"]},
    }
    mine = user_app(tmp_path / "mine", **props)
    # When the app is synthesized from the cdk.json block the props stand for
    block = context_block({k: v for k, v in props.items() if k != "options"}, props["options"])
    ready = ready_made_app(tmp_path / "app", block)
    # Then both deploy the same, and the props did change the deployment
    assert_same_deployment(mine, ready)
    settings = mine[1].settings
    assert settings.notification_emails == ("secops@example.com",) and settings.macie_quarantine
    assert settings.rule(kept[0]).mode == "remediate" and not settings.rule(kept[1]).allow_remediation
    assert settings.raw["trustedAccounts"] == ["111122223333"]
    subscriptions = [r for r in mine[0]["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"]
    assert sorted(r["Properties"]["Endpoint"] for r in subscriptions) == ["oncall@example.com", "secops@example.com"]
    assert [r for r in mine[0]["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]


def test_every_cdk_json_key_is_a_keyword_prop() -> None:
    parameters = inspect.signature(Guardrails.__init__).parameters
    props = {name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(PROP_KEYS.values()) == set(TOP_LEVEL_KEYS)
    assert props == set(PROP_KEYS) | {"settings", "specs", "options"}
    for name in PROP_KEYS:
        assert parameters[name].default is None, f"{name}: a prop left out must leave the default to Settings"


BAD = [
    ({"rules": {"no-such-rule": {"mode": "notify"}}}, {"rules": {"no-such-rule": {"mode": "notify"}}}),
    ({"rules": {"s3-bucket-ssl-only": {"mode": "fix"}}}, {"rules": {"s3-bucket-ssl-only": {"mode": "fix"}}}),
    ({"rules": {"s3-bucket-ssl-only": {"enabled": False}}}, {"rules": {"s3-bucket-ssl-only": {"enabled": False}}}),
    ({"notification_emails": ["secops"]}, {"notificationEmails": ["secops"]}),
    ({"dedup_window_seconds": 0}, {"dedupWindowSeconds": 0}),
    ({"organization": {"organizationId": "o-a1b2c3d4e5"}}, {"organization": {"organizationId": "o-a1b2c3d4e5"}}),
    ({"options": {"trustedAcounts": ["111122223333"]}}, {"trustedAcounts": ["111122223333"]}),
    ({"options": {"trustedAccounts": "111122223333"}}, {"trustedAccounts": "111122223333"}),
]


@pytest.mark.parametrize(("props", "block"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_bad_prop_fails_with_the_message_cdk_json_gets(props: dict[str, Any], block: dict[str, Any]) -> None:
    # Given the same bad value, as a construct prop and in cdk.json (the app's path: build_app and its context)
    with pytest.raises(SettingsError) as from_cdk_json:
        build_app({CONTEXT_KEY: block}, nag=False)
    # Then the construct fails with the same message
    with pytest.raises(SettingsError) as from_props:
        MyStack(App(context=FLAGS), "MyStack", **props)
    assert str(from_props.value) == str(from_cdk_json.value)


def test_an_option_under_a_settings_key_says_which_keyword_to_use() -> None:
    with pytest.raises(SettingsError, match="pass it as the keyword notification_emails="):
        MyStack(App(context=FLAGS), "MyStack", options={"notificationEmails": ["secops@example.com"]})


def test_settings_and_props_together_are_refused() -> None:
    settings = build_app(nag=False)[1].settings
    with pytest.raises(TypeError, match="not both"):
        MyStack(App(context=FLAGS), "MyStack", settings=settings, notification_emails=["secops@example.com"])


def test_the_construct_outside_a_stack_says_it_needs_one() -> None:
    # The rules live in nested stacks: a Guardrails directly under the App cannot hold them
    with pytest.raises(ValueError, match="inside a Stack"):
        Guardrails(App(context=FLAGS), "Guardrails", rules=CDK_JSON_RULES)


def test_two_guardrails_for_one_account_and_region_are_refused() -> None:
    # Given an app with mlwarden in one stack (environment-agnostic: it may be deployed anywhere)
    app = App(context=FLAGS)
    MyStack(app, "MyStack", rules=CDK_JSON_RULES)
    # Then a second one, in another stack that may reach the same account and Region, is refused (fixed names)
    with pytest.raises(ValueError, match="one per account and Region"):
        MyStack(app, "Another", rules=CDK_JSON_RULES)
    with pytest.raises(ValueError, match="one per account and Region"):
        MyStack(app, "Pinned", rules=CDK_JSON_RULES, env=Environment(account="111122223333", region="eu-west-1"))


def test_guardrails_in_stacks_of_different_accounts_are_allowed() -> None:
    app = App(context=FLAGS)
    first = MyStack(app, "Prod", rules=CDK_JSON_RULES, env=Environment(account="111122223333", region="eu-west-1"))
    second = MyStack(app, "Dev", rules=CDK_JSON_RULES, env=Environment(account="444455556666", region="eu-west-1"))
    assert first.guardrails.rules.keys() == second.guardrails.rules.keys()
