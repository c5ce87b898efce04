"""Text that came from the account (resource names, tags, reasons quoting them) made safe to show.

Resource names, tag values and the reasons that quote them are chosen by whoever can create or tag a resource.
Before any of it reaches a person: ``clean_text`` collapses control characters (line breaks that would forge
lines in an e-mail, terminal escape sequences, bidirectional overrides) into one space; each channel then
escapes its own markup (``slack`` here for AWS Chatbot; the CLI tables render plain rich ``Text``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

# C0/C1 controls (newline, ESC, DEL…), format characters (bidi overrides, zero-width), line/paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})

# Slack formats *bold*, _italic_ is left alone (underscores are common in names), ~strike~ and `code`:
# Slack has no escape for these, so they become look-alikes that do not format.
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "*": "∗", "`": "ˋ", "~": "∼"})


def clean_text(value: Any) -> str:
    """One line of text: every run of control characters becomes one space."""
    text = "" if value is None else str(value)
    if text.isprintable():  # the usual case: nothing to do
        return text
    out: list[str] = []
    in_controls = False
    for ch in text:
        if unicodedata.category(ch) in _CONTROL_CATEGORIES:
            if not in_controls:
                out.append(" ")
            in_controls = True
        else:
            out.append(ch)
            in_controls = False
    return "".join(out)


def slack(value: Any) -> str:
    """Text for a Slack / AWS Chatbot message: one line, &, < and > escaped as Slack requires (no mentions
    such as <!channel>, no links such as <http://x|y>), and Slack's bold/strike/code marks made inert."""
    return clean_text(value).translate(_SLACK_ESCAPES)


def slack_link(url: Any, label: str) -> str:
    """A Slack link ``<url|label>`` whose URL can neither close the link nor bring a label of its own."""
    target = clean_text(url).replace(" ", "%20").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{target.replace('&', '&amp;')}|{slack(label)}>"
