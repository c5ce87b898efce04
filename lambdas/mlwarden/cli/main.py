"""The ``mlwarden`` command (also ``python -m mlwarden``): rules, evaluate, scan, report, doctor, toggle, status,
history, demo.

This module is the command line's parser and entry point (``main``); the commands' bodies are in ``commands``,
what they print in ``output``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mlwarden import __version__
from mlwarden.cli import NothingChecked
from mlwarden.cli.commands import (
    DEFAULT_HTML_REPORT,
    EXIT_INTERNAL,
    EXIT_NOTHING_CHECKED,
    EXIT_OK,
    cmd_demo,
    cmd_doctor,
    cmd_evaluate,
    cmd_history,
    cmd_report,
    cmd_rules,
    cmd_scan,
    cmd_status,
    cmd_toggle,
)
from mlwarden.cli.report.evidence import FRAMEWORKS as EVIDENCE_FRAMEWORKS

EXAMPLES = """\
examples:
  mlwarden rules --json
  mlwarden evaluate tests/events/cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json
  AWS_ENDPOINT_URL=http://127.0.0.1:5000 mlwarden evaluate --json --apply event.json
  mlwarden scan --rule s3-bucket-kms-encryption --json
  mlwarden report --output report.html
  mlwarden report --evidence evidence-2026-q4 --framework nist-800-53 --since 2026-10-01 --until 2026-12-31
  mlwarden doctor
  mlwarden toggle s3-bucket-kms-encryption remediate
  mlwarden toggle kill-switch on
  mlwarden status
  mlwarden history --rule s3-bucket-kms-encryption
  mlwarden demo
"""


def _member_role_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--member-role",
        metavar="NAME",
        help="organization mode, from a workstation: assume this role (e.g. OrganizationAccountAccessRole or "
        "your read-only audit role) in each member account instead of mlwarden's member roles, which trust only "
        "the rules' central functions; no ExternalId is sent",
    )


def _subcommand(sub: Any, name: str, summary: str, example: str, description: str = "") -> argparse.ArgumentParser:
    """A subcommand whose --help ends with examples."""
    import textwrap

    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description or summary[:1].upper() + summary[1:] + ".", 100),
        epilog=f"{'examples' if chr(10) in example else 'example'}:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlwarden",
        description="Security guardrails for AWS AI/ML workloads: detect, alert, remediate.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mlwarden {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _subcommand(sub, "rules", "list the rule catalog", "mlwarden rules\n  mlwarden rules --json | jq .id")
    p.add_argument("--json", action="store_true", help="one JSON object per rule per line")
    p.set_defaults(func=cmd_rules)

    p = _subcommand(
        sub,
        "evaluate",
        "run event files through the rules (read-only unless --apply)",
        "mlwarden evaluate tests/events/cloudtrail-s3/sysdig-workshop-s3-DeleteBucketEncryption.json\n"
        "  AWS_ENDPOINT_URL=http://127.0.0.1:5000 mlwarden evaluate --json --apply event.json\n"
        "  mlwarden evaluate --format csv events/*.json > verdicts.csv",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per (event, rule) per line")
    p.add_argument("--format", choices=("table", "json", "csv"), help="output format (default: table)")
    p.add_argument("--apply", action="store_true", help="remediate where the mode says so, and publish alerts")
    p.add_argument("--topic-arn", help="SNS topic for alerts with --apply (default: $MLWARDEN_TOPIC_ARN)")
    p.set_defaults(func=cmd_evaluate)

    p = _subcommand(
        sub,
        "scan",
        "sweep existing resources of the account/region",
        "mlwarden scan\n  mlwarden scan --rule s3-bucket-kms-encryption --json\n"
        "  mlwarden scan --format csv > scan.csv\n  mlwarden scan --format ocsf > findings.ocsf.jsonl",
    )
    p.add_argument("--rule", action="append", default=[], metavar="ID", help="only this rule (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per resource per line")
    p.add_argument(
        "--format",
        choices=("table", "json", "csv", "ocsf"),
        help="output format (default: table; ocsf: OCSF 1.6.0 Compliance Findings, one per line)",
    )
    p.add_argument("--apply", action="store_true", help="remediate where the mode says so, and publish alerts")
    p.add_argument("--topic-arn", help="SNS topic for alerts with --apply (default: $MLWARDEN_TOPIC_ARN)")
    p.add_argument("--region", help="region to sweep (default: $AWS_REGION)")
    p.add_argument(
        "--workers",
        type=int,
        default=32,
        help="concurrent resources (default 32; calls per service and Region: $MLWARDEN_SERVICE_CONCURRENCY, 16)",
    )
    accounts = p.add_mutually_exclusive_group()
    accounts.add_argument(
        "--account",
        action="append",
        metavar="ID",
        help="organization mode: sweep this member account through the rules' member roles (repeatable)",
    )
    accounts.add_argument(
        "--organization",
        action="store_true",
        help="organization mode: sweep every ACTIVE account of the organizational units in cdk.json",
    )
    _member_role_argument(p)
    p.set_defaults(func=cmd_scan)

    p = _subcommand(
        sub,
        "report",
        "compliance report (HTML, CSV or JSON) from the audit table or a fresh scan",
        "mlwarden report --output report.html\n"
        "  mlwarden report --from-scan --rule s3-bucket-kms-encryption --format csv > s3.csv\n"
        "  mlwarden report --from-history --table mlwarden-audit --format json | jq .summary\n"
        "  mlwarden report --evidence q4 --framework ai-security --since 2026-10-01 --until 2026-12-31 --zip",
        description="A compliance report: summary figures, charts per rule and per FSBP control, the "
        "non-compliant resources with the reason and what to do, grouped by control and by NIST SP 800-53 "
        "rev. 5 requirement. Default source: the audit table when one is found (--table, "
        "$MLWARDEN_AUDIT_TABLE or the Mlwarden stack output), else a fresh scan (dry run). HTML on a "
        f"terminal without --output goes to ./{DEFAULT_HTML_REPORT}.",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--from-scan", action="store_true", help="judge every resource now (dry run)")
    source.add_argument(
        "--from-history", action="store_true", help="the latest recorded decision per rule and resource"
    )
    p.add_argument("--rule", action="append", default=[], metavar="ID", help="only this rule (repeatable)")
    p.add_argument(
        "--format",
        choices=("html", "csv", "json", "ocsf"),
        default="html",
        help="default: html (ocsf: OCSF 1.6.0 Compliance Findings, one per line)",
    )
    p.add_argument("--output", metavar="FILE", help="write here instead of standard output ('-': stdout)")
    p.add_argument("--region", help="region (default: $AWS_REGION)")
    p.add_argument("--table", help="audit table (default: $MLWARDEN_AUDIT_TABLE or the stack output)")
    p.add_argument("--workers", type=int, default=32, help="concurrent resources of a scan (default 32)")
    p.add_argument("--account", action="append", metavar="ID", help="only resources of this account (repeatable)")
    evidence = p.add_argument_group('audit evidence (from the audit table; README "Audit evidence")')
    evidence.add_argument("--evidence", metavar="DIR", help="write an evidence bundle (HTML, CSV, JSON) to DIR")
    evidence.add_argument("--framework", choices=EVIDENCE_FRAMEWORKS, default="fsbp", help="default: fsbp")
    evidence.add_argument("--since", metavar="YYYY-MM-DD", help="first day (UTC) of the range (default: 90 days back)")
    evidence.add_argument("--until", metavar="YYYY-MM-DD", help="last day (UTC) of the range (default: today)")
    evidence.add_argument("--zip", action="store_true", help="one zip file DIR.zip instead of a folder")
    _member_role_argument(p)
    p.set_defaults(func=cmd_report)

    p = _subcommand(
        sub,
        "doctor",
        "check the account's prerequisites and say exactly what to fix",
        "mlwarden doctor\n  mlwarden doctor --region eu-west-1 --json | jq 'select(.ok | not)'",
        description="Checks the target account and region: AWS Config recording, a logging multi-Region "
        "CloudTrail trail with management events, Macie enabled, Security Hub enabled (when cdk.json "
        "securityHub is true), the Powertools layer resolvable, and the Mlwarden stack deployed. "
        "Exit status 0 when every check passes, 1 otherwise.",
    )
    p.add_argument("--region", help="region to check (default: $AWS_REGION)")
    p.add_argument("--json", action="store_true", help="one JSON object per check per line")
    p.set_defaults(func=cmd_doctor)

    p = _subcommand(
        sub,
        "toggle",
        "set a rule's runtime mode, or the kill switch",
        "mlwarden toggle s3-bucket-kms-encryption remediate\n  mlwarden toggle kill-switch on\n"
        "  mlwarden toggle s3-bucket-kms-encryption remediate --ou ou-ab12-sandbox1\n"
        "  mlwarden toggle s3-bucket-kms-encryption inherit --account 111122223333",
    )
    p.add_argument("rule", metavar="RULE", help="a rule id, or 'kill-switch'")
    p.add_argument(
        "mode",
        metavar="MODE",
        help="off | notify | remediate (kill-switch: on | off); with --account/--ou also inherit (remove the override)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--account", metavar="ID", help="organization mode: override the mode for this account only")
    where.add_argument("--ou", metavar="OU-ID", help="organization mode: override the mode for this OU (and below)")
    p.add_argument("--region", help="region of the deployment (default: $AWS_REGION)")
    p.set_defaults(func=cmd_toggle)

    p = _subcommand(
        sub,
        "status",
        "every rule's mode (and where it comes from), whether it may remediate, and the kill switch",
        "mlwarden status\n  mlwarden status --json | jq 'select(.mode == \"remediate\")'",
    )
    p.add_argument("--region", help="region of the deployment (default: $AWS_REGION)")
    p.add_argument("--json", action="store_true", help="one JSON object per rule per line")
    p.set_defaults(func=cmd_status)

    p = _subcommand(
        sub,
        "history",
        "decisions recorded in the audit table, newest first",
        "mlwarden history --rule s3-bucket-kms-encryption\n  mlwarden history --resource my-bucket --json",
    )
    p.add_argument("--rule", metavar="ID", help="only this rule")
    p.add_argument("--resource", metavar="ID", help="only this resource id")
    p.add_argument("--json", action="store_true", help="one JSON object per decision per line")
    p.add_argument("--table", help="audit table (default: $MLWARDEN_AUDIT_TABLE or the stack output)")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--account", action="append", metavar="ID", help="only decisions about this account (repeatable)")
    p.add_argument("--region", help="region of the deployment (default: $AWS_REGION)")
    p.set_defaults(func=cmd_history)

    p = _subcommand(
        sub,
        "demo",
        "the whole stack on a local AWS account (moto server)",
        "mlwarden demo\n  mlwarden demo --keep-running\n  mlwarden demo --org",
    )
    p.add_argument("--keep-running", action="store_true", help="leave the local account up until Ctrl-C")
    p.add_argument("--fresh", action="store_true", help="synthesize the CDK app even when its template is cached")
    p.add_argument("--org", action="store_true", help="a local organization: central account, two members, two Regions")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except NothingChecked as exc:
        print(f"mlwarden: nothing checked: {exc}", file=sys.stderr)
        return EXIT_NOTHING_CHECKED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a clear one-line message instead of a traceback
        print(f"mlwarden: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
