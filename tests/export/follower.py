"""Running ``export --follow`` as an operator would: a subprocess, stopped or killed by signal."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..conftest import REPO


def start(
    trail: str, cursor: Path, sink: str, env: dict[str, str], *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "mcp_bridge.audit", "export", trail, "--follow",
            "--cursor", str(cursor), "--sink", sink, "--poll-interval", "0.1",
            "--batch-size", "4", *extra,
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, as a service manager stops it; returns the exit code and stderr."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL: a crash, no chance to save anything."""
    process.kill()
    process.communicate(timeout=60)


def wait_for(predicate: Callable[[], Any], process: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + 90
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"follower exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def in_order_without_gaps(seqs: Sequence[int]) -> list[int]:
    """The delivered seqs deduplicated; asserts no delivery ever skipped ahead."""
    seen: list[int] = []
    highest = -1
    for seq in seqs:
        assert seq <= highest + 1, f"seq {seq} arrived before seq {highest + 1}"
        if seq == highest + 1:
            seen.append(seq)
            highest = seq
    return seen
