"""Measuring helpers: call rates and latencies, child-process wall time and peak RSS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
MB = 1024 * 1024


@dataclass(slots=True)
class CallRun:
    """Events completed by concurrent callers in ``seconds``, with per-call latencies."""

    events: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    #: Process CPU seconds per event, when the caller measured it (0.0 = not measured).
    cpu_per_event: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile of the call latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    def as_dict(self) -> dict[str, float]:
        return {
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile_ms(50), 4),
            "p99_ms": round(self.percentile_ms(99), 4),
        }


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A finished child process: exit code, wall time, peak resident memory and output."""

    returncode: int
    seconds: float
    peak_rss: int
    stdout: str
    stderr: str

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss / MB


#: Runs the measured command as *its* child and records that grandchild's ``ru_maxrss``.
#: Linux carries the pre-``exec`` memory's high-water mark into ``ru_maxrss``, so a command
#: spawned straight from this (large) process would report at least our own RSS; spawned from
#: this bare interpreter, the floor is a few MB (see :func:`interpreter_floor`).
_LAUNCHER = (
    "import os, sys; "
    "pid = os.posix_spawn(sys.executable, [sys.executable, *sys.argv[2:]], os.environ); "
    "_, status, usage = os.wait4(pid, 0); "
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); "
    "sys.exit(os.waitstatus_to_exitcode(status))"
)


def run_child(argv: Sequence[str]) -> ChildRun:
    """Run ``python argv...``: exit code, wall time (incl. start-up), peak RSS and output."""
    with tempfile.TemporaryDirectory() as scratch:
        peak_file, errors_file = Path(scratch, "maxrss"), Path(scratch, "stderr")
        began = time.perf_counter()
        with errors_file.open("wb") as errors:
            proc = subprocess.run(
                [sys.executable, "-c", _LAUNCHER, str(peak_file), *argv],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=errors,
                check=False,
            )
        seconds = time.perf_counter() - began
        peak_kib = int(peak_file.read_text() or 0) if peak_file.exists() else 0
        return ChildRun(
            proc.returncode,
            seconds,
            peak_kib * 1024,
            proc.stdout.decode(errors="replace"),
            errors_file.read_text(errors="replace"),
        )


def interpreter_floor() -> float:
    """Peak RSS in MB of a child that does nothing: the part of any child's RSS that is Python."""
    return run_child(["-c", "pass"]).peak_rss_mb


def log_size(root: Path) -> tuple[int, int]:
    """``(records, bytes)`` in the ``*.jsonl`` files under ``root`` (one record per line)."""
    records = size = 0
    for path in root.rglob("*.jsonl"):
        with path.open("rb") as handle:
            for chunk in iter(partial(handle.read, MB), b""):
                records += chunk.count(b"\n")
                size += len(chunk)
    return records, size


@contextmanager
def scratch_dir(name: str) -> Iterator[Path]:
    """A fresh directory under ``var/bench/`` for one section's logs, deleted afterwards."""
    path = BENCH_DIR / f"{name}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """The fastest of ``repeats`` timed calls: the least disturbed by the rest of the machine."""
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        timings.append(time.perf_counter() - began)
    return min(timings)
