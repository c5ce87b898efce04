"""The CloudWatch dashboard: what mlwarden found and did per rule, and whether mlwarden itself is healthy."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
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


class MlwardenDashboard(Construct):
    def __init__(self, scope: Construct, id: str, *, rules: Mapping[str, GuardedRule]) -> None:
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
