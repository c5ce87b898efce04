"""Exemption tags (DESIGN §2.2): ``mlwarden:exempt`` = ``all`` or rule ids joined by ``+``,
``mlwarden:exempt-reason`` (required), ``mlwarden:exempt-until`` (required: a whole ISO date at most
cdk.json ``maxExemptionDays`` ahead; expired = not exempt)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from mlwarden.core.settings import DEFAULT_MAX_EXEMPTION_DAYS

EXEMPT_TAG = "mlwarden:exempt"
EXEMPT_REASON_TAG = "mlwarden:exempt-reason"
EXEMPT_UNTIL_TAG = "mlwarden:exempt-until"
QUARANTINED_TAG = "mlwarden:quarantined"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class Exemption:
    exempt: bool
    note: str = ""
    until: date | None = None  # when an exemption in force ends (None: no end, cdk.json entries only)


def _expired(until: str, today: date | None) -> Exemption | None:
    try:
        if not ISO_DATE.fullmatch(until):
            raise ValueError(until)
        expiry = date.fromisoformat(until)
    except ValueError:
        return Exemption(False, "exemption ignored: its 'until' is not a whole ISO date (YYYY-MM-DD)")
    if expiry < (today or date.today()):
        return Exemption(False, f"exemption expired on {expiry.isoformat()}")
    return None


def check_configured(
    entries: Iterable[Mapping[str, Any]],
    names: Iterable[str],
    today: date | None = None,
    *,
    account: str = "",
    own_account: str = "",
) -> Exemption:
    """cdk.json exemptions (for resources without tags, such as account-level settings): an entry's
    ``resource`` is matched against the resource's id and ARN, ``*`` matching any run of characters.

    Organization mode: an entry naming an ``account`` applies only to resources of that account (its resource
    ``*``: the whole account); an entry naming none applies only to the deployment's own account
    (``own_account``), so no pattern, however wide, exempts a resource of a member account it does not name."""
    from mlwarden.core.patterns import wildcard

    names = [n for n in names if n]
    note = ""
    for entry in entries:
        scope = str(entry.get("account") or "")
        if scope and scope != account:
            continue
        if not scope and own_account and account and account != own_account:
            continue
        pattern = str(entry.get("resource", "") or ("*" if scope else ""))
        if not any(wildcard(name, pattern) for name in names):
            continue
        until = str(entry.get("until", "")).strip()
        if until:
            problem = _expired(until, today)
            if problem is not None:
                note = problem.note
                continue
        reason = str(entry.get("reason", "")).strip()
        if not reason:
            note = "exemption ignored: a cdk.json exemption needs a reason"
            continue
        return Exemption(
            True,
            f"exempt in cdk.json ({reason})" + (f" until {until}" if until else ""),
            date.fromisoformat(until) if until else None,
        )
    return Exemption(False, note)


def check(
    tags: dict[str, str] | None,
    rule_id: str,
    today: date | None = None,
    max_days: int = DEFAULT_MAX_EXEMPTION_DAYS,
) -> Exemption:
    """A tag exemption needs a reason and an expiry: ``mlwarden:exempt-until`` a whole ISO date (YYYY-MM-DD,
    nothing after it), not past, and at most ``max_days`` ahead (cdk.json ``maxExemptionDays``). Whoever can
    tag a resource can write these tags, so anything less is ignored and the reason says why."""
    if not tags or EXEMPT_TAG not in tags:
        return Exemption(False)
    scope = {part.strip() for part in tags[EXEMPT_TAG].split("+")}
    if "all" not in scope and rule_id not in scope:
        return Exemption(False)
    today = today or date.today()
    reason = tags.get(EXEMPT_REASON_TAG, "").strip()
    if not reason:
        return Exemption(False, f"exemption ignored: {EXEMPT_REASON_TAG} is missing (a reason is required)")
    until = tags.get(EXEMPT_UNTIL_TAG, "").strip()
    if not until:
        return Exemption(
            False, f"exemption ignored: {EXEMPT_UNTIL_TAG} is missing (a date at most {max_days} days ahead)"
        )
    if not ISO_DATE.fullmatch(until):
        return Exemption(False, f"exemption ignored: {EXEMPT_UNTIL_TAG} is not a whole ISO date (YYYY-MM-DD)")
    try:
        expiry = date.fromisoformat(until)
    except ValueError:
        return Exemption(False, f"exemption ignored: {EXEMPT_UNTIL_TAG} is not a valid date")
    if expiry < today:
        return Exemption(False, f"exemption expired on {expiry.isoformat()}")
    if expiry > today + timedelta(days=max_days):
        return Exemption(
            False,
            f"exemption ignored: {EXEMPT_UNTIL_TAG} {expiry.isoformat()} is more than {max_days} days ahead "
            "(cdk.json maxExemptionDays)",
        )
    return Exemption(True, f"exempt by tag ({reason}) until {expiry.isoformat()}", expiry)
