"""What every ops command's command line shares: options, config, output, ops records."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cli_support import EXIT_CODES_HELP, progress_display, run_cli
from ..errors import AuditUsageError
from ..layout import check_window, parse_day_key
from .records import OpsRecords
from .trail import Location, RunOptions, Window, within

if TYPE_CHECKING:
    from ...config import AppConfig


def _day(text: str) -> date:
    try:
        return parse_day_key(text)
    except AuditUsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the options every ops command has (``--json``, ``--verbose``)."""
    made = argparse.ArgumentParser(
        prog=f"python -m mcp_bridge.audit {prog}", description=description, epilog=EXIT_CODES_HELP
    )
    add_common(made)
    return made


def add_common(made: argparse.ArgumentParser) -> None:
    made.add_argument("--json", action="store_true", help="print one JSON document")
    made.add_argument("--verbose", action="store_true", help="show tracebacks on errors")


def add_window(made: argparse.ArgumentParser) -> None:
    made.add_argument("--start", type=_day, help="first UTC day (YYYY/MM/DD)")
    made.add_argument("--end", type=_day, help="last UTC day (YYYY/MM/DD)")


def add_s3(made: argparse.ArgumentParser) -> None:
    made.add_argument("--region", help="S3: region override")
    made.add_argument("--endpoint-url", help="S3: endpoint of an S3-compatible store")


def add_incident(made: argparse.ArgumentParser) -> None:
    made.add_argument(
        "--incident", help="incident id to file the ops record under (see `incident report`)"
    )


def window_of(args: argparse.Namespace) -> Window:
    check_window(args.start, args.end)
    return Window(args.start, args.end)


def s3_of(args: argparse.Namespace) -> RunOptions:
    """The run's options; its steps share one S3 connection."""
    return RunOptions(
        getattr(args, "region", None), getattr(args, "endpoint_url", None), connections={}
    )


@contextmanager
def options(args: argparse.Namespace, description: str = "verifying") -> Iterator[RunOptions]:
    """The run's options, with a progress bar on stderr for long runs (terminal only, never
    with ``--json``)."""
    with progress_display(not args.json, description) as progress:
        yield replace(s3_of(args), progress=progress)


def ops_records(trail: Location | None = None, config: AppConfig | None = None) -> OpsRecords:
    """``AUDIT_OPS_RECORDS_PATH`` from the configuration (a bad setting is exit 2). Refused when
    it lies inside the local trail the command works on: the configuration can only compare it
    with ``AUDIT_STORAGE_PATH``, and records written there would change the trail."""
    from ...config import load_config

    folder = (config or load_config()).audit_ops_records_path.expanduser()
    if trail is not None and within(Location(str(folder), root=folder), trail):
        raise AuditUsageError(
            f"AUDIT_OPS_RECORDS_PATH={folder} is inside the audit trail {trail.text}: ops "
            "records must live outside the trail",
            hint="set AUDIT_OPS_RECORDS_PATH to a directory of its own (default var/audit-ops)",
        )
    return OpsRecords(folder)


def emit(document: dict[str, Any], text: str, as_json: bool) -> None:
    """Print the JSON document or the human text (stdout), never both."""
    print(json.dumps(document, indent=2, default=str) if as_json else text)


def run(
    made: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    body: Callable[[argparse.Namespace], int],
) -> int:
    """Parse (misuse exits 2), then run ``body`` with our errors mapped to exit codes."""
    args = made.parse_args(argv)
    return run_cli(lambda: body(args), verbose=args.verbose)


def s3_location(text: str, why: str) -> Location:
    """For checklist commands that read S3 object or bucket settings: a local path is exit 2."""
    from .trail import parse_location

    location = parse_location(text)
    if not location.is_s3:
        raise AuditUsageError(why)
    return location


def add_lock_options(made: argparse.ArgumentParser, purpose: str) -> None:
    """``--object-lock-mode`` / ``--object-lock-days``, defaulting to ``AUDIT_S3_OBJECT_LOCK_*``."""
    made.add_argument(
        "--object-lock-mode",
        type=str.lower,
        choices=["governance", "compliance"],
        help=f"S3: lock mode {purpose} (default AUDIT_S3_OBJECT_LOCK_MODE)",
    )
    made.add_argument(
        "--object-lock-days",
        type=int,
        help=f"S3: retention days {purpose} (default AUDIT_S3_OBJECT_LOCK_DAYS)",
    )


def existing_dir(text: str, option: str) -> Path:
    """A directory that must already exist (``--from DIR``); otherwise a usage error."""
    path = Path(text).expanduser()
    if not path.is_dir():
        state = "does not exist" if not path.exists() else "is not a directory"
        raise AuditUsageError(f"{option} {path} {state}")
    return path


def argv_or_sys(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)
