"""``drill`` (checklist: annual disaster-recovery drill): restore a sample and verify it.

Picks a run of consecutive days (``--days N``, at a position drawn from ``--seed``) from the
backup location (a backup directory, or ``s3://replica/prefix``: each day's segments, original
versions, in seq order), restores them into a new scratch directory (under ``--scratch DIR``,
default the system temp directory), verifies their chain with :func:`verify_audit_trail`, and
reports how long each phase took. The scratch directory it created is removed afterwards, and
nothing else; the result is filed as a drill record in the ops records.
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

from ..cli_support import EXIT_FAILED, EXIT_OK
from ..errors import AuditUsageError
from ..layout import day_key
from ..results import VerificationResult
from ..verification import verify_audit_trail
from . import cli
from .overlay import DayContent, scratch_layout
from .trail import (
    Location,
    RunOptions,
    Window,
    day_of_local_name,
    local_days,
    local_file,
    parse_location,
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

    @property
    def ok(self) -> bool:
        return self.verification is not None and self.verification.ok and self.cleaned_up

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
            "cleanedUp": self.cleaned_up,
        }

    def render_text(self) -> str:
        sample = f"{day_key(self.days[0])}..{day_key(self.days[-1])}" if self.days else "-"
        times = ", ".join(f"{name} {value:.2f}s" for name, value in self.timings.items())
        summary = self.verification.summary() if self.verification else "not verified"
        return (
            f"drill from {self.source}: sample {sample} (seed {self.seed}), {self.files} file(s), "
            f"{self.bytes:,} bytes restored into {self.scratch}\n"
            f"timings: {times}\n{summary}\n"
            f"scratch copies removed: {'yes' if self.cleaned_up else 'NO'}"
        )


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


def drill(
    source: Location,
    *,
    days: int,
    seed: int,
    scratch: Path | None,
    window: Window,
    s3: RunOptions,
) -> DrillResult:
    available = _available_days(source, s3, window)
    if not available:
        raise AuditUsageError(f"{source.text} holds no partition in the window: nothing to drill")
    count = min(days, len(available))
    first = random.Random(seed).randrange(len(available) - count + 1)
    result = DrillResult(source.text, seed, available[first : first + count])
    began = time.perf_counter()
    contents = _contents(source, s3, result.days)
    anchor = available[first - 1] if first else None
    if anchor is not None:  # the partition before the sample: what its first record links to
        contents.update(_contents(source, s3, [anchor]))
    with scratch_layout(contents, scratch, copy=True) as root:
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
            root, start=result.days[0], end=result.days[-1], parallel=False
        )
        result.timings["verifySeconds"] = time.perf_counter() - started
    result.cleaned_up = not Path(result.scratch).exists()
    result.timings["totalSeconds"] = time.perf_counter() - began
    return result


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("drill", "restore a sample from backup into scratch space and verify it")
    made.add_argument("path", help="backup location: a directory or s3://replica/prefix")
    made.add_argument("--days", type=int, default=3, help="consecutive days to sample (default 3)")
    made.add_argument("--seed", type=int, help="seed of the sample position (default: the time)")
    made.add_argument(
        "--scratch", type=Path, help="where to create the scratch directory (default: temp)"
    )
    cli.add_window(made)
    cli.add_s3(made)
    cli.add_incident(made)
    return made


def execute(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.days < 1:
        raise AuditUsageError(f"--days {args.days}: must be ≥ 1")
    scratch = cli.existing_dir(str(args.scratch), "--scratch") if args.scratch else None
    records = cli.ops_records()
    with cli.options(args) as run:
        result = drill(
            parse_location(args.path, what="backup location"),
            days=args.days,
            seed=args.seed if args.seed is not None else time.time_ns() % 2**31,
            scratch=scratch,
            window=cli.window_of(args),
            s3=run,
        )
    document = result.to_dict()
    log = result.verification.render_text() if result.verification else ""
    path = records.write(
        "drill", argv, incident=args.incident, result=document, attachments={"log": log}
    )
    document["drillRecord"] = str(path)
    cli.emit(document, f"{result.render_text()}\ndrill record: {path}", args.json)
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    made = build_parser()
    words = cli.argv_or_sys(argv)
    return cli.run(made, words, lambda args: execute(args, words))
