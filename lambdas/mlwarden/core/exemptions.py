"""Exemption tags (DESIGN §2.2): ``mlwarden:exempt`` = ``all`` or rule ids joined by ``+``,
``mlwarden:exempt-reason``, optional ``mlwarden:exempt-until`` (ISO date; expired = not exempt)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

EXEMPT_TAG = "mlwarden:exempt"
EXEMPT_REASON_TAG = "mlwarden:exempt-reason"
EXEMPT_UNTIL_TAG = "mlwarden:exempt-until"
QUARANTINED_TAG = "mlwarden:quarantined"


@dataclass(frozen=True)
class Exemption:
    exempt: bool
    note: str = ""


def _expired(until: str, today: date | None) -> Exemption | None:
    try:
        expiry = date.fromisoformat(until[:10])
    except ValueError:
        return Exemption(False, f"exemption ignored: until={until!r} is not an ISO date")
    if expiry < (today or date.today()):
        return Exemption(False, f"exemption expired on {expiry.isoformat()}")
    return None


def check_configured(
    entries: Iterable[Mapping[str, Any]], names: Iterable[str], today: date | None = None
) -> Exemption:
    """cdk.json exemptions (for resources without tags, such as account-level settings): an entry's
    ``resource`` is matched against the resource's id and ARN, ``*`` matching any run of characters."""
    from mlwarden.core.patterns import wildcard

    names = [n for n in names if n]
    note = ""
    for entry in entries:
        pattern = str(entry.get("resource", ""))
        if not any(wildcard(name, pattern) for name in names):
            continue
        until = str(entry.get("until", "")).strip()
        if until:
            problem = _expired(until, today)
            if problem is not None:
                note = problem.note
                continue
        reason = str(entry.get("reason", "")).strip() or "no reason given"
        return Exemption(True, f"exempt in cdk.json ({reason})" + (f" until {until}" if until else ""))
    return Exemption(False, note)


def check(tags: dict[str, str] | None, rule_id: str, today: date | None = None) -> Exemption:
    if not tags or EXEMPT_TAG not in tags:
        return Exemption(False)
    scope = {part.strip() for part in tags[EXEMPT_TAG].split("+")}
    if "all" not in scope and rule_id not in scope:
        return Exemption(False)
    until = tags.get(EXEMPT_UNTIL_TAG, "").strip()
    if until:
        try:
            expiry = date.fromisoformat(until[:10])
        except ValueError:
            return Exemption(False, f"exemption ignored: {EXEMPT_UNTIL_TAG}={until!r} is not an ISO date")
        if expiry < (today or date.today()):
            return Exemption(False, f"exemption expired on {expiry.isoformat()}")
    reason = tags.get(EXEMPT_REASON_TAG, "").strip() or "no reason given"
    return Exemption(True, f"exempt by tag ({reason})" + (f" until {until}" if until else ""))
