"""The SNS alert of DESIGN §2.5: subject ≤ 100 characters, JSON body, filterable message attributes."""

from __future__ import annotations

import json
from typing import Any

from mlwarden.core.model import (
    ACTION_EXEMPT,
    ACTION_FAILED,
    ACTION_NOTIFIED,
    ACTION_REMEDIATED,
    ACTION_WOULD_NOTIFY,
    ACTION_WOULD_REMEDIATE,
    Decision,
)

SUBJECT_LIMIT = 100

_STATUS_WORDS = {
    ACTION_REMEDIATED: "remediated",
    ACTION_NOTIFIED: "non-compliant",
    ACTION_WOULD_NOTIFY: "non-compliant",
    ACTION_WOULD_REMEDIATE: "non-compliant",
    ACTION_FAILED: "action failed",
    ACTION_EXEMPT: "exempt",
}


def subject(decision: Decision) -> str:
    head = f"[{decision.severity}] {decision.rule_id}: "
    tail = f" {_STATUS_WORDS.get(decision.action, decision.compliance.lower())}"
    room = SUBJECT_LIMIT - len(head) - len(tail)
    resource = decision.resource_id
    if len(resource) > room:
        # ASCII marker: SNS subjects are ASCII, and a "…" would come out below as a misleading "?".
        resource = resource[: max(room - 3, 0)] + "..."
    text = head + resource + tail
    # SNS subjects must be printable ASCII without line breaks.
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:SUBJECT_LIMIT]


def message(decision: Decision) -> str:
    return json.dumps(decision.alert_record(), indent=2, default=str)


def attributes(decision: Decision) -> dict[str, dict[str, str]]:
    return {
        "severity": {"DataType": "String", "StringValue": decision.severity or "UNKNOWN"},
        "rule_id": {"DataType": "String", "StringValue": decision.rule_id or "none"},
        "status": {"DataType": "String", "StringValue": decision.action},
    }


class Publisher:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._sns = sns_client
        self.topic_arn = topic_arn

    def publish(self, decision: Decision) -> str:
        response = self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=subject(decision),
            Message=message(decision),
            MessageAttributes=attributes(decision),
        )
        return str(response.get("MessageId", ""))
