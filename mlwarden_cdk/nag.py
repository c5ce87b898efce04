"""cdk-nag (3.x) wiring: the AwsSolutions pack as a CDK validation plugin, and one-by-one acknowledgements.

cdk-nag 3 dropped ``NagSuppressions``: findings are acknowledged through CDK's own ``Validations.of(...)``,
one finding id at a time (``AwsSolutions-IAM5[Resource::*]`` rather than a blanket ``AwsSolutions-IAM5``).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from constructs import IConstruct


def add_nag(app: App) -> None:
    # Imported here so that building the app without nag (tests, the local demo) does not load cdk-nag.
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``construct`` (and its children), saying why it is acceptable."""
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))
