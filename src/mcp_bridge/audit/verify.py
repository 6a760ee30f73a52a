"""``python -m mcp_bridge.audit.verify PATH|s3://bucket/prefix [--start D] [--end D] ...``

A thin shell over :func:`mcp_bridge.audit.verify_audit_trail`: parse arguments, run the engine,
print the report (earliest failure first), exit with the documented code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from .checkpoint_check import (
    CheckpointOptions,
    add_checkpoint_arguments,
    checkpoint_options,
    config_checkpoint_options,
    coverage_line,
)
from .cli_support import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_OK,
    TIMEOUT_HELP,
    positive_seconds,
    progress_display,
    run_cli,
)
from .errors import AuditUsageError
from .layout import check_window, parse_day_key
from .results import VerificationResult
from .storage.local.source import DEFAULT_MAX_RECORD_BYTES
from .verification import verify_audit_trail
from .witness.options import (
    add_witness_arguments,
    attestation_store,
    check_attestations,
    policy_from_args,
    wants_attestations,
    with_quorum_check,
)

if TYPE_CHECKING:
    from .witness.check import AttestationReport


def _day(text: str) -> date:
    try:
        return parse_day_key(text)
    except AuditUsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ≥ 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit.verify",
        description="Verify the hash chain of an mcp-bridge audit trail (local or S3).",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument(
        "path",
        nargs="?",
        help="audit directory, or s3://bucket/prefix (default: the configured trail, as the "
        "scheduled job reads it: AUDIT_STORAGE_PATH, or s3://AUDIT_S3_BUCKET/AUDIT_S3_PREFIX "
        "with the AUDIT_S3_* lock, region and endpoint settings, and AUDIT_VERIFY_KEY)",
    )
    parser.add_argument("--start", type=_day, help="first UTC day to verify (YYYY/MM/DD)")
    parser.add_argument("--end", type=_day, help="last UTC day to verify (YYYY/MM/DD)")
    parser.add_argument("--json", action="store_true", help="print one JSON report")
    parser.add_argument(
        "--max-failures", type=_positive, default=100, help="failures to list (default 100)"
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="a location with no audit store at all verifies (a brand-new deployment); "
        "without it that is the failure empty_store",
    )
    parser.add_argument(
        "--max-record-bytes",
        type=_positive,
        default=DEFAULT_MAX_RECORD_BYTES,
        help="longest line read as a record, in bytes; longer lines are reported as "
        f"record_too_large and skipped (default {DEFAULT_MAX_RECORD_BYTES:,} = 1 MiB)",
    )
    parser.add_argument(
        "--object-lock-mode",
        type=str.lower,
        choices=["governance", "compliance"],
        help="S3: every object's Object Lock mode must be this",
    )
    parser.add_argument(
        "--object-lock-days",
        type=_positive,
        help="S3: every object's retain-until must be ≥ its newest event + this many days",
    )
    parser.add_argument(
        "--no-object-lock",
        dest="object_lock",
        action="store_false",
        help="S3: do not require Object Lock retention (a store without Object Lock); by "
        "default an unlocked object is object_lock_missing",
    )
    parser.add_argument("--kms-key-id", help="S3: objects must be encrypted with this KMS key")
    parser.add_argument(
        "--kms-required-since",
        type=_day,
        help="S3: with --kms-key-id, require the key only for partitions from this day on",
    )
    add_checkpoint_arguments(parser)
    parser.add_argument("--region", help="S3: region override")
    parser.add_argument("--endpoint-url", help="S3: endpoint of an S3-compatible store")
    parser.add_argument("--timeout", type=positive_seconds, help=TIMEOUT_HELP)
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    add_witness_arguments(parser)
    return parser


_OPTION_NAMES = {"object_lock": "--no-object-lock"}


def _s3_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {
        "object_lock_mode": args.object_lock_mode,
        "object_lock_days": args.object_lock_days,
        "kms_key_id": args.kms_key_id,
        "kms_required_since": args.kms_required_since,
        "region": args.region,
        "endpoint_url": args.endpoint_url,
        "timeout": args.timeout,
        "object_lock": None if args.object_lock else False,
    }
    return {name: value for name, value in options.items() if value is not None}


def _local_misuse(args: argparse.Namespace) -> str:
    names = ", ".join(_OPTION_NAMES.get(n, f"--{n.replace('_', '-')}") for n in _s3_options(args))
    return f"{names} only apply to s3:// locations"


def _target(args: argparse.Namespace) -> tuple[str, dict[str, Any], CheckpointOptions | None]:
    """The location, its S3 options and the checkpoint options: as given, or (no path) the
    configured trail with its settings, the command line's options taking precedence."""
    explicit = _s3_options(args)
    if args.path is not None:
        return args.path, explicit, checkpoint_options(args)
    from ..config import load_config
    from .jobs import trail_location

    config = load_config()
    path, configured = trail_location(config)
    if not path.startswith("s3://") and explicit:
        raise AuditUsageError(f"{_local_misuse(args)} (the configured trail is {path})")
    args.path = path  # the witness checks read the checkpoints of the same trail
    checkpoints = checkpoint_options(args) or config_checkpoint_options(config)
    return path, configured | explicit, checkpoints


def _print(result: VerificationResult, attested: AttestationReport | None, as_json: bool) -> None:
    if as_json:
        report = result.to_dict()
        if attested is not None:
            report["attestations"] = attested.to_dict()
        print(json.dumps(report, indent=2))
        return
    print(result.render_text() + coverage_line(result))
    if attested is not None:
        print(attested.render_text())


def windowed(args: argparse.Namespace) -> bool:
    """A window the witness checks look at: ``--start``, or an ``--end`` before today (UTC);
    the same rule by which the checkpoint verification reports a covering checkpoint."""
    today = datetime.now(UTC).date()
    return args.start is not None or (args.end is not None and args.end < today)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_window(args.start, args.end)
    except AuditUsageError as exc:
        parser.error(str(exc))
    if args.path is not None and not args.path.startswith("s3://") and _s3_options(args):
        parser.error(_local_misuse(args))

    def body() -> int:
        policy = policy_from_args(args) if wants_attestations(args) else None
        path, s3_options, checkpoints = _target(args)
        store = attestation_store(args) if policy is not None else None
        if store is not None and policy is not None:
            checkpoints = with_quorum_check(checkpoints, store, policy)
        with progress_display(not args.json) as progress:
            result = verify_audit_trail(
                path,
                start=args.start,
                end=args.end,
                max_failures=args.max_failures,
                progress=progress,
                allow_empty=args.allow_empty,
                max_record_bytes=args.max_record_bytes,
                checkpoints=checkpoints,
                **s3_options,
            )
        attested = None
        if store is not None and policy is not None:
            attested = check_attestations(store, policy, result, windowed(args))
        _print(result, attested, args.json)
        ok = result.ok and (attested is None or attested.ok)
        return EXIT_OK if ok else EXIT_FAILED

    return run_cli(body, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
