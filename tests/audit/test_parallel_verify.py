"""Parallel confirmation of large local logs: same answer as the sequential engine, always."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mcp_bridge.audit import Reason, verify_audit_trail
from mcp_bridge.audit.storage.local import parallel as local_parallel

from ..conftest import DAYS, Log, build_log


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallelise even tiny logs, in chunks of a few records."""
    monkeypatch.setattr(local_parallel, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(local_parallel, "_MIN_CHUNK_BYTES", 1500)


@pytest.fixture
def log(tmp_path: Path) -> Log:
    return build_log(tmp_path / "audit", DAYS, 40)


def test_intact_log_is_confirmed_in_parallel(small_chunks: None, log: Log) -> None:
    parallel = verify_audit_trail(log.root)
    sequential = verify_audit_trail(log.root, parallel=False)
    assert parallel.stats["parallel"] is True
    for field in (
        "ok",
        "checked_events",
        "first_seq",
        "last_seq",
        "first_timestamp",
        "last_timestamp",
        "partitions",
    ):
        assert getattr(parallel, field) == getattr(sequential, field), field


def test_window_is_confirmed_against_its_anchor(small_chunks: None, log: Log) -> None:
    result = verify_audit_trail(log.root, start="2025/10/24")
    assert result.ok and result.stats["parallel"] is True and result.first_seq == 40
    lines = log.lines(DAYS[0])
    log.write_lines(DAYS[0], lines[:-1])
    broken = verify_audit_trail(log.root, start="2025/10/24")
    first = broken.failures[0]
    assert not broken.ok and (first.reason, first.seq) == (Reason.SEQ_GAP, 38)
    assert "(seq 40)" in first.related[0]


@pytest.mark.parametrize("seed", range(6))
def test_any_damage_gets_the_sequential_report(small_chunks: None, log: Log, seed: int) -> None:
    rng = random.Random(seed)
    day = rng.choice(DAYS)
    lines = log.lines(day)
    index = rng.randrange(len(lines))
    if seed % 2:
        del lines[index]
    else:
        lines[index] = lines[index].replace(b'"test.event"', b'"test.evenT"')
    log.write_lines(day, lines)
    parallel = verify_audit_trail(log.root)
    sequential = verify_audit_trail(log.root, parallel=False)
    assert not parallel.ok
    assert parallel.to_dict()["failures"] == sequential.to_dict()["failures"]
