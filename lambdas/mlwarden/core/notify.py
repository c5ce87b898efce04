"""The SNS alert of DESIGN §2.5: subject ≤ 100 characters, JSON body, filterable message attributes.

One publish carries per-protocol bodies (SNS MessageStructure "json"): every subscriber gets the JSON body
of the contract by default; e-mail subscribers get a short human summary first and the same JSON after it;
with the Chatbot switch on, HTTPS subscribers (AWS Chatbot) get a Chatbot custom notification.
"""

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


_ACTION_SENTENCES = {
    ACTION_REMEDIATED: "mlwarden fixed it",
    ACTION_NOTIFIED: "nothing was changed: a human must act",
    ACTION_FAILED: "mlwarden could not finish: a human must act",
}


def summary(decision: Decision) -> str:
    """A few lines a person reads first in an e-mail."""
    lines = [
        f"{decision.title or decision.rule_id}",
        "",
        f"Resource:  {decision.resource_id or '-'} ({decision.resource_type}) in {decision.account or '-'} "
        f"{decision.region or ''}".rstrip(),
        f"Severity:  {decision.severity}",
        f"Why:       {decision.reason}",
        f"Status:    {decision.action} — {_ACTION_SENTENCES.get(decision.action, decision.action)}",
    ]
    if decision.remediation:
        label = "Done:" if decision.action == ACTION_REMEDIATED else "To do:"
        lines.append(f"{label:<10} {decision.remediation}")
    if decision.controls:
        lines.append(f"Controls:  {', '.join(decision.controls)}")
    if decision.console_url:
        lines.append(f"Console:   {decision.console_url}")
    lines.append(f"Switch:    mlwarden toggle {decision.rule_id} off|notify|remediate")
    return "\n".join(lines)


def email_body(decision: Decision) -> str:
    return f"{summary(decision)}\n\n--- alert (JSON) ---\n{message(decision)}\n"


def chatbot_body(decision: Decision) -> str:
    """AWS Chatbot custom notification (Slack / Microsoft Teams)."""
    next_steps = [decision.remediation] if decision.remediation else []
    if decision.console_url:
        next_steps.append(f"<{decision.console_url}|Open in the console>")
    return json.dumps(
        {
            "version": "1.0",
            "source": "custom",
            "id": decision.event_id or None,
            "content": {
                "textType": "client-markdown",
                "title": f":rotating_light: {subject(decision)}",
                "description": f"*{decision.title}*\n{decision.reason}",
                "nextSteps": next_steps,
                "keywords": [decision.severity, decision.rule_id or "", decision.action],
            },
            "metadata": {
                "threadId": f"{decision.rule_id}/{decision.resource_id}",
                "summary": subject(decision),
                "eventType": decision.action,
                "relatedResources": [decision.resource_arn] if decision.resource_arn else [],
                "additionalContext": {"rule_id": decision.rule_id or "", "compliance": decision.compliance},
            },
        }
    )


def message_structure(decision: Decision, chatbot: bool = False) -> str:
    bodies = {"default": message(decision), "email": email_body(decision)}
    if chatbot:
        bodies["https"] = chatbot_body(decision)
    return json.dumps(bodies)


def attributes(decision: Decision) -> dict[str, dict[str, str]]:
    return {
        "severity": {"DataType": "String", "StringValue": decision.severity or "UNKNOWN"},
        "rule_id": {"DataType": "String", "StringValue": decision.rule_id or "none"},
        "status": {"DataType": "String", "StringValue": decision.action},
    }


class Publisher:
    def __init__(self, sns_client: Any, topic_arn: str, chatbot: bool = False) -> None:
        self._sns = sns_client
        self.topic_arn = topic_arn
        self.chatbot = chatbot

    def publish(self, decision: Decision) -> str:
        response = self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=subject(decision),
            Message=message_structure(decision, self.chatbot),
            MessageStructure="json",
            MessageAttributes=attributes(decision),
        )
        return str(response.get("MessageId", ""))
