"""The SNS alert of DESIGN §2.5: subject ≤ 100 characters, JSON body, filterable message attributes.

One publish carries per-protocol bodies (SNS MessageStructure "json"): every subscriber gets the JSON body
of the contract by default; e-mail subscribers get a short human summary first and the same JSON after it;
with the Chatbot switch on, HTTPS subscribers (AWS Chatbot) get a Chatbot custom notification.

Resource names, tags and the reasons quoting them are attacker-chosen text: the e-mail summary shows them
through ``clean_text`` (no control characters: a newline cannot forge a line), the Chatbot payload through
``slack`` (also no Slack mentions, links or formatting). The JSON body is JSON-escaped as is.
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
from mlwarden.core.text import clean_text, slack, slack_link

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
    """A few lines a person reads first in an e-mail; each value on its own line, whatever it contains."""
    c = clean_text
    account = c(decision.account) or "-"
    if decision.account_name:
        account += f" ({c(decision.account_name)})"
    lines = [
        f"{c(decision.title or decision.rule_id)}",
        "",
        f"Resource:  {c(decision.resource_id) or '-'} ({c(decision.resource_type)}) in {account} "
        f"{c(decision.region)}".rstrip(),
        f"Severity:  {c(decision.severity)}",
        f"Why:       {c(decision.reason)}",
        f"Status:    {c(decision.action)} — {c(_ACTION_SENTENCES.get(decision.action, decision.action))}",
    ]
    if decision.remediation:
        label = "Done:" if decision.action == ACTION_REMEDIATED else "To do:"
        lines.append(f"{label:<10} {c(decision.remediation)}")
    if decision.controls:
        lines.append(f"Controls:  {c(', '.join(decision.controls))}")
    if decision.console_url:
        lines.append(f"Console:   {c(decision.console_url)}")
    lines.append(f"Switch:    mlwarden toggle {c(decision.rule_id)} off|notify|remediate")
    return "\n".join(lines)


def email_body(decision: Decision) -> str:
    return f"{summary(decision)}\n\n--- alert (JSON) ---\n{message(decision)}\n"


def chatbot_body(decision: Decision) -> str:
    """AWS Chatbot custom notification (Slack / Microsoft Teams). Every value is shown through ``slack``."""
    next_steps = [slack(decision.remediation)] if decision.remediation else []
    if decision.console_url:
        next_steps.append(slack_link(decision.console_url, "Open in the console"))
    return json.dumps(
        {
            "version": "1.0",
            "source": "custom",
            "id": clean_text(decision.event_id) or None,
            "content": {
                "textType": "client-markdown",
                "title": f":rotating_light: {slack(subject(decision))}",
                "description": f"*{slack(decision.title)}*\n{slack(decision.reason)}",
                "nextSteps": next_steps,
                "keywords": [slack(decision.severity), slack(decision.rule_id or ""), slack(decision.action)],
            },
            "metadata": {
                "threadId": clean_text(f"{decision.rule_id}/{decision.resource_id}"),
                "summary": slack(subject(decision)),
                "eventType": decision.action,
                "relatedResources": [clean_text(decision.resource_arn)] if decision.resource_arn else [],
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
