"""The command line in organization mode (DESIGN §2.8): mode overrides per account or OU (``toggle --account`` /
``--ou``) and sweeps of member accounts through the rules' member roles (``scan --account`` / ``--organization``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from mlwarden.core import org
from mlwarden.core.members import is_ou_id
from mlwarden.core.model import MODES, NON_COMPLIANT, Decision
from mlwarden.core.modes import account_override_name, ou_override_name

if TYPE_CHECKING:
    from mlwarden.cli.local import LocalRunner
    from mlwarden.core.spec import Rule

# `mlwarden toggle RULE inherit --account ID`: remove the override; the account follows its OU / the rule again.
INHERIT = "inherit"
MAX_ACCOUNT_WORKERS = 4  # accounts swept at once (each sweep reads concurrently too)


class OrganizationArgsError(ValueError):
    """The organization options are invalid; the message says what to change (exit 2)."""


def override_target(args: argparse.Namespace) -> tuple[str, str] | None:
    """("account"|"ou", id) of ``toggle --account`` / ``--ou``; None without either. Checks the id and the mode."""
    account, unit = getattr(args, "account", None), getattr(args, "ou", None)
    if not account and not unit:
        if args.mode == INHERIT:
            raise OrganizationArgsError(f"mode {INHERIT} removes an override: name it with --account or --ou")
        return None
    if args.rule == "kill-switch":
        raise OrganizationArgsError("the kill switch is global: it takes no --account or --ou")
    if account and not org.is_account_id(account):
        raise OrganizationArgsError(f"--account {account!r} is not a 12-digit account id")
    if unit and not is_ou_id(unit):
        raise OrganizationArgsError(f"--ou {unit!r} is not an organizational unit id (ou-xxxx-yyyyyyyy or r-xxxx)")
    if args.mode not in (*MODES, INHERIT):
        raise OrganizationArgsError(f"mode must be one of {', '.join((*MODES, INHERIT))}")
    return ("account", str(account)) if account else ("ou", str(unit))


def toggle_override(ssm: Any, rule_id: str, target: tuple[str, str], mode: str, global_mode: str) -> int:
    """Write (or, ``inherit``, remove) the override. The caller has checked the rule is deployed and that
    remediation is not withheld."""
    from botocore.exceptions import ClientError

    from mlwarden.core.errors import error_code

    kind, ident = target
    name = account_override_name(rule_id, ident) if kind == "account" else ou_override_name(rule_id, ident)
    where = f"account {ident}" if kind == "account" else f"organizational unit {ident}"
    try:
        current: str | None = str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as exc:
        if error_code(exc) != "ParameterNotFound":
            raise
        current = None
    if mode == INHERIT:
        if current is None:
            print(f"{rule_id}: {where} has no override (it follows its OU or the rule's mode {global_mode})")
            return 0
        ssm.delete_parameter(Name=name)
        print(f"{rule_id}: {where}: override {current} removed (takes effect within a minute)")
        return 0
    ssm.put_parameter(Name=name, Value=mode, Type="String", Overwrite=True)
    print(
        f"{rule_id}: {where}: {current or 'inherited'} -> {mode} "
        f"(the rule's mode elsewhere: {global_mode}; takes effect within a minute)"
    )
    return 0


def overrides_of(ssm: Any, rule_id: str) -> dict[str, str]:
    """The rule's overrides, {"account 111122223333" | "ou ou-…": mode} (``status`` in organization mode)."""
    from mlwarden.core.modes import rule_parameters_path

    path = rule_parameters_path(rule_id) + "/"
    found: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
        for parameter in page.get("Parameters", []):
            parts = str(parameter["Name"])[len(path) :].split("/")
            if len(parts) == 3 and parts[0] in ("accounts", "ous") and parts[2] == "mode":
                found[f"{'account' if parts[0] == 'accounts' else 'ou'} {parts[1]}"] = str(parameter["Value"]).strip()
    return dict(sorted(found.items()))


def accounts_to_sweep(args: argparse.Namespace, runner: LocalRunner) -> list[str]:
    """The accounts ``scan --account`` names (checked), or with ``--organization`` every ACTIVE account of the
    guarded organizational units; [] when neither is given (the caller's account, as always)."""
    named = list(dict.fromkeys(getattr(args, "account", None) or []))
    whole = bool(getattr(args, "organization", False))
    if not named and not whole:
        return []
    for account in named:
        if not org.is_account_id(account):
            raise OrganizationArgsError(f"--account {account!r} is not a 12-digit account id")
    own = runner.account()
    if runner.settings.organization is None:
        if whole or any(account != own for account in named):
            raise OrganizationArgsError(
                "--account (of another account) and --organization need the organization block in cdk.json "
                "(mlwarden.organization): the member roles are reached through it"
            )
        return named
    directory = runner.directory()
    assert directory is not None
    return named or directory.accounts()


def sweep_accounts(
    runner: LocalRunner, rules: Sequence[Rule], accounts: Sequence[str], *, workers: int = 8
) -> tuple[list[Decision], list[str]]:
    """``sweep`` of each account (through the rules' member roles), concurrently across accounts, with a progress
    line per account. Accounts the deployment does not guard are not swept (a note says why)."""
    from mlwarden.cli.commands import sweep

    directory = runner.directory()
    notes: list[str] = []
    guarded: list[str] = []
    for account in accounts:
        if directory is None or account == runner.account():
            guarded.append(account)
            continue
        try:
            coverage = directory.coverage(account)
        except Exception as exc:
            from mlwarden.core.errors import describe_error

            notes.append(
                f"account {account}: not swept: cannot tell whether it is in the organization ({describe_error(exc)})"
            )
            continue
        if coverage.covered:
            guarded.append(account)
        else:
            notes.append(f"account {account}: not swept: {coverage.reason}")
    results: dict[str, tuple[list[Decision], list[str]]] = {}
    per_account = max(workers // max(min(len(guarded), MAX_ACCOUNT_WORKERS), 1), 1)

    def one(account: str) -> tuple[str, tuple[list[Decision], list[str]]]:
        return account, sweep(runner, rules, workers=per_account, account=account, quiet=True)

    progress: Any = None
    tasks: dict[str, Any] = {}
    if sys.stderr.isatty() and guarded:
        from rich.console import Console
        from rich.progress import Progress

        progress = Progress(console=Console(stderr=True))
        progress.start()
        tasks = {account: progress.add_task(f"{account}: sweeping", total=1) for account in guarded}
    try:
        with ThreadPoolExecutor(max_workers=max(min(len(guarded), MAX_ACCOUNT_WORKERS), 1)) as pool:
            for account, result in pool.map(one, guarded):
                results[account] = result
                line = _account_line(account, result[0])
                if progress is not None:
                    progress.update(tasks[account], description=line, completed=1)
                else:
                    print(f"mlwarden: {line}", file=sys.stderr)
    finally:
        if progress is not None:
            progress.stop()
    decisions: list[Decision] = []
    for account in guarded:
        found, more = results[account]
        decisions.extend(found)
        notes.extend(note for note in more if note not in notes)
    refused = sorted({str(d.details["member_role_failed"]) for d in decisions if d.details.get("member_role_failed")})
    if refused:
        notes.append(member_role_hint(runner, refused))
    return decisions, notes


def member_role_hint(runner: LocalRunner, accounts: Sequence[str]) -> str:
    """What to do when a member role could not be assumed from here."""
    where = ", ".join(accounts)
    if runner.member_role:
        return (
            f"accounts {where}: role {runner.member_role} could not be assumed: check that it exists there and "
            "that its trust policy admits you"
        )
    return (
        f"accounts {where}: mlwarden's member roles (mlwarden-member-<rule>) trust only each rule's central "
        "function, not a person: from a workstation, add --member-role NAME with a role you may assume in each "
        "member account (e.g. OrganizationAccountAccessRole or your own read-only audit role)"
    )


def _account_line(account: str, decisions: Sequence[Decision]) -> str:
    judged = [d for d in decisions if d.resource_id]
    failed = sum(1 for d in decisions if d.action == "failed" or "could not" in d.reason)
    bad = sum(1 for d in judged if d.compliance == NON_COMPLIANT)
    return f"account {account}: {len(judged)} resources judged, {bad} non-compliant" + (
        f", {failed} could not be checked" if failed else ""
    )


def filter_accounts(decisions: Sequence[Decision], accounts: Sequence[str]) -> list[Decision]:
    """Only the decisions about resources of ``accounts`` (``report --account``); all without any."""
    wanted = set(accounts)
    return [d for d in decisions if not wanted or d.account in wanted]
