"""The CloudWatch dashboard: what mlwarden found and did per rule, and whether mlwarden itself is healthy."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from mlwarden_cdk.guarded_rule import METRICS_NAMESPACE, METRICS_SERVICE, GuardedRule

DASHBOARD_NAME = "mlwarden"
PERIOD = Duration.hours(1)
# Custom metrics the handler emits (Powertools EMF, dimensions rule_id + service), one graph each.
RULE_METRICS = (
    ("Violations", "Violations found"),
    ("Remediations", "Remediations"),
    ("Failures", "Failed checks and remediations"),
    ("Exempt", "Exempt resources (judged, left alone)"),
    ("Flapping", "Flapping resources (remediation paused)"),
)
# Organization mode: the handler also counts these per account (EMF dimensions account + service, handler.py).
ACCOUNT_METRICS = (
    ("Violations", "Violations by account"),
    ("Remediations", "Remediations by account"),
    ("Failures", "Failures by account"),
)
ACCOUNT_DIMENSION = "account"
ACCOUNT_VARIABLE = "account"


def account_search(metric_name: str) -> str:
    """The CloudWatch SEARCH for one per-account metric: one series per account that has reported it."""
    schema = f"{{{METRICS_NAMESPACE},{ACCOUNT_DIMENSION},service}}"
    return f"SEARCH('{schema} MetricName=\"{metric_name}\"', 'Sum', {int(PERIOD.to_seconds())})"


class MlwardenDashboard(Construct):
    def __init__(
        self, scope: Construct, id: str, *, rules: Mapping[str, GuardedRule], organization: bool = False
    ) -> None:
        super().__init__(scope, id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=DASHBOARD_NAME)
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="# mlwarden\nFindings and actions per rule (hourly sums), then mlwarden's own health: "
                "dead-lettered events, function errors and duration. Alarms go to the `mlwarden-alarms` topic.",
                width=24,
                height=2,
            )
        )
        graphs = [
            cloudwatch.GraphWidget(
                title=title,
                left=[self._rule_metric(name, rule_id) for rule_id in rules],
                stacked=True,
                width=8,
                height=6,
            )
            for name, title in RULE_METRICS
        ]
        graphs.append(
            cloudwatch.GraphWidget(
                title="Dead-lettered events (DLQ depth)",
                left=[
                    rule.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        label=rule_id, period=Duration.minutes(5), statistic="Maximum"
                    )
                    for rule_id, rule in rules.items()
                ],
                width=8,
                height=6,
            )
        )
        graphs.append(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[rule.function.metric_errors(label=rule_id, period=PERIOD) for rule_id, rule in rules.items()],
                stacked=True,
                width=8,
                height=6,
            )
        )
        graphs.append(
            cloudwatch.GraphWidget(
                title="Function duration (p90)",
                left=[
                    rule.function.metric_duration(label=rule_id, period=PERIOD, statistic="p90")
                    for rule_id, rule in rules.items()
                ],
                width=8,
                height=6,
            )
        )
        for start in range(0, len(graphs), 3):
            self.dashboard.add_widgets(*graphs[start : start + 3])
        if organization:
            self._by_account()

    def _by_account(self) -> None:
        """Organization mode: every account's outcomes (SEARCH), and one account's, chosen with the variable."""
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=title,
                    left=[cloudwatch.MathExpression(expression=account_search(name), label="", period=PERIOD)],
                    stacked=True,
                    width=8,
                    height=6,
                )
                for name, title in ACCOUNT_METRICS
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Selected account (the account variable above)",
                left=[
                    cloudwatch.Metric(
                        namespace=METRICS_NAMESPACE,
                        metric_name=name,
                        # The central account until a member is picked: the variable sets this dimension's value.
                        dimensions_map={ACCOUNT_DIMENSION: Aws.ACCOUNT_ID, "service": METRICS_SERVICE},
                        statistic="Sum",
                        period=PERIOD,
                        label=name,
                    )
                    for name, _ in ACCOUNT_METRICS
                ],
                width=24,
                height=6,
            )
        )
        self.dashboard.add_variable(
            cloudwatch.DashboardVariable(
                id=ACCOUNT_VARIABLE,
                type=cloudwatch.VariableType.PROPERTY,
                value=ACCOUNT_DIMENSION,
                label="Account",
                input_type=cloudwatch.VariableInputType.SELECT,
                values=cloudwatch.Values.from_search(
                    f'{{{METRICS_NAMESPACE},{ACCOUNT_DIMENSION},service}} MetricName="Violations"',
                    ACCOUNT_DIMENSION,
                ),
                default_value=cloudwatch.DefaultValue.FIRST,
                visible=True,
            )
        )

    @staticmethod
    def _rule_metric(name: str, rule_id: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"rule_id": rule_id, "service": METRICS_SERVICE},
            statistic="Sum",
            period=PERIOD,
            label=rule_id,
        )
