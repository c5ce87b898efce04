"""The bodies of the ``mlwarden`` subcommands: each ``cmd_<name>(args)`` does the work and returns the exit
status (the parser in ``main`` picks one)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlwarden.cli.output import honest_delivery, output_format, print_decisions, print_table, report_unsent
from mlwarden.core import events
from mlwarden.core.engine import Engine, Source
from mlwarden.core.model import MODES, Decision, ResourceRef
from mlwarden.core.registry import UnknownRule, all_rules, get_rule
from mlwarden.core.spec import Rule

if TYPE_CHECKING:
    from mlwarden.cli.local import LocalRunner

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2
# Nothing could be checked: no credentials, the endpoint unreachable or failing (checked before any work).
EXIT_NOTHING_CHECKED = 3


def checked_account(region: str) -> str:
    """Credentials and endpoint, checked before any work (NothingChecked: exit 3 with one line)."""
    from mlwarden.cli.local import preflight

    return preflight(region)


def cmd_rules(args: argparse.Namespace) -> int:
    from mlwarden.cli.local import load_settings
    from mlwarden.core.settings import SettingsError

    rules = all_rules()
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        for rule in rules:
            spec = rule.spec
            print(
                json.dumps(
                    {
                        "id": spec.id,
                        "title": spec.title,
                        "severity": spec.severity,
                        "resource_type": spec.resource_type,
                        "triggers": spec.trigger_summary(),
                        "controls": list(spec.controls),
                        "default_mode": spec.default_mode,
                    }
                )
            )
        return EXIT_OK
    rows = [
        [
            r.spec.id,
            r.spec.severity,
            r.spec.resource_type,
            ", ".join(r.spec.controls) or "-",
            r.spec.default_mode,
            "yes" if r.spec.can_remediate else "notify only",
            "yes" if settings.deployed(r.spec.id) else "no (deploy: false)",
        ]
        for r in rules
    ]
    print_table(
        rows, ["id", "severity", "resource type", "controls", "default", "remediation", "deployed"], "mlwarden rules"
    )
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mlwarden.cli.inputs import UnreadableFile, read_json
    from mlwarden.cli.local import LocalRunner, default_region, deployed_rules

    region = default_region()
    runner = LocalRunner(apply=args.apply, topic_arn=args.topic_arn, region=region, account=checked_account(region))
    rules, left_out = deployed_rules(runner.settings)  # routed like the deployment: left-out rules get nothing
    fmt = output_format(args)
    status = EXIT_OK
    collected: list[Decision] = []
    unsent = [0]
    for name in args.files:
        try:
            document = read_json(Path(name))
        except UnreadableFile as exc:
            print(f"mlwarden: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        try:
            _evaluate_document(document, rules, runner, fmt, collected, unsent, left_out=left_out)
        except RecursionError:  # nested deeper than the parsing, routing or rule code can follow
            print(f"mlwarden: {name}: not an event: JSON nested too deeply to process", file=sys.stderr)
            status = EXIT_BAD_INPUT
    if fmt != "json":
        print_decisions(collected, fmt=fmt)
    report_unsent(runner, unsent[0])
    return status


def _evaluate_document(
    document: Any,
    rules: list[Rule],
    runner: LocalRunner,
    fmt: str,
    collected: list[Decision],
    unsent: list[int],
    *,
    left_out: Sequence[str] = (),
) -> None:
    """Route and judge every event of one file; JSON lines are printed as they come, tables collected."""
    from mlwarden.cli.inputs import normalize, route
    from mlwarden.cli.local import unrouted

    for event in normalize(document):
        runner.reads.clear()  # reads are shared by the rules an event reaches, not across events
        matched, reason = route(event, rules)
        if not matched and left_out:
            would, _ = route(event, [get_rule(rule_id) for rule_id in left_out])
            if would:
                ids = ", ".join(rule.spec.id for rule in would)
                reason = f"only rules left out of the deployment (cdk.json deploy: false) judge this event: {ids}"
        event_id = events.event_id(event) if isinstance(event, dict) else ""
        if not matched:
            out = [
                unrouted(
                    event_id,
                    reason,
                    account=_safe(events.account, event),
                    region=_safe(events.region, event),
                )
            ]
        else:
            out = []
            for rule in matched:
                try:
                    out.extend(runner.engine(rule).handle(event))
                except events.MalformedEvent as exc:
                    out.append(unrouted(event_id, f"{rule.spec.id}: {exc}"))
        unsent[0] += honest_delivery(out)
        if fmt == "json":
            print_decisions(out, fmt=fmt)
        else:
            collected.extend(out)


def _safe(getter: Any, event: Any) -> str:
    return getter(event) if isinstance(event, dict) else ""


def selected_rules(rule_ids: Sequence[str], settings: Any = None) -> list[Rule]:
    """The rules named (``--rule``, repeatable, deployed or not), or else every rule the deployment has
    (``settings``: cdk.json ``rules.<id>.deploy``); UnknownRule for an unknown id."""
    if rule_ids:
        return [get_rule(rule_id) for rule_id in dict.fromkeys(rule_ids)]
    return [rule for rule in all_rules() if settings is None or settings.deployed(rule.spec.id)]


def left_out_note(rule_ids: Sequence[str], settings: Any) -> str:
    """One line for stderr when rules are skipped because cdk.json leaves them out of the deployment."""
    left_out = [] if rule_ids else settings.left_out()
    if not left_out:
        return ""
    return (
        f"{len(left_out)} rule(s) left out of the deployment (cdk.json deploy: false) not judged "
        f"(name one with --rule to judge it): {', '.join(left_out)}"
    )


# Resources judged ahead of the one being printed, per worker: what bounds a sweep's memory.
SWEEP_WINDOW_PER_WORKER = 4


def sweep(
    runner: LocalRunner,
    rules: Sequence[Rule],
    *,
    workers: int = 8,
    account: str | None = None,
    quiet: bool = False,
) -> tuple[list[Decision], list[str]]:
    """Every decision of ``sweep_each``, in rule order, then listing order (what ``report`` and tables need)."""
    order = {rule.spec.id: index for index, rule in enumerate(rules)}
    decisions: list[Decision] = []
    notes = sweep_each(runner, rules, decisions.append, workers=workers, account=account, quiet=quiet)
    decisions.sort(key=lambda d: order.get(d.rule_id or "", -1))  # stable: listing order within a rule
    return decisions, notes


def listing_groups(engines: Sequence[Engine]) -> list[tuple[str, list[Engine]]]:
    """The listings a sweep makes: one per resource type, shared by every rule judging the type (a rule with its
    own listing, ``Rule.list_refs`` overridden, has its own: key "rule:<id>")."""
    groups: dict[str, list[Engine]] = {}
    for engine in engines:
        rule, spec = engine.rule, engine.spec
        if type(rule).list_refs is not Rule.list_refs:
            groups.setdefault(f"rule:{spec.id}", []).append(engine)
            continue
        swept = spec.sweep.resource_types if spec.sweep else None
        for rtype in spec.resources:
            if swept is None or rtype.name in swept:
                groups.setdefault(rtype.name, []).append(engine)
    return list(groups.items())


def sweep_each(
    runner: LocalRunner,
    rules: Sequence[Rule],
    emit: Callable[[Decision], None],
    *,
    workers: int = 8,
    account: str | None = None,
    quiet: bool = False,
) -> list[str]:
    """Judge every existing resource of each rule once, concurrently, handing each decision to ``emit`` (in the
    caller's thread) as it is made: what ``scan`` and ``report`` run. Returns notes for the user (rules that
    cannot be swept).

    Each resource type is listed once (the listing's paginator, with its server-side filters), and every rule
    judging the type judges each listed resource in one task: the run's shared reads (``runner.reads``) then
    read each attribute once for all of them, and are dropped when the resource is done. At most
    ``SWEEP_WINDOW_PER_WORKER`` resources per worker are in flight, so memory stays flat in the number of
    resources; ``emit`` gets decisions in listing order. A listing that fails becomes the engine's own
    NOT_APPLICABLE decision naming the failed call, for each rule of the type, so one service the account (or
    a local AWS) lacks does not stop the sweep. Dry run unless the runner applies.
    ``account``: a member account (organization mode: listed and judged through the rules' member roles);
    ``quiet``: no progress bar (the caller shows one per account).
    """
    from collections import deque
    from concurrent.futures import Future
    from dataclasses import replace

    from botocore.exceptions import BotoCoreError, ClientError

    from mlwarden import resources

    account = runner.account() if account is None else account
    region = runner.region
    source = Source(event_id="scan")
    engines = [runner.engine(rule) for rule in rules]
    reads = runner.reads
    judged: dict[str, int] = {}

    def judge(group: list[Engine], ref: ResourceRef) -> list[Decision]:
        try:
            return [engine.decide(ref, source) for engine in group]
        finally:
            reads.forget(reads.resource_key(ref, ref.resource_type))

    def refs_of(key: str, group: list[Engine]) -> Iterator[ResourceRef]:
        if key.startswith("rule:"):
            listed: Iterable[ResourceRef] = group[0].refs_to_sweep(region, account)
        else:
            ctx = group[0].ctx
            if account and ctx.organization is not None:  # a member account: listed through its member role
                ctx = ctx.in_account(account)
            listed = resources.list_refs(ctx, resources.by_name(key), region)
        for ref in listed:
            yield ref if ref.account or not account else replace(ref, account=account)

    window = max(workers, 1) * SWEEP_WINDOW_PER_WORKER
    with (
        ThreadPoolExecutor(max_workers=max(workers, 1)) as pool,
        SweepProgress(account, region, enabled=not quiet) as progress,
    ):
        pending: deque[Future[list[Decision]]] = deque()

        def drain(keep: int) -> None:
            while len(pending) > keep:
                for decision in pending.popleft().result():
                    emit(decision)
                progress.judged()

        for key, group in listing_groups(engines):
            try:
                for ref in refs_of(key, group):
                    for engine in group:
                        judged[engine.spec.id] = judged.get(engine.spec.id, 0) + 1
                    progress.listed()
                    pending.append(pool.submit(judge, group, ref))
                    drain(window)
            except (ClientError, BotoCoreError) as exc:
                drain(0)
                for engine in group:
                    judged[engine.spec.id] = judged.get(engine.spec.id, 0) + 1
                    emit(engine.listing_failed(region, source, account, exc))
        drain(0)
    notes = []
    for engine in engines:
        spec = engine.spec
        if not judged.get(spec.id) and not (spec.config or spec.cloudtrail):
            notes.append(f"{spec.id} is driven by findings only; nothing to sweep")
    return notes


class SweepProgress:
    """A progress line on stderr (a terminal only): the account and Region, resources listed and judged."""

    def __init__(self, account: str, region: str, *, enabled: bool = True) -> None:
        self.label = f"scanning {account or 'account'} {region}"
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> SweepProgress:
        if self.enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("resources"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=0)
        return self

    def listed(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=self._progress.tasks[0].total + 1)

    def judged(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def cmd_scan(args: argparse.Namespace) -> int:
    from mlwarden.cli.local import LocalRunner, default_region, load_settings

    settings = load_settings()
    try:
        rules = selected_rules(args.rule, settings)
    except UnknownRule as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    region = args.region or default_region()
    runner = LocalRunner(
        apply=args.apply,
        settings=settings,
        region=region,
        topic_arn=args.topic_arn,
        account=checked_account(region),
        member_role=args.member_role,
    )
    if note := left_out_note(args.rule, settings):
        print(f"mlwarden: {note}", file=sys.stderr)
    from mlwarden.cli import organization

    try:
        accounts = organization.accounts_to_sweep(args, runner)
    except organization.OrganizationArgsError as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    fmt = output_format(args)
    if accounts:  # organization mode: member accounts through the rules' member roles
        decisions, notes = organization.sweep_accounts(runner, rules, accounts, workers=args.workers)
        unsent = honest_delivery(decisions)
        print_decisions(decisions, fmt=fmt)
    elif fmt == "table":  # a table needs every row: in rule order, as before
        decisions, notes = sweep(runner, rules, workers=args.workers)
        unsent = honest_delivery(decisions)
        print_decisions(decisions, fmt=fmt)
    else:  # JSON lines and CSV rows are printed as the decisions are made: memory stays flat
        printer = StreamedDecisions(fmt)
        notes = sweep_each(runner, rules, printer, workers=args.workers)
        unsent = printer.unsent
    for note in notes:
        print(f"mlwarden: {note}", file=sys.stderr)
    report_unsent(runner, unsent)
    return EXIT_OK


class StreamedDecisions:
    """Prints each decision as it comes (JSON lines, or CSV rows under one header), counting unsent alerts."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.unsent = 0
        self._writer: Any = None

    def __call__(self, decision: Decision) -> None:
        self.unsent += honest_delivery([decision])
        if self.fmt != "csv":
            print_decisions([decision], fmt=self.fmt)
            return
        import csv

        from mlwarden.cli.report import csv_cell

        if self._writer is None:
            self._writer = csv.writer(sys.stdout)
            self._writer.writerow(Decision.CLI_KEYS)
        record = decision.cli_record()
        self._writer.writerow([csv_cell(record[key]) for key in Decision.CLI_KEYS])


def cmd_toggle(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    from mlwarden.cli import organization
    from mlwarden.cli.local import default_region
    from mlwarden.core.context import ClientFactory
    from mlwarden.core.errors import error_code
    from mlwarden.core.settings import ALLOW_REMEDIATION_TAG, KILL_SWITCH_PARAMETER, mode_parameter_name

    region = args.region or default_region()
    try:
        target = organization.override_target(args)
    except organization.OrganizationArgsError as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.rule == "kill-switch":
        if args.mode not in ("on", "off"):
            print("mlwarden: the kill switch is 'on' or 'off'", file=sys.stderr)
            return EXIT_BAD_INPUT
        checked_account(region)
        ssm = ClientFactory().client("ssm", region)
        ssm.put_parameter(Name=KILL_SWITCH_PARAMETER, Value=args.mode, Type="String", Overwrite=True)
        print(f"kill switch: {args.mode}" + (" (every remediation stopped; alerts go on)" if args.mode == "on" else ""))
        return EXIT_OK
    try:
        rule = get_rule(args.rule)
    except UnknownRule as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.mode not in MODES and target is None:
        print(f"mlwarden: mode must be one of {', '.join(MODES)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.mode == "remediate" and not rule.spec.can_remediate:
        print(
            f"mlwarden: refusing: {args.rule} has no automatic remediation (notify only); use notify",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    checked_account(region)
    ssm = ClientFactory().client("ssm", region)
    name = mode_parameter_name(args.rule)
    try:
        current = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList", [])
    except ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            print(
                f"mlwarden: {args.rule} is not deployed here (no SSM parameter {name}); run cdk deploy first",
                file=sys.stderr,
            )
            return EXIT_INTERNAL
        raise
    allowed = {t["Key"]: t["Value"] for t in tags}.get(ALLOW_REMEDIATION_TAG, "true")
    if args.mode == "remediate" and allowed == "false":
        print(
            f"mlwarden: refusing: remediation of {args.rule} was withheld at deploy time "
            "(allowRemediation: false in cdk.json); set it to true and redeploy first",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    if target is not None:  # organization mode: an override for one account or OU
        return organization.toggle_override(ssm, args.rule, target, args.mode, current)
    ssm.put_parameter(Name=name, Value=args.mode, Type="String", Overwrite=True)
    print(f"{args.rule}: {current} -> {args.mode} (takes effect within a minute)")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Where am I: every rule's mode and where it comes from, whether it may remediate, and the kill switch."""
    from botocore.exceptions import ClientError

    from mlwarden.cli.local import default_region, load_settings
    from mlwarden.core.context import ClientFactory
    from mlwarden.core.errors import error_code
    from mlwarden.core.modes import KILL_SWITCH_OFF
    from mlwarden.core.settings import (
        ALLOW_REMEDIATION_TAG,
        KILL_SWITCH_PARAMETER,
        SettingsError,
        mode_parameter_name,
    )

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    region = args.region or default_region()
    checked_account(region)
    ssm = ClientFactory().client("ssm", region)
    rules = all_rules()
    names = [mode_parameter_name(rule.spec.id) for rule in rules]
    values: dict[str, str] = {}
    for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
        for parameter in ssm.get_parameters(Names=names[start : start + 10]).get("Parameters", []):
            values[parameter["Name"]] = str(parameter["Value"]).strip()
    try:
        kill_switch: str | None = str(ssm.get_parameter(Name=KILL_SWITCH_PARAMETER)["Parameter"]["Value"])
    except ClientError as exc:
        if error_code(exc) != "ParameterNotFound":
            raise
        kill_switch = None
    records: list[dict[str, Any]] = []
    notes: list[str] = []
    for rule, name in zip(rules, names, strict=True):
        spec, deployed = rule.spec, settings.rule(rule.spec.id)
        value = values.get(name)
        if value in MODES:
            mode, source = str(value), "ssm"
        else:
            mode, source = deployed.mode, "default"
            if value is not None:
                notes.append(f"{spec.id}: {name} holds {value!r}, not a mode: the deploy default {mode} applies")
        allowed = deployed.allow_remediation
        if value is not None:
            tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList", [])
            allowed = {t["Key"]: t["Value"] for t in tags}.get(ALLOW_REMEDIATION_TAG, "true") != "false"
        remediation = "none" if not spec.can_remediate else ("allowed" if allowed else "withheld")
        records.append(
            {
                "rule_id": spec.id,
                "mode": mode,
                "mode_source": source,
                "remediation": remediation,
                "kill_switch": kill_switch,
            }
        )
    if settings.organization is not None:  # organization mode: each rule's per-account / per-OU overrides
        from mlwarden.cli.organization import overrides_of

        for record in records:
            record["overrides"] = overrides_of(ssm, record["rule_id"])
    if args.json:
        for record in records:
            print(json.dumps(record))
    else:
        if kill_switch is None:
            state = f"not deployed ({KILL_SWITCH_PARAMETER} missing): remediation runs where a rule's mode says so"
        elif kill_switch == KILL_SWITCH_OFF:
            state = "off: remediation runs where a rule's mode says so"
        else:
            state = f"ON (value {kill_switch!r}): every remediation stopped, alerts go on"
        print(f"kill switch: {state} (any value but exactly 'off' stops remediation)")
        sources = {"ssm": "SSM", "default": "deploy default (no SSM parameter)"}
        what = {"allowed": "allowed", "withheld": "withheld at deploy time", "none": "none (notify only)"}
        rows = [[r["rule_id"], r["mode"], sources[r["mode_source"]], what[r["remediation"]]] for r in records]
        print_table(rows, ["rule", "mode", "mode from", "remediation"], f"mlwarden status ({region})")
        for record in records:
            for where, mode in (record.get("overrides") or {}).items():
                print(f"{record['rule_id']}: {where}: {mode} (override)")
    for note in notes:
        print(f"mlwarden: {note}", file=sys.stderr)
    return EXIT_OK


HISTORY_COLUMNS = ("detected_at", "rule_id", "resource_id", "compliance", "action", "principal", "reason")


def audit_table_name(explicit: str | None, region: str) -> str | None:
    """--table, else $MLWARDEN_AUDIT_TABLE, else the deployed stack's AuditTableName output."""
    import os

    from mlwarden.core.context import ClientFactory
    from mlwarden.core.settings import ENV_AUDIT_TABLE

    if explicit or os.environ.get(ENV_AUDIT_TABLE):
        return explicit or os.environ[ENV_AUDIT_TABLE]
    try:
        stacks = ClientFactory().client("cloudformation", region).describe_stacks(StackName="Mlwarden")["Stacks"]
    except Exception:
        return None
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == "AuditTableName":
            return str(output["OutputValue"])
    return None


def cmd_history(args: argparse.Namespace) -> int:
    from mlwarden.cli.local import default_region
    from mlwarden.core.context import ClientFactory
    from mlwarden.core.safety import read_history

    region = args.region or default_region()
    checked_account(region)
    table = audit_table_name(args.table, region)
    if not table:
        print(
            "mlwarden: no audit table: pass --table, set MLWARDEN_AUDIT_TABLE, or deploy the Mlwarden stack here",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    items = read_history(
        ClientFactory().client("dynamodb", region),
        table,
        rule_id=args.rule,
        resource_id=args.resource,
        limit=args.limit,
        accounts=getattr(args, "account", None) or None,
    )
    if args.json:
        for item in items:
            print(json.dumps({k: v for k, v in item.items() if k not in ("sk", "expires_at")}, default=str))
        return EXIT_OK
    print_table([[str(item.get(c, "")) for c in HISTORY_COLUMNS] for item in items], list(HISTORY_COLUMNS), "history")
    return EXIT_OK


NO_AUDIT_TABLE = "no audit table: pass --table, set MLWARDEN_AUDIT_TABLE, or deploy the Mlwarden stack here"
DEFAULT_HTML_REPORT = "mlwarden-report.html"


def unwritable(output: str) -> str:
    """Why a report cannot be written to ``output`` ("" when it can): checked before any work."""
    import os

    path = Path(output)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return "it is a directory"
    if not parent.is_dir():
        return f"the directory {parent} does not exist"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable"
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        return f"the directory {parent} is not writable"
    return ""


def cmd_report(args: argparse.Namespace) -> int:
    if getattr(args, "evidence", None):  # an evidence bundle: report/evidence.py
        from mlwarden.cli.report.evidence import cmd_evidence

        return cmd_evidence(args)
    if getattr(args, "zip", False) or getattr(args, "since", None) or getattr(args, "until", None):
        print("mlwarden: --since, --until and --zip go with --evidence DIR", file=sys.stderr)
        return EXIT_BAD_INPUT
    from botocore.exceptions import BotoCoreError, ClientError

    from mlwarden.cli import report
    from mlwarden.cli.local import LocalRunner, default_region, load_settings
    from mlwarden.core.context import ClientFactory
    from mlwarden.core.errors import describe_error

    region = args.region or default_region()
    try:
        rules = selected_rules(args.rule, load_settings())
    except UnknownRule as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    output = args.output
    if not output and args.format == "html" and sys.stdout.isatty():
        output = DEFAULT_HTML_REPORT  # a page of HTML on a terminal helps nobody
    problem = unwritable(output) if output and output != "-" else ""
    if problem:  # before the scan, not after it
        print(f"mlwarden: cannot write the report to {output}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    account = checked_account(region)
    table = None if args.from_scan else audit_table_name(args.table, region)
    if args.from_history and not table:
        print(f"mlwarden: {NO_AUDIT_TABLE}", file=sys.stderr)
        return EXIT_INTERNAL
    notes: list[str] = []
    if table:
        try:
            decisions = report.decisions_from_history(
                ClientFactory().client("dynamodb", region), table, [r.spec.id for r in rules] if args.rule else None
            )
        except (ClientError, BotoCoreError) as exc:
            print(f"mlwarden: cannot read the audit table {table}: {describe_error(exc)}", file=sys.stderr)
            return EXIT_INTERNAL
        source, detail = report.SOURCE_HISTORY, f"the audit table {table} (latest decision per rule and resource)"
    else:
        runner = LocalRunner(apply=False, region=region, account=account, member_role=args.member_role)
        if getattr(args, "account", None):  # organization mode: the named accounts, through the member roles
            from mlwarden.cli import organization

            try:
                accounts = organization.accounts_to_sweep(args, runner)
            except organization.OrganizationArgsError as exc:
                print(f"mlwarden: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
            decisions, notes = organization.sweep_accounts(runner, rules, accounts, workers=args.workers)
        else:
            decisions, notes = sweep(runner, rules, workers=args.workers)
        source, detail = report.SOURCE_SCAN, "a fresh scan (dry run: nothing was changed)"
    if getattr(args, "account", None):
        from mlwarden.cli.organization import filter_accounts

        decisions = filter_accounts(decisions, args.account)
        detail += f", accounts {', '.join(args.account)}"
    built = report.build_report(
        decisions,
        source=source,
        source_detail=detail,
        region=region,
        rule_ids=[r.spec.id for r in rules],
        notes=notes,
    )
    text = report.render(built, args.format)
    if not output or output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    Path(output).write_text(text, encoding="utf-8", newline="")
    counts = built.summary
    print(
        f"mlwarden: report written to {output} from {detail}: {counts.judged} resources judged, "
        f"{counts.non_compliant} non-compliant, {counts.remediated} remediated, {counts.exempt} exempt",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from mlwarden.cli.doctor import print_checks, run_checks
    from mlwarden.cli.local import default_region, load_settings
    from mlwarden.core.settings import SettingsError

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    checks = run_checks(args.region or default_region(), settings)
    print_checks(checks, as_json=args.json)
    return EXIT_OK if all(check.ok for check in checks) else EXIT_INTERNAL


def cmd_demo(args: argparse.Namespace) -> int:
    if getattr(args, "org", False):
        from mlwarden.cli.demo_org import run_org_demo

        return run_org_demo(keep_running=args.keep_running)
    from mlwarden.cli.demo import run_demo

    return run_demo(keep_running=args.keep_running, fresh=getattr(args, "fresh", False))
