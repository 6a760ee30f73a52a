"""Several processes, one chain; SIGKILL at random moments loses no acknowledged record."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

from mcp_bridge.audit import verify_audit_trail

from ..conftest import PYTHON, acked_seqs

WRITER = Path(__file__).with_name("writer_process.py")


def _all_seqs(root: Path) -> list[int]:
    """Seqs of every complete record on disk (torn fragments left by SIGKILL are skipped)."""
    seqs: list[int] = []
    for path in sorted(root.rglob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                seqs.append(json.loads(line)["seq"])
            except ValueError:
                continue
    return seqs


def test_four_processes_write_one_valid_chain(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "audit"
    writers = [
        subprocess.Popen(
            [PYTHON, str(WRITER), str(root), "5000", "10"],
            env=cli_env,
            stdout=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    assert sorted(acked_seqs(writers)) == list(range(20_000))
    result = verify_audit_trail(root)
    assert result.ok, result.render_text()
    assert (result.checked_events, result.first_seq, result.last_seq) == (20_000, 0, 19_999)
    assert _all_seqs(root) == list(range(20_000))


def test_sigkill_at_random_moments_loses_no_acknowledged_record(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    root = tmp_path / "audit"
    rng = random.Random(20261127)
    acked: set[int] = set()
    for _ in range(24):
        writer = subprocess.Popen(
            [PYTHON, str(WRITER), str(root), "0", "8"], env=cli_env, stdout=subprocess.PIPE
        )
        time.sleep(rng.uniform(0.15, 0.6))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        complete = out[: out.rfind(b"\n") + 1]  # a half-printed number was never acknowledged
        acked.update(int(line) for line in complete.split())
    final = subprocess.run(
        [PYTHON, str(WRITER), str(root), "16", "4"], env=cli_env, capture_output=True, check=True
    )
    acked.update(int(line) for line in final.stdout.split())
    stored = _all_seqs(root)
    assert acked, "the writer never acknowledged anything"
    assert acked <= set(stored)
    assert stored == list(range(len(stored)))
    result = verify_audit_trail(root)
    assert result.ok, result.render_text()
    assert all(note.kind == "crash_recovery" for note in result.notes)


def test_verifying_a_log_while_it_is_written_sees_a_consistent_snapshot(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    root = tmp_path / "audit"
    writer = subprocess.Popen(
        [PYTHON, str(WRITER), str(root), "0", "16", "200000"],
        env=cli_env,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not list(root.rglob("*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.05)
        counts: list[int] = []
        # Bounded in count and in time: on a loaded machine each pass over the growing log is
        # slower, and a few passes while the writer runs are what the test needs.
        until = time.monotonic() + 40
        while len(counts) < 2 or (len(counts) < 12 and time.monotonic() < until):
            result = verify_audit_trail(root, parallel=False)
            assert result.ok, result.render_text()
            counts.append(result.checked_events)
        assert counts[-1] > counts[0], "the writer was not writing during verification"
    finally:
        writer.terminate()
        writer.wait(timeout=30)
