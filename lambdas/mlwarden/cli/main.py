"""The ``mlwarden`` command (also ``python -m mlwarden``): rules, evaluate, scan, toggle, demo."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mlwarden import __version__
from mlwarden.core import events
from mlwarden.core.engine import Source
from mlwarden.core.model import MODES, Decision
from mlwarden.core.registry import UnknownRule, all_rules, get_rule

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2

EXAMPLES = """\
examples:
  mlwarden rules --json
  mlwarden evaluate tests/events/cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json
  AWS_ENDPOINT_URL=http://127.0.0.1:5000 mlwarden evaluate --json --apply event.json
  mlwarden scan --rule s3-bucket-kms-encryption --json
  mlwarden toggle s3-bucket-kms-encryption remediate
  mlwarden toggle kill-switch on
  mlwarden history --rule s3-bucket-kms-encryption
  mlwarden demo
"""


# ------------------------------------------------------------------------------------------------ output
def _table(rows: list[list[str]], headers: list[str], title: str = "") -> None:
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table

            table = Table(*headers, title=title or None)
            for row in rows:
                table.add_row(*row)
            Console().print(table)
            return
        except ImportError:
            pass
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_decisions(decisions: Iterable[Decision], as_json: bool) -> None:
    if as_json:
        for decision in decisions:
            print(json.dumps(decision.cli_record()), flush=True)
        return
    rows = [[d.rule_id or "-", d.resource_id or "-", d.compliance, d.action, d.reason] for d in decisions]
    _table(rows, ["rule", "resource", "compliance", "action", "reason"])


# ---------------------------------------------------------------------------------------------- commands
def cmd_rules(args: argparse.Namespace) -> int:
    rules = all_rules()
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
        ]
        for r in rules
    ]
    _table(rows, ["id", "severity", "resource type", "controls", "default", "remediation"], "mlwarden rules")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mlwarden.cli.inputs import UnreadableFile, normalize, read_json, route
    from mlwarden.cli.local import LocalRunner, unrouted

    runner = LocalRunner(apply=args.apply, topic_arn=args.topic_arn)
    rules = all_rules()
    status = EXIT_OK
    collected: list[Decision] = []
    for name in args.files:
        try:
            document = read_json(Path(name))
        except UnreadableFile as exc:
            print(f"mlwarden: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        for event in normalize(document):
            matched, reason = route(event, rules)
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
            if args.json:
                print_decisions(out, True)
            else:
                collected.extend(out)
    if not args.json:
        print_decisions(collected, False)
    return status


def _safe(getter: Any, event: Any) -> str:
    return getter(event) if isinstance(event, dict) else ""


def cmd_scan(args: argparse.Namespace) -> int:
    from mlwarden.cli.local import LocalRunner

    runner = LocalRunner(apply=args.apply, region=args.region)
    try:
        rules = [get_rule(rule_id) for rule_id in args.rule] if args.rule else all_rules()
    except UnknownRule as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    work = []
    account = runner.account()
    for rule in rules:
        engine = runner.engine(rule)
        refs = engine.refs_to_sweep(runner.region, account)
        if not refs and not (rule.spec.config or rule.spec.cloudtrail):
            print(f"mlwarden: {rule.spec.id} is driven by findings only; nothing to sweep", file=sys.stderr)
        work.extend((engine, ref) for ref in refs)
    source = Source(event_id="scan")
    decisions: list[Decision] = []
    show_progress = sys.stderr.isatty()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(engine.decide, ref, source) for engine, ref in work]
        if show_progress:
            from rich.progress import Progress

            with Progress(transient=True) as progress:
                task = progress.add_task("scanning", total=len(futures))
                for future in futures:
                    decisions.append(future.result())
                    progress.advance(task)
        else:
            decisions = [f.result() for f in futures]
    print_decisions(decisions, args.json)
    return EXIT_OK


def cmd_toggle(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    from mlwarden.cli.local import default_region
    from mlwarden.core.context import ClientFactory
    from mlwarden.core.settings import ALLOW_REMEDIATION_TAG, KILL_SWITCH_PARAMETER, mode_parameter_name

    ssm = ClientFactory().client("ssm", args.region or default_region())
    if args.rule == "kill-switch":
        if args.mode not in ("on", "off"):
            print("mlwarden: the kill switch is 'on' or 'off'", file=sys.stderr)
            return EXIT_BAD_INPUT
        ssm.put_parameter(Name=KILL_SWITCH_PARAMETER, Value=args.mode, Type="String", Overwrite=True)
        print(f"kill switch: {args.mode}" + (" (every remediation stopped; alerts go on)" if args.mode == "on" else ""))
        return EXIT_OK
    try:
        get_rule(args.rule)
    except UnknownRule as exc:
        print(f"mlwarden: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.mode not in MODES:
        print(f"mlwarden: mode must be one of {', '.join(MODES)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    name = mode_parameter_name(args.rule)
    try:
        current = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
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
    ssm.put_parameter(Name=name, Value=args.mode, Type="String", Overwrite=True)
    print(f"{args.rule}: {current} -> {args.mode} (takes effect within a minute)")
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
    )
    if args.json:
        for item in items:
            print(json.dumps({k: v for k, v in item.items() if k not in ("sk", "expires_at")}, default=str))
        return EXIT_OK
    _table([[str(item.get(c, "")) for c in HISTORY_COLUMNS] for item in items], list(HISTORY_COLUMNS), "history")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from mlwarden.cli.demo import run_demo

    return run_demo(keep_running=args.keep_running)


# -------------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlwarden",
        description="Security guardrails for AWS AI/ML workloads: detect, alert, remediate.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mlwarden {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("rules", help="list the rule catalog")
    p.add_argument("--json", action="store_true", help="one JSON object per rule per line")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("evaluate", help="run event files through the rules (read-only unless --apply)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per (event, rule) per line")
    p.add_argument("--apply", action="store_true", help="remediate where the mode says so, and publish alerts")
    p.add_argument("--topic-arn", help="SNS topic for alerts with --apply (default: $MLWARDEN_TOPIC_ARN)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("scan", help="sweep existing resources of the account/region")
    p.add_argument("--rule", action="append", default=[], metavar="ID", help="only this rule (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per resource per line")
    p.add_argument("--apply", action="store_true", help="remediate where the mode says so")
    p.add_argument("--region", help="region to sweep (default: $AWS_REGION)")
    p.add_argument("--workers", type=int, default=8, help="concurrent reads (default 8)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("toggle", help="set a rule's runtime mode, or the kill switch")
    p.add_argument("rule", metavar="RULE", help="a rule id, or 'kill-switch'")
    p.add_argument("mode", metavar="MODE", help="off | notify | remediate (kill-switch: on | off)")
    p.add_argument("--region", help="region of the deployment (default: $AWS_REGION)")
    p.set_defaults(func=cmd_toggle)

    p = sub.add_parser("history", help="decisions recorded in the audit table, newest first")
    p.add_argument("--rule", metavar="ID", help="only this rule")
    p.add_argument("--resource", metavar="ID", help="only this resource id")
    p.add_argument("--json", action="store_true", help="one JSON object per decision per line")
    p.add_argument("--table", help="audit table (default: $MLWARDEN_AUDIT_TABLE or the stack output)")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--region", help="region of the deployment (default: $AWS_REGION)")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("demo", help="the whole stack on a local AWS account (moto server)")
    p.add_argument("--keep-running", action="store_true", help="leave the local account up until Ctrl-C")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a clear one-line message instead of a traceback
        print(f"mlwarden: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
