"""Shared fixtures: a controllable clock and multi-day local logs built with the real writer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit import LocalAuditTrail

REPO = Path(__file__).resolve().parent.parent


class Clock:
    """A clock tests move by hand (``AuditTrail(clock=...)``)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set_day(self, day: date, hour: int = 12) -> None:
        self.now = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Log:
    """A local audit log on disk and the records the writer returned for it."""

    root: Path
    records: list[dict[str, Any]]

    def file_of(self, day: date) -> Path:
        return self.root / f"{day:%Y/%m/%d}.jsonl"

    def lines(self, day: date) -> list[bytes]:
        return self.file_of(day).read_bytes().splitlines(keepends=True)

    def write_lines(self, day: date, lines: list[bytes]) -> None:
        self.file_of(day).write_bytes(b"".join(lines))


def build_log(root: Path, days: list[date], per_day: int) -> Log:
    """Write ``per_day`` events on each day with the real trail and a pinned clock."""
    clock = Clock(datetime(2000, 1, 1, tzinfo=UTC))
    records: list[dict[str, Any]] = []
    with LocalAuditTrail(root, clock=clock) as trail:
        for day in days:
            clock.set_day(day)
            for index in range(per_day):
                record = trail.record_event("test.event", {"day": day.isoformat(), "i": index})
                assert record is not None
                records.append(record)
                clock.advance(seconds=1)
    return Log(root, records)


DAYS = [date(2025, 10, 23), date(2025, 10, 24), date(2025, 10, 25)]


@pytest.fixture
def log3(tmp_path: Path) -> Log:
    """Three consecutive days, 10 events each (seq 0..29)."""
    return build_log(tmp_path / "audit", DAYS, 10)


@pytest.fixture
def cli_env() -> Iterator[dict[str, str]]:
    """Environment for running our CLIs as subprocesses from the repository root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "AUTH_", "OTEL_"))}
    env["PYTHONPATH"] = str(REPO / "src")
    env["PYTHONUNBUFFERED"] = "1"
    yield env


PYTHON = sys.executable


def acked_seqs(writers: list[subprocess.Popen[bytes]], timeout: float = 240) -> list[int]:
    """Wait for writer processes that print one acknowledged seq per line; all their seqs."""
    acked: list[int] = []
    for writer in writers:
        out, _ = writer.communicate(timeout=timeout)
        assert writer.returncode == 0
        acked += [int(line) for line in out.split()]
    return acked


def run_module(
    module: str, *args: str, env: dict[str, str], cwd: Path = REPO, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m module args…`` as an operator would, capturing text output."""
    return subprocess.run(
        [PYTHON, "-m", module, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
