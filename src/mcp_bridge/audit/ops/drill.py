"""``drill`` (checklist: annual disaster-recovery drill): restore a sample and verify it.

Picks a run of consecutive days (``--days N``, at a position drawn from ``--seed``) from the
backup location (a backup directory, or ``s3://replica/prefix``: each day's segments, original
versions, in seq order), restores them into a new scratch directory (under ``--scratch DIR``,
default the system temp directory) or below a new sub-prefix of ``--scratch
s3://bucket/prefix`` (:mod:`.drill_s3`: objects put without retention), verifies their chain
and, with a verifier key (``--vkey`` or ``AUDIT_VERIFY_KEY``), the backup's signed checkpoints
(which the scratch copy does not hold) with :func:`verify_audit_trail`, and reports how long
each phase took. Only the scratch copies it made are removed afterwards; the result is filed as
a drill record in the ops records.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..checkpoint_check import CheckpointOptions
from ..cli_support import EXIT_FAILED, EXIT_OK, EXIT_STORAGE
from ..errors import AuditStorageError, AuditUsageError
from ..layout import day_key
from ..results import VerificationResult
from ..verification import verify_audit_trail
from . import checkpoints as ops_checkpoints
from . import cli
from .checkpoints import against
from .overlay import DayContent, scratch_layout
from .trail import (
    WHOLE,
    Location,
    RunOptions,
    Window,
    day_of_local_name,
    local_days,
    local_file,
    parse_location,
    within,
)

SCHEMA = "mcp-bridge/drill/v1"


@dataclass(slots=True)
class DrillResult:
    source: str
    seed: int
    days: list[date]
    scratch: str = ""
    files: int = 0
    bytes: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    verification: VerificationResult | None = None
    cleaned_up: bool = False
    scratch_objects: dict[str, Any] | None = None
    error: str | None = None  # storage trouble that stopped the drill

    @property
    def ok(self) -> bool:
        verified = self.verification is not None and self.verification.ok
        return verified and self.cleaned_up and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "from": self.source,
            "seed": self.seed,
            "sample": [day_key(day) for day in self.days],
            "scratch": self.scratch,
            "files": self.files,
            "bytes": self.bytes,
            "timings": {name: round(value, 3) for name, value in self.timings.items()},
            "verification": self.verification.to_dict() if self.verification else None,
            "checkpoints": (self.verification.stats if self.verification else {}).get(
                "checkpoints"
            ),
            "cleanedUp": self.cleaned_up,
            "scratchObjects": self.scratch_objects,
            "error": self.error,
        }

    def render_text(self) -> str:
        sample = f"{day_key(self.days[0])}..{day_key(self.days[-1])}" if self.days else "-"
        times = ", ".join(f"{name} {value:.2f}s" for name, value in self.timings.items())
        summary = self.verification.summary() if self.verification else "not verified"
        unit = "object(s)" if self.scratch.startswith("s3://") else "file(s)"
        copies = f"{self.files} {unit}"
        return (
            f"drill from {self.source}: sample {sample} (seed {self.seed}), {copies}, "
            f"{self.bytes:,} bytes restored into {self.scratch}\n"
            f"timings: {times}\n{summary}\n{ops_checkpoints.summary(self.verification)}\n"
            f"scratch copies removed: {'yes' if self.cleaned_up else 'NO'}{self._left()}"
            + (f"\ndrill stopped by storage trouble: {self.error}" if self.error else "")
        )

    def _left(self) -> str:
        left = (self.scratch_objects or {}).get("leftBehind") or []
        return "".join(f"\n  left behind: {name}" for name in left)


def _available_days(source: Location, s3: RunOptions, window: Window) -> list[date]:
    if source.root is not None:
        return local_days(source.root, window)
    from .restore_s3 import s3_day_list

    return s3_day_list(source, window, s3)


def _contents(source: Location, s3: RunOptions, days: list[date]) -> dict[date, DayContent]:
    if source.root is not None:
        return {day: local_file(source.root, day) for day in days}
    from .restore_s3 import s3_overlay_days

    segments = s3_overlay_days(source, Window(days[0], days[-1]), s3)
    return {day: b"".join(found[k] for k in sorted(found)) for day, found in segments.items()}


@dataclass(frozen=True, slots=True)
class DrillPlan:
    """What to drill: how many days, where the sample starts, and where the copies go."""

    days: int
    seed: int
    scratch: Location | None = None
    window: Window = WHOLE
    checkpoints: CheckpointOptions | None = None
    bypass_governance: bool = False


def drill(source: Location, plan: DrillPlan, s3: RunOptions) -> DrillResult:
    available = _available_days(source, s3, plan.window)
    if not available:
        raise AuditUsageError(f"{source.text} holds no partition in the window: nothing to drill")
    count = min(plan.days, len(available))
    first = random.Random(plan.seed).randrange(len(available) - count + 1)
    if plan.scratch is not None and within(plan.scratch, source):
        raise AuditUsageError(
            f"--scratch {plan.scratch.text} overlaps the backup {source.text}",
            hint="use a directory, prefix or bucket of its own for drill copies",
        )
    result = DrillResult(source.text, plan.seed, available[first : first + count])
    anchor = available[first - 1] if first else None
    checkpoints = against(plan.checkpoints, source, s3)
    try:
        if plan.scratch is not None and plan.scratch.is_s3:
            _into_prefix(source, plan, s3, result, anchor, checkpoints)
        else:
            root = plan.scratch.root if plan.scratch is not None else None
            _into_directory(source, root, s3, result, anchor, checkpoints)
    except AuditStorageError as exc:  # the drill record says where it stopped (exit 3)
        result.error = exc.render()
    return result


def _into_directory(
    source: Location,
    parent: Path | None,
    s3: RunOptions,
    result: DrillResult,
    anchor: date | None,
    checkpoints: CheckpointOptions | None,
) -> None:
    began = time.perf_counter()
    contents = _contents(source, s3, result.days)
    if anchor is not None:  # the partition before the sample: what its first record links to
        contents.update(_contents(source, s3, [anchor]))
    with scratch_layout(contents, parent, copy=True) as root:
        result.scratch = str(root)
        restored = [
            path
            for path in root.rglob("*.jsonl")
            if path.is_file() and day_of_local_name(str(path)) != anchor
        ]
        result.files, result.bytes = len(restored), sum(p.stat().st_size for p in restored)
        result.timings["restoreSeconds"] = time.perf_counter() - began
        started = time.perf_counter()
        result.verification = verify_audit_trail(
            root,
            start=result.days[0],
            end=result.days[-1],
            parallel=False,
            checkpoints=checkpoints,
            progress=s3.progress,
        )
        result.timings["verifySeconds"] = time.perf_counter() - started
    result.cleaned_up = not Path(result.scratch).exists()
    result.timings["totalSeconds"] = time.perf_counter() - began


def _into_prefix(
    source: Location,
    plan: DrillPlan,
    s3: RunOptions,
    result: DrillResult,
    anchor: date | None,
    checkpoints: CheckpointOptions | None,
) -> None:
    """The sample (and the day before it, its anchor) copied below a scratch S3 prefix, from
    an S3 backup or a backup directory."""
    from .drill_s3 import new_prefix, scratch_copy

    assert plan.scratch is not None
    began = time.perf_counter()
    days = set(result.days) | ({anchor} if anchor else set())
    made = new_prefix(plan.scratch)
    result.scratch = made.url
    copy = scratch_copy(made, source, plan.scratch, days, s3, bypass=plan.bypass_governance)
    try:
        with copy:
            result.files, result.bytes = len(made.made), made.bytes
            result.timings["restoreSeconds"] = time.perf_counter() - began
            started = time.perf_counter()
            result.verification = verify_audit_trail(
                made.url,
                start=result.days[0],
                end=result.days[-1],
                checkpoints=checkpoints,
                progress=s3.progress,
                **s3.for_location(plan.scratch),
            )
            result.timings["verifySeconds"] = time.perf_counter() - started
            cleanup = time.perf_counter()
        result.timings["cleanupSeconds"] = time.perf_counter() - cleanup
    finally:  # also when the drill stopped: what was put, and what is left
        result.scratch_objects = made.to_dict()
        result.cleaned_up = made.cleaned_up
        result.timings["totalSeconds"] = time.perf_counter() - began


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("drill", "restore a sample from backup into scratch space and verify it")
    made.add_argument("path", help="backup location: a directory or s3://replica/prefix")
    made.add_argument("--days", type=int, default=3, help="consecutive days to sample (default 3)")
    made.add_argument("--seed", type=int, help="seed of the sample position (default: the time)")
    made.add_argument(
        "--scratch",
        help="where the copies go: a directory to create the scratch directory in (default: "
        "temp), or s3://bucket/prefix (S3 backups; a new sub-prefix, copies without retention)",
    )
    made.add_argument(
        "--bypass-governance",
        action="store_true",
        help="S3 scratch: allow a bucket with default GOVERNANCE retention (the clean-up then "
        "needs s3:BypassGovernanceRetention); COMPLIANCE default retention is always refused",
    )
    ops_checkpoints.add_arguments(made)
    cli.add_window(made)
    cli.add_s3(made)
    cli.add_incident(made)
    return made


def execute(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from ...config import load_config

    if args.days < 1:
        raise AuditUsageError(f"--days {args.days}: must be ≥ 1")
    scratch = None
    if args.scratch is not None and args.scratch.startswith("s3://"):
        scratch = parse_location(args.scratch)
    elif args.scratch is not None:
        scratch = Location(args.scratch, root=cli.existing_dir(args.scratch, "--scratch"))
    config = load_config()
    source = parse_location(args.path, what="backup location")
    records = cli.ops_records(source, config)
    plan = DrillPlan(
        args.days,
        args.seed if args.seed is not None else time.time_ns() % 2**31,
        scratch,
        cli.window_of(args),
        ops_checkpoints.options_of(args, config),
        args.bypass_governance,
    )
    with cli.options(args) as run:
        result = drill(source, plan, run)
    document = result.to_dict()
    log = result.verification.render_text() if result.verification else ""
    path = records.write(
        "drill", argv, incident=args.incident, result=document, attachments={"log": log}
    )
    document["drillRecord"] = str(path)
    cli.emit(document, f"{result.render_text()}\ndrill record: {path}", args.json)
    if result.error:
        return EXIT_STORAGE
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    made = build_parser()
    words = cli.argv_or_sys(argv)
    return cli.run(made, words, lambda args: execute(args, words))
