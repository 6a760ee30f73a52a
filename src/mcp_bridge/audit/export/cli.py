"""``python -m mcp_bridge.audit export PATH|s3://bucket/prefix [options]`` (and ``--follow``).

Parses arguments, opens the record source, runs one export or the follower, and reports on
stderr (stdout may carry the rows). Exit codes: 0 exported and verified; 1 verification
failed (refused, or exported with flagged rows); 2 usage or configuration; 3 storage or sink
unreachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from ..cli_support import EXIT_FAILED, EXIT_OK, progress_display, run_cli
from ..errors import AuditUsageError
from ..layout import check_window, parse_day_key
from ..verification import open_source
from .formats import FORMAT_NAMES
from .reader import Selection

EXIT_HELP = (
    "exit codes: 0 exported and verified; 1 verification failed (export refused, or rows "
    "flagged with --allow-unverified); 2 usage or configuration error; 3 storage or sink "
    "unreachable"
)


def _day(text: str) -> date:
    try:
        return parse_day_key(text)
    except AuditUsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ≥ {minimum}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 3600]")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit export",
        description=(
            "Export the audit trail (local or S3) as JSON lines, CSV, Parquet or OCSF, "
            "verifying every row on the way; or stream it to a SIEM with --follow."
        ),
        epilog=EXIT_HELP,
    )
    parser.add_argument("path", help="audit directory, or s3://bucket/prefix")
    parser.add_argument("--format", choices=FORMAT_NAMES, default="jsonl", help="default jsonl")
    parser.add_argument("--start", type=_day, help="first UTC day (YYYY/MM/DD)")
    parser.add_argument("--end", type=_day, help="last UTC day (YYYY/MM/DD)")
    parser.add_argument("--from-seq", type=_count(0), help="first seq to export")
    parser.add_argument("--to-seq", type=_count(0), help="last seq to export")
    parser.add_argument(
        "-o",
        "--output",
        help="a new file; a directory (trailing / or an existing empty one) for "
        "date=YYYY-MM-DD/ partitions; '-' or nothing for stdout",
    )
    parser.add_argument(
        "--allow-unverified",
        action="store_true",
        help="export a range that fails verification, with failing rows flagged verified=false",
    )
    parser.add_argument("--max-failures", type=_count(1), default=100, help="failures to list")
    parser.add_argument("--region", help="S3: region override")
    parser.add_argument("--endpoint-url", help="S3: endpoint of an S3-compatible store")
    follow = parser.add_argument_group("streaming (--follow)")
    follow.add_argument("--follow", action="store_true", help="tail the trail into --sink")
    follow.add_argument("--cursor", help="file holding the last seq the sink acknowledged")
    follow.add_argument(
        "--sink",
        default="stdout",
        help="stdout | file:PATH | hec:URL (Splunk HEC, token in $AUDIT_EXPORT_HEC_TOKEN) | "
        "webhook:URL (optional bearer token in $AUDIT_EXPORT_WEBHOOK_TOKEN); default stdout",
    )
    follow.add_argument("--sink-ca", help="CA bundle (PEM) to trust for an HTTPS sink")
    follow.add_argument(
        "--poll-interval", type=_seconds, default=2.0, help="seconds between polls (default 2)"
    )
    follow.add_argument(
        "--batch-size",
        type=_count(1),
        default=500,
        help="rows per delivery, the bound of the in-memory queue (default 500)",
    )
    follow.add_argument(
        "--max-retries",
        type=_count(0),
        default=0,
        help="give up (exit 3) after this many failed deliveries in a row; 0 = never",
    )
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Selection:
    try:
        check_window(args.start, args.end)
        selection = Selection(args.start, args.end, args.from_seq, args.to_seq)
        selection.check()
    except AuditUsageError as exc:
        parser.error(str(exc))
    s3 = args.region or args.endpoint_url
    if s3 and not args.path.startswith("s3://"):
        parser.error("--region and --endpoint-url only apply to s3:// locations")
    if args.follow:
        if args.output is not None or args.format != "jsonl":
            parser.error("--follow sends JSON lines to --sink; --output and --format do not apply")
        if args.end is not None or args.to_seq is not None:
            parser.error("--follow has no end: --end and --to-seq do not apply")
    elif args.cursor is not None or args.sink != "stdout":
        parser.error("--cursor and --sink only apply with --follow")
    return selection


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    selection = _check(parser, args)
    s3_options = {
        name: value
        for name, value in (("region", args.region), ("endpoint_url", args.endpoint_url))
        if value is not None
    }

    def body() -> int:
        if args.follow:
            from .follow_cli import run_follow

            return run_follow(args, selection, s3_options, dict(os.environ))
        return _run_export(args, selection, s3_options)

    return run_cli(body, verbose=args.verbose)


def _run_export(args: argparse.Namespace, selection: Selection, s3_options: dict[str, Any]) -> int:
    from .checkpoints import CoveringCheckpoints, checkpoint_store
    from .run import export

    source = open_source(args.path, **s3_options)
    store = checkpoint_store(args.path, **s3_options)
    covering = CoveringCheckpoints.listed(store, selection.first_seq or 0).covering
    with progress_display(True) as progress:
        outcome = export(
            source,
            selection,
            format_name=args.format,
            target=args.output,
            allow_unverified=args.allow_unverified,
            max_failures=args.max_failures,
            progress=progress,
            covering=covering,
        )
    if not outcome.ok:
        print(outcome.result.render_text(), file=sys.stderr)
    print(outcome.summary(), file=sys.stderr)
    return EXIT_OK if outcome.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
