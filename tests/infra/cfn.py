"""Reading a synthesized template the way the tests need it: per rule, by what points at what."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from mlwarden.core.settings import ENV_RULE_ID, Settings
from mlwarden.core.spec import RuleSpec

# Values substituted for pseudo parameters when an ARN is rendered to a plain string.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}


def render(value: Any) -> Any:
    """An intrinsic-function value as a string: pseudo parameters filled in, ``<ref:X>``, ``<arn:X>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Ref":
            return PSEUDO.get(arg, f"<ref:{arg}>")
        if name == "Fn::GetAtt":
            return f"<{arg[1].lower()}:{arg[0]}>"
        if name == "Fn::Join":
            separator, parts = arg
            return separator.join(render(part) for part in parts)
    if isinstance(value, list):
        return [render(item) for item in value]
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def canonical(pattern: Any) -> str:
    """Dict keys are unordered in an event pattern, list order is kept."""
    return json.dumps(pattern, sort_keys=True)


def fill(resource: str, **stack_resources: str) -> str:
    """A spec resource template as ``render`` shows its ARN (``stack_resources``: as rendered, e.g.
    ``quarantine_bucket="<ref:QuarantineBucket1234>"``)."""
    return resource.format(
        partition=PSEUDO["AWS::Partition"],
        region=PSEUDO["AWS::Region"],
        account=PSEUDO["AWS::AccountId"],
        **stack_resources,
    )


@dataclass
class Synth:
    """One synthesized app: its template (dict and ``Template``), parsed settings and output directory.

    ``template`` is the root stack with the rules' nested stacks laid into it (``mlwarden_cdk.app.flat_template``):
    references read as in one template. ``templates`` are the templates CloudFormation receives, by stack
    (``Mlwarden``, ``Mlwarden/Rules03``...).
    """

    template: dict[str, Any]
    assertions: Template
    settings: Settings
    outdir: Path
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resources(self, type_: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] == type_:
                yield logical_id, resource

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.template["Resources"][logical_id].get("Properties", {})

    # -- per rule --------------------------------------------------------------------------------------
    def functions_of(self, rule_id: str) -> list[str]:
        return [
            logical_id
            for logical_id, resource in self.resources("AWS::Lambda::Function")
            if resource["Properties"].get("Environment", {}).get("Variables", {}).get(ENV_RULE_ID) == rule_id
        ]

    def function_of(self, rule_id: str) -> str:
        (logical_id,) = self.functions_of(rule_id)
        return logical_id

    def function_env(self, rule_id: str) -> dict[str, Any]:
        return self.props(self.function_of(rule_id))["Environment"]["Variables"]

    def event_rules_of(self, rule_id: str) -> list[str]:
        function = self.function_of(rule_id)
        return [
            logical_id
            for logical_id, resource in self.resources("AWS::Events::Rule")
            if any(target["Arn"] == {"Fn::GetAtt": [function, "Arn"]} for target in resource["Properties"]["Targets"])
        ]

    def deployment_of(self, rule_id: str) -> Any:
        """The Deployment the stack gave the rule's patterns, as the template spells it (tokens resolved)."""
        from mlwarden.core.patterns import Deployment

        return Deployment(role_arn={"Fn::GetAtt": [self.role_of(rule_id), "Arn"]}, account={"Ref": "AWS::AccountId"})

    def role_of(self, rule_id: str) -> str:
        role = self.props(self.function_of(rule_id))["Role"]
        assert set(role) == {"Fn::GetAtt"}, f"{rule_id}: the function's role is not a role of this stack"
        return role["Fn::GetAtt"][0]

    def role_statements(self, rule_id: str) -> list[dict[str, Any]]:
        """Every statement of the rule's role: its inline policies and any attached AWS::IAM::Policy."""
        role = self.role_of(rule_id)
        documents = [policy["PolicyDocument"] for policy in self.props(role).get("Policies", [])]
        documents += [
            resource["Properties"]["PolicyDocument"]
            for _, resource in self.resources("AWS::IAM::Policy")
            if {"Ref": role} in resource["Properties"].get("Roles", [])
        ]
        return [statement for document in documents for statement in document["Statement"]]

    def role_actions(self, rule_id: str) -> set[str]:
        return {
            action
            for statement in self.role_statements(rule_id)
            if statement["Effect"] == "Allow"
            for action in as_list(statement["Action"])
        }

    def grants(self, rule_id: str) -> dict[str, set[str]]:
        """action -> the resources (rendered) it is allowed on."""
        out: dict[str, set[str]] = {}
        for statement in self.role_statements(rule_id):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                out.setdefault(action, set()).update(render(r) for r in as_list(statement["Resource"]))
        return out

    def dead_letter_queue_of(self, rule_id: str) -> str:
        """The queue the rule's function sends failed asynchronous invocations to."""
        function = self.function_of(rule_id)
        (config,) = [
            props
            for _, resource in self.resources("AWS::Lambda::EventInvokeConfig")
            if (props := resource["Properties"])["FunctionName"] == {"Ref": function}
        ]
        destination = config["DestinationConfig"]["OnFailure"]["Destination"]
        return destination["Fn::GetAtt"][0]

    def config_rules_of(self, rule_id: str) -> list[dict[str, Any]]:
        function = self.function_of(rule_id)
        return [
            resource["Properties"]
            for _, resource in self.resources("AWS::Config::ConfigRule")
            if resource["Properties"]["Source"].get("SourceIdentifier") == {"Fn::GetAtt": [function, "Arn"]}
        ]

    def parameter(self, name: str) -> dict[str, Any]:
        (props,) = [
            r["Properties"] for _, r in self.resources("AWS::SSM::Parameter") if r["Properties"]["Name"] == name
        ]
        return props

    def only(self, type_: str) -> tuple[str, dict[str, Any]]:
        (found,) = list(self.resources(type_))
        return found

    # -- shared resources ------------------------------------------------------------------------------
    def stack_resources(self) -> dict[str, str]:
        """The stack's resources a spec's resource templates may name (``STACK_RESOURCES``), as rendered."""
        outputs = self.template["Outputs"]
        if "QuarantineBucketName" in outputs:
            return {"quarantine_bucket": f"<ref:{self.output_ref('QuarantineBucketName')}>"}
        return {}

    def output_ref(self, name: str) -> str:
        """The logical id a stack output (``{"Ref": ...}``) names."""
        return str(self.template["Outputs"][name]["Value"]["Ref"])

    def topic_named(self, name: str) -> str:
        (logical_id,) = [lid for lid, r in self.resources("AWS::SNS::Topic") if r["Properties"]["TopicName"] == name]
        return logical_id

    def topic_policy(self, topic: str) -> list[dict[str, Any]]:
        (statements,) = [
            r["Properties"]["PolicyDocument"]["Statement"]
            for _, r in self.resources("AWS::SNS::TopicPolicy")
            if r["Properties"]["Topics"] == [{"Ref": topic}]
        ]
        return list(statements)

    def subscriptions_of(self, topic: str) -> list[tuple[str, str]]:
        return sorted(
            (r["Properties"]["Protocol"], r["Properties"]["Endpoint"])
            for _, r in self.resources("AWS::SNS::Subscription")
            if r["Properties"]["TopicArn"] == {"Ref": topic}
        )

    def alarms_on(self, namespace: str, dimensions: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The alarms on a metric of ``namespace`` whose dimensions are exactly ``dimensions``."""
        return [
            r["Properties"]
            for _, r in self.resources("AWS::CloudWatch::Alarm")
            if r["Properties"].get("Namespace") == namespace
            and {d["Name"]: d["Value"] for d in r["Properties"].get("Dimensions", [])} == dict(dimensions)
        ]


# -- resource policies ---------------------------------------------------------------------------------
# A request to a resource policy, as IAM sees it: the principal and the condition keys set on the request.
Request = Mapping[str, str]


def _condition_holds(operator: str, key: str, expected: Any, request: Request) -> bool:
    """One condition of a statement, with IAM's rule for a key absent from the request: negated operators
    (``...Not...``) hold, the others do not."""
    values = [render(v) for v in as_list(expected)]
    if key not in request:
        return "Not" in operator
    actual = request[key]
    if operator in ("ArnEquals", "StringEquals"):
        return actual in values
    if operator in ("ArnNotEquals", "StringNotEquals"):
        return actual not in values
    if operator in ("ArnLike", "StringLike"):
        return any(fnmatch.fnmatchcase(actual, v) for v in values)
    if operator in ("ArnNotLike", "StringNotLike"):
        return not any(fnmatch.fnmatchcase(actual, v) for v in values)
    if operator == "Bool":
        return actual in [str(v).lower() for v in values]
    raise AssertionError(f"the test's policy evaluator does not know the condition operator {operator!r}")


def _applies(statement: Mapping[str, Any], action: str, principal: Mapping[str, str], request: Request) -> bool:
    if action not in as_list(statement["Action"]):
        return False
    who = statement["Principal"]
    if who not in ("*", {"AWS": "*"}):
        ((kind, name),) = principal.items()
        if name not in [render(p) for p in as_list(who.get(kind, []))]:
            return False
    return conditions_hold(statement, request)


def conditions_hold(statement: Mapping[str, Any], request: Request) -> bool:
    """Whether every condition of ``statement`` holds for ``request`` (no condition: it always applies)."""
    return all(
        _condition_holds(operator, key, expected, request)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def denied(statements: list[dict[str, Any]], action: str, principal: Mapping[str, str], request: Request) -> bool:
    """Whether an explicit Deny of the resource policy applies. ``principal``: ``{"AWS": arn}`` or
    ``{"Service": name}``."""
    return any(s["Effect"] == "Deny" and _applies(s, action, principal, request) for s in statements)


def allowed(statements: list[dict[str, Any]], action: str, principal: Mapping[str, str], request: Request) -> bool:
    """Whether the resource policy itself allows the request (and no Deny of it applies)."""
    return not denied(statements, action, principal, request) and any(
        s["Effect"] == "Allow" and _applies(s, action, principal, request) for s in statements
    )


def feature_actions(spec: RuleSpec, settings: Settings) -> set[str]:
    return {a for feature, actions in spec.permissions.features if getattr(settings, feature) for a in actions}
