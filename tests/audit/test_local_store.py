"""The local store: restarts, day boundaries, crash recovery, refusal to paper over damage."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mcp_bridge.audit import (
    AuditCorruptionError,
    AuditStorageError,
    LocalAuditTrail,
    Reason,
    verify_audit_trail,
)

from ..conftest import DAYS, Clock, Log, build_log


def test_restart_next_day_continues_the_chain(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    clock = Clock(datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC))
    with LocalAuditTrail(root, clock=clock) as trail:
        last = trail.record_event("a", {"n": 1})
    clock.set_day(date(2026, 1, 1), hour=0)
    with LocalAuditTrail(root, clock=clock) as trail:
        first = trail.record_event("a", {"n": 2})
    assert last is not None and first is not None
    assert first["seq"] == last["seq"] + 1 and first["previousHash"] == last["hash"]
    assert (root / "2025/12/31.jsonl").exists() and (root / "2026/01/01.jsonl").exists()
    assert verify_audit_trail(root).ok


def test_record_event_returns_the_stored_record(tmp_path: Path) -> None:
    with LocalAuditTrail(tmp_path) as trail:
        record = trail.record_event("tool.call", {"tool": "x"})
        assert record is not None
        assert {"seq", "eventId", "timestamp", "hash", "previousHash", "v"} <= set(record)
        stored = json.loads(next(tmp_path.rglob("*.jsonl")).read_bytes())
        assert stored["hash"] == record["hash"] and stored["payload"] == {"tool": "x"}
        assert trail.last_durable_seq == 0 and trail.healthy


def test_disabled_trail_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    with LocalAuditTrail(root, enabled=False) as trail:
        assert trail.record_event("a", {}) is None
        assert asyncio.run(trail.arecord_event("a", {})) is None
    assert not root.exists()


def test_async_records_share_group_commits(tmp_path: Path) -> None:
    async def main(trail: LocalAuditTrail) -> list[int]:
        records = await asyncio.gather(*(trail.arecord_event("a", {"i": i}) for i in range(200)))
        return sorted(r["seq"] for r in records if r is not None)

    with LocalAuditTrail(tmp_path) as trail:
        assert asyncio.run(main(trail)) == list(range(200))
    assert verify_audit_trail(tmp_path).checked_events == 200


def test_fetch_events_filters_and_limits(log3: Log) -> None:
    with LocalAuditTrail(log3.root) as trail:
        trail.record_event("other", {})
        events = trail.fetch_events(limit=3, event_type="test.event")
    assert [e["seq"] for e in events] == [27, 28, 29]


def test_torn_tail_is_recovered_in_the_chain_and_accepted_by_the_verifier(log3: Log) -> None:
    path = log3.file_of(DAYS[2])
    original = path.read_bytes()
    torn = original.splitlines(keepends=True)[-1][:57]
    path.write_bytes(original + torn)
    before = verify_audit_trail(log3.root)
    assert not before.ok and before.failures[0].reason is Reason.UNTERMINATED_TAIL

    clock = Clock(datetime(2025, 10, 25, 18, tzinfo=UTC))
    with LocalAuditTrail(log3.root, clock=clock) as trail:
        record = trail.record_event("after.crash", {})
        recovery = trail.fetch_events(limit=1, event_type="chain.recovered")[0]
    assert record is not None and record["seq"] == 31
    assert path.read_bytes().startswith(original + torn + b"\n"), "existing bytes were changed"
    assert recovery["seq"] == 30 and recovery["previousHash"] == log3.records[-1]["hash"]
    assert recovery["payload"]["offset"] == len(original)
    assert recovery["payload"]["length"] == len(torn)
    result = verify_audit_trail(log3.root)
    assert result.ok, result.render_text()
    assert [note.kind for note in result.notes] == ["crash_recovery"]


def test_torn_tail_on_a_previous_day_is_recovered_on_the_new_day(log3: Log) -> None:
    path = log3.file_of(DAYS[2])
    path.write_bytes(path.read_bytes() + b'{"v":1,"previousHash":"ab')
    clock = Clock(datetime(2025, 10, 26, 1, tzinfo=UTC))
    with LocalAuditTrail(log3.root, clock=clock) as trail:
        trail.record_event("next.day", {})
    result = verify_audit_trail(log3.root)
    assert result.ok, result.render_text()
    assert result.notes[0].kind == "crash_recovery"


def test_forged_recovery_does_not_explain_garbage(log3: Log) -> None:
    """A recovery record names the torn bytes' digest: other bytes are not explained."""
    path = log3.file_of(DAYS[2])
    path.write_bytes(path.read_bytes() + b"garbage")
    clock = Clock(datetime(2025, 10, 25, 18, tzinfo=UTC))
    with LocalAuditTrail(log3.root, clock=clock) as trail:
        trail.record_event("after.crash", {})
    data = path.read_bytes().replace(b"garbage\n", b"garbaGE\n")
    path.write_bytes(data)
    result = verify_audit_trail(log3.root)
    assert not result.ok and result.failures[0].reason is Reason.INVALID_JSON


def test_unterminated_complete_record_is_kept_not_reported_torn(log3: Log) -> None:
    path = log3.file_of(DAYS[2])
    path.write_bytes(path.read_bytes()[:-1])
    clock = Clock(datetime(2025, 10, 25, 18, tzinfo=UTC))
    with LocalAuditTrail(log3.root, clock=clock) as trail:
        record = trail.record_event("x", {})
        assert trail.fetch_events(limit=5, event_type="chain.recovered") == []
    assert record is not None and record["seq"] == 30
    assert verify_audit_trail(log3.root).ok


def test_tampered_tail_makes_the_writer_refuse(log3: Log) -> None:
    lines = log3.lines(DAYS[2])
    lines[-1] = lines[-1].replace(b'"i":9', b'"i":8')
    log3.write_lines(DAYS[2], lines)
    size = log3.file_of(DAYS[2]).stat().st_size
    with LocalAuditTrail(log3.root) as trail:
        with pytest.raises(AuditCorruptionError, match="fails its hash check"):
            trail.record_event("x", {})
        assert not trail.healthy
    assert log3.file_of(DAYS[2]).stat().st_size == size


def test_unwritable_store_raises_storage_error_and_marks_unhealthy(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    clock = Clock(datetime(2026, 1, 2, tzinfo=UTC))
    with LocalAuditTrail(root, clock=clock) as trail:
        trail.record_event("a", {})
        (root / "2026" / "01" / "03.jsonl").mkdir(parents=True)  # a folder where a file goes
        clock.set_day(date(2026, 1, 3))
        with pytest.raises(AuditStorageError):
            trail.record_event("b", {})
        assert not trail.healthy and trail.last_error
        (root / "2026" / "01" / "03.jsonl").rmdir()
        assert trail.record_event("c", {}) is not None
        assert trail.healthy
    assert verify_audit_trail(root).checked_events == 2


def test_clock_stepping_back_keeps_partitions_in_order(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC))
    with LocalAuditTrail(tmp_path, clock=clock) as trail:
        trail.record_event("a", {})
        clock.set_day(date(2026, 3, 1), hour=23)
        late = trail.record_event("b", {})
    assert late is not None and late["timestamp"].startswith("2026-03-02")
    assert verify_audit_trail(tmp_path).ok


def test_build_log_helper_spans_days(tmp_path: Path) -> None:
    log = build_log(tmp_path, [date(2026, 2, 28), date(2026, 3, 1)], 2)
    assert [r["seq"] for r in log.records] == [0, 1, 2, 3]
    assert verify_audit_trail(tmp_path).partitions == ["2026/02/28", "2026/03/01"]


def test_failing_trail_probes_and_recovers_without_new_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from mcp_bridge.audit import committer

    monkeypatch.setattr(committer, "PROBE_SECONDS", 0.05)
    root = tmp_path / "audit"
    with LocalAuditTrail(root) as trail:
        trail.record_event("a", {})
        lock = root / ".writer.lock"
        lock.unlink()
        lock.mkdir()  # the next writer cannot open its lock: appends fail
        trail._store.close()  # drop the open lock descriptor so the failure is real
        with pytest.raises(AuditStorageError):
            trail.record_event("b", {})
        assert not trail.healthy
        lock.rmdir()
        deadline = time.monotonic() + 30
        while not trail.healthy and time.monotonic() < deadline:
            time.sleep(0.05)
        assert trail.healthy and trail.last_durable_seq == 0
    assert verify_audit_trail(root).checked_events == 1


def test_fetch_events_reads_backwards_across_blocks(tmp_path: Path) -> None:
    from mcp_bridge.audit.storage.local.files import iter_lines_backwards

    path = tmp_path / "lines"
    lines = [f"line-{i}-".encode() + b"x" * (i % 7) for i in range(500)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert list(iter_lines_backwards(path, block=13)) == lines[::-1]
    path.write_bytes(b"\n".join(lines))  # no final newline: the last line still counts
    assert list(iter_lines_backwards(path, block=64)) == lines[::-1]


def test_uncreatable_store_is_a_storage_error_naming_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AuditStorageError, match="cannot create the audit store") as caught:
        LocalAuditTrail(blocker / "audit")
    assert "AUDIT_STORAGE_PATH" in caught.value.render()


def test_a_forward_read_of_the_log_stops_at_a_line_another_writer_is_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint writer's catch-up read never skips a record that was being appended.

    Reading on past an incomplete last line returned the rest of it as a line of its own once
    the other writer finished it: the record was skipped and the writer stopped on a false gap.
    """
    from mcp_bridge.audit.storage.local import entries

    with LocalAuditTrail(tmp_path / "source") as trail:
        for n in range(10):
            trail.record_event("a", {"n": n})
    source = next((tmp_path / "source").rglob("*.jsonl"))
    lines = source.read_bytes().splitlines(keepends=True)
    root = tmp_path / "audit"
    path = root / source.relative_to(tmp_path / "source")
    path.parent.mkdir(parents=True)
    half = len(lines[5]) // 2
    path.write_bytes(b"".join(lines[:5]) + lines[5][:half])
    rest = lines[5][half:] + b"".join(lines[6:])
    real_entry = entries._entry

    def entry_while_the_writer_finishes(line: bytes, day: date) -> entries.LogEntry | None:
        if line == lines[5][:half]:  # the reader holds the incomplete line: the write completes
            with open(path, "ab") as handle:
                handle.write(rest)
        return real_entry(line, day)

    monkeypatch.setattr(entries, "_entry", entry_while_the_writer_finishes)
    assert [entry.seq for entry in entries.entries_since(root, 0)] == [0, 1, 2, 3, 4]
    with open(path, "ab") as handle:
        handle.write(rest)
    assert [entry.seq for entry in entries.entries_since(root, 0)] == list(range(10))
    assert [entry.seq for entry in entries.entries_since(root, 3)] == list(range(3, 10))
