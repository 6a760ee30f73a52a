"""``verify --vkey`` on logs written by the real writer with checkpoints on (local store).

The writer signs checkpoints on its interval and at shutdown and mirrors them; then the log or
its checkpoints are damaged as the issue's tamper cases describe, and verification must name
the checkpoint that proves it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit import open_audit_trail
from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.checkpoint_check import CheckpointOptions
from mcp_bridge.audit.checkpoint_store import checkpoint_name
from mcp_bridge.audit.records import seal_record
from mcp_bridge.audit.results import Reason, VerificationResult
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.verification import verify_audit_trail
from mcp_bridge.config import AppConfig

from ..conftest import DAYS, Clock, Log
from .checkpoint_helpers import OTHER_SIGNER, SIGNER, write_key

VKEY = SIGNER.verifier.to_text()


@pytest.fixture
def written(tmp_path: Path) -> Log:
    """30 records over three days by the real writer, checkpoints on, mirrored."""
    config = AppConfig(
        audit_storage_path=tmp_path / "audit",
        audit_signing_key=str(write_key(tmp_path)),
        audit_checkpoint_interval_seconds=0.05,
        audit_checkpoint_mirror=str(tmp_path / "mirror"),
    )
    clock = Clock(datetime(2000, 1, 1, tzinfo=UTC))
    records: list[dict[str, Any]] = []
    with open_audit_trail(config, clock=clock) as trail:
        for day in DAYS:
            clock.set_day(day)
            for index in range(10):
                record = trail.record_event("test.event", {"i": index})
                assert record is not None
                records.append(record)
                clock.advance(seconds=1)
    return Log(tmp_path / "audit", records)


def verify(log: Log, *, hours: float = 1, **options: Any) -> VerificationResult:
    now = datetime(2025, 10, 25, 12, tzinfo=UTC) + timedelta(hours=hours)
    return verify_audit_trail(
        log.root, checkpoints=CheckpointOptions(VKEY, now=now, **options), parallel=False
    )


def reasons(result: VerificationResult) -> list[Reason]:
    return [failure.reason for failure in result.failures]


def newest(log: Log) -> int:
    return local_checkpoints(log.root).checkpoint_sizes()[-1]


def test_the_writers_log_verifies(written: Log) -> None:
    result = verify(written)
    assert result.ok, result.render_text()
    assert result.stats["checkpoints"]["newest"]["treeSize"] == 30 == newest(written)


def test_last_records_cut(written: Log) -> None:
    written.write_lines(DAYS[-1], written.lines(DAYS[-1])[:6])
    result = verify(written)
    assert reasons(result) == [Reason.LOG_TRUNCATED]
    # Named: the oldest checkpoint the shorter log contradicts (the writer's timing decides
    # whether one was signed between 26 and 30), and every newer one, up to the newest.
    failure = result.failures[0]
    longer = [size for size in local_checkpoints(written.root).checkpoint_sizes() if size > 26]
    assert failure.location.endswith(checkpoint_name(longer[0])) and failure.seq == 26
    named = [failure.location, *failure.related]
    assert len(named) == len(longer)
    pairs = zip(named, longer, strict=True)
    assert all(where.endswith(checkpoint_name(size)) for where, size in pairs)
    assert longer[-1] == 30


def test_newest_partition_deleted(written: Log) -> None:
    written.file_of(DAYS[-1]).unlink()
    result = verify(written)
    assert reasons(result) == [Reason.LOG_TRUNCATED]
    assert "holds 20 records" in result.failures[0].message


def test_forged_record_appended(written: Log) -> None:
    last = json.loads(written.lines(DAYS[-1])[-1])
    _, line = seal_record(last["hash"], 30, "2025-10-25T12:30:00.000000Z", "f", "forged", "{}")
    with written.file_of(DAYS[-1]).open("ab") as handle:
        handle.write(line)
    assert verify(written, hours=0.55).ok  # within interval + grace: not yet covered
    result = verify(written)
    assert reasons(result) == [Reason.UNCOVERED_RECORDS]
    assert result.failures[0].seq == 30


def test_whole_log_recomputed(written: Log) -> None:
    previous = "0" * 64
    for day in DAYS:
        lines = []
        for raw in written.lines(day):
            record = json.loads(raw)
            previous, line = seal_record(
                previous, record["seq"], record["timestamp"], record["eventId"], "forged", "{}"
            )
            lines.append(line)
        written.write_lines(day, lines)
    result = verify(written)
    assert result.failures and set(reasons(result)) == {Reason.CHECKPOINT_MISMATCH}


def test_checkpoint_replaced_by_another_key(written: Log) -> None:
    store = local_checkpoints(written.root)
    size = newest(written)
    stored = store.get_checkpoint(size)
    assert stored is not None
    Path(stored.where).unlink()
    root = bytes(32)
    store.put_checkpoint(size, sign_checkpoint(Checkpoint("o", size, root), OTHER_SIGNER), "t", "o")
    result = verify(written)
    assert reasons(result)[0] == Reason.CHECKPOINT_SIGNATURE
    assert result.failures[0].location == stored.where


def test_checkpoint_deleted_while_the_mirror_keeps_it(written: Log, tmp_path: Path) -> None:
    store = local_checkpoints(written.root)
    size = newest(written)
    Path(store.where(checkpoint_name(size))).unlink()
    written.file_of(DAYS[-1]).unlink()
    result = verify(written, mirror=str(tmp_path / "mirror"))
    assert reasons(result) == [Reason.CHECKPOINT_DELETED, Reason.LOG_TRUNCATED]
