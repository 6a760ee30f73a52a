"""``python -m mcp_bridge.audit.jobs``: the scheduled verification of the recent window.

Reads ``AppConfig`` from the environment, verifies the last ``AUDIT_VERIFY_LOOKBACK_DAYS`` UTC
days (ending today) on the configured backend, prints one line, archives a JSON report under
``AUDIT_VERIFY_REPORT_DIR`` and exits like ``verify`` (0 / 1 / 2 / 3).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import AppConfig, load_config
from .checkpoint_check import config_checkpoint_options, open_checkpoint_store
from .cli_support import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_OK,
    TIMEOUT_HELP,
    positive_seconds,
    progress_display,
    run_cli,
)
from .engine import ProgressCallback
from .errors import AuditUsageError
from .layout import day_key, lookback_window
from .results import VerificationResult
from .verification import verify_audit_trail

if TYPE_CHECKING:
    from .checkpoint_store import CheckpointStore
    from .witness.check import AttestationReport, WitnessPolicy


@dataclass(slots=True)
class ScheduledVerificationResult:
    """One scheduled run: the window, the verification result and where it was archived."""

    result: VerificationResult
    start_key: str
    end_key: str
    disabled: bool = False
    report_path: Path | None = None
    ran_at: str = ""
    attestations: AttestationReport | None = None

    @property
    def ok(self) -> bool:
        return self.result.ok and (self.attestations is None or self.attestations.ok)

    def line(self) -> str:
        """The one-line summary operators and alerting read."""
        if self.disabled:
            return "Audit verification skipped: the audit trail is disabled (AUDIT_ENABLED=false)"
        window = f"Audit verification window {self.start_key}..{self.end_key}"
        if not self.result.ok:
            return f"{window}: {self.result.message}"
        if self.attestations is not None and not self.attestations.ok:
            reasons = sorted({finding.reason for finding in self.attestations.findings})
            return f"{window}: witnesses or timestamps failed ({', '.join(reasons)})"
        text = f"{window}: verified {self.result.checked_events:,} events"
        return text + (" (no records in the window)" if not self.result.checked_events else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ranAt": self.ran_at,
            "window": {"start": self.start_key, "end": self.end_key},
            "disabled": self.disabled,
            "summary": self.line(),
            "result": self.result.to_dict(),
            "attestations": None if self.attestations is None else self.attestations.to_dict(),
        }


def trail_location(
    config: AppConfig, *, object_lock: bool = True, timeout: float | None = None
) -> tuple[str, dict[str, Any]]:
    """The configured log's location (a path or ``s3://`` URL) and its S3 options."""
    if config.audit_storage_backend == "s3":
        url = f"s3://{config.audit_s3_bucket}/{config.audit_s3_prefix.strip('/')}"
        options: dict[str, Any] = {
            "object_lock_mode": config.audit_s3_object_lock_mode,
            "object_lock_days": config.audit_s3_object_lock_days,
            "region": config.audit_s3_region,
            "endpoint_url": config.audit_s3_endpoint_url,
            "object_lock": None if object_lock else False,
            "timeout": timeout,
        }
        return url, {name: value for name, value in options.items() if value is not None}
    return str(config.audit_storage_path), {}


def run_scheduled_verification(
    config: AppConfig,
    *,
    reference_time: datetime | None = None,
    archive: bool = True,
    allow_empty: bool = False,
    object_lock: bool = True,
    timeout: float | None = None,
    progress: ProgressCallback | None = None,
) -> ScheduledVerificationResult:
    """Verify the lookback window ending on ``reference_time``'s UTC day (default: now).

    A configured location that holds no audit store is ``empty_store`` unless ``allow_empty``;
    on S3 every object must carry Object Lock retention unless ``object_lock`` is False, and
    ``timeout`` bounds each connect and read (seconds); ``progress`` follows the verification
    (the bar of a run by hand on a terminal).
    """
    now = (reference_time or datetime.now(UTC)).astimezone(UTC)
    start, end = lookback_window(now.date(), config.audit_verify_lookback_days)
    ran_at = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if not config.audit_enabled:
        empty = VerificationResult(ok=True, checked_events=0, message="Audit trail disabled")
        return ScheduledVerificationResult(
            empty, day_key(start), day_key(end), disabled=True, ran_at=ran_at
        )
    location, options = trail_location(config, object_lock=object_lock, timeout=timeout)
    attesting = _attestation_check(config, location)
    checkpoints = config_checkpoint_options(config, now)
    if attesting is not None:
        from .witness.options import with_quorum_check

        checkpoints = with_quorum_check(checkpoints, *attesting)
    result = verify_audit_trail(
        location,
        start=start,
        end=end,
        allow_empty=allow_empty,
        checkpoints=checkpoints,
        progress=progress,
        **options,
    )
    outcome = ScheduledVerificationResult(result, day_key(start), day_key(end), ran_at=ran_at)
    if attesting is not None:
        from .witness.options import check_attestations

        outcome.attestations = check_attestations(*attesting, result, windowed=True)
    if archive:
        outcome.report_path = archive_report(config, outcome, now)
    return outcome


def _attestation_check(
    config: AppConfig, location: str
) -> tuple[CheckpointStore, WitnessPolicy] | None:
    """Where and how to check witness cosignatures and RFC 3161 tokens, when
    ``AUDIT_VERIFY_WITNESSES`` or ``AUDIT_VERIFY_TIMESTAMP_REQUIRED`` / ``AUDIT_TSA_CERTS`` ask
    for them (``None`` otherwise)."""
    from .witness.options import policy_from_config

    policy = policy_from_config(config)
    if not policy.active:
        return None
    store = open_checkpoint_store(
        location, region=config.audit_s3_region, endpoint_url=config.audit_s3_endpoint_url
    )
    return store, policy


def archive_report(config: AppConfig, outcome: ScheduledVerificationResult, now: datetime) -> Path:
    """Write the run's JSON report to a new file named by run time; never overwrite one."""
    folder = config.audit_verify_report_dir.expanduser()
    if config.audit_storage_backend == "local" and _inside(folder, config.audit_storage_path):
        raise AuditUsageError(
            f"AUDIT_VERIFY_REPORT_DIR={folder} is inside the audit store "
            f"{config.audit_storage_path}; reports must live elsewhere"
        )
    folder.mkdir(parents=True, exist_ok=True)
    status = "ok" if outcome.ok else "failed"
    stem = now.strftime("%Y%m%dT%H%M%S.%fZ")
    data = (json.dumps(outcome.to_dict(), indent=2) + "\n").encode("utf-8")
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        path = folder / f"audit-verification-{stem}{suffix}-{status}.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return path
    raise AuditUsageError(f"cannot find a free report name in {folder}")


def _inside(child: Path, parent: Path) -> bool:
    return child.resolve().is_relative_to(parent.expanduser().resolve())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit.jobs",
        description=(
            "Verify the last AUDIT_VERIFY_LOOKBACK_DAYS UTC days of the configured audit trail "
            "and archive the report under AUDIT_VERIFY_REPORT_DIR."
        ),
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as one JSON document (what is archived) instead of text",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="a store that holds no audit log yet verifies (a brand-new deployment); "
        "without it that is the failure empty_store",
    )
    parser.add_argument(
        "--no-object-lock",
        dest="object_lock",
        action="store_false",
        help="S3: do not require Object Lock retention (a store without Object Lock)",
    )
    parser.add_argument("--timeout", type=positive_seconds, help=TIMEOUT_HELP)
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    args = parser.parse_args(argv)

    def body() -> int:
        config = load_config()
        options = {"allow_empty": args.allow_empty, "object_lock": args.object_lock}
        with progress_display(not args.json) as progress:
            outcome = run_scheduled_verification(
                config, timeout=args.timeout, progress=progress, **options
            )
        if args.json:  # stdout is one document a monitor can parse
            print(json.dumps(outcome.to_dict(), indent=2))
        else:
            print(outcome.line())
            if not outcome.result.ok:
                print(outcome.result.render_text())
            if outcome.attestations is not None:
                print(outcome.attestations.render_text())
        if outcome.disabled and config.is_production:
            print(
                "error: AUDIT_ENABLED=false in ENVIRONMENT=production: the audit trail must be "
                "enabled in production",
                file=sys.stderr,
            )
            return EXIT_FAILED
        if outcome.report_path is not None:
            print(f"report archived: {outcome.report_path}", file=sys.stderr)
        return EXIT_OK if outcome.ok else EXIT_FAILED

    return run_cli(body, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
