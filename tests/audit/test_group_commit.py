"""Group commit: a shared future per batch for submitters, lazy sync of batches nobody waits
for, cancellation of one waiting caller."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

import pytest

from mcp_bridge.audit import LocalAuditTrail, committer, verify_audit_trail


@pytest.fixture
def never_lazy_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Background-only batches would wait an hour for their sync: only an awaited batch or
    ``close`` can make them durable, so the tests below see who triggered it."""
    monkeypatch.setattr(committer, "LAZY_SYNC_SECONDS", 3600.0)


@pytest.mark.usefixtures("never_lazy_sync")
def test_background_records_become_durable_with_the_next_awaited_record(tmp_path: Path) -> None:
    async def main(trail: LocalAuditTrail) -> None:
        background = trail.submit_event("read", {"n": 1}, awaited=False)
        assert background is not None
        durable = await trail.arecord_event("intent", {"n": 2})
        assert durable is not None and durable["seq"] == 1
        await asyncio.sleep(0)  # the background batch's resolution was scheduled first
        assert background.done() and background.result()[0].seq == 0
        assert trail.last_durable_seq == 1

    with LocalAuditTrail(tmp_path) as trail:
        asyncio.run(main(trail))
    assert verify_audit_trail(tmp_path).checked_events == 2


@pytest.mark.usefixtures("never_lazy_sync")
def test_close_flushes_background_records_nobody_waited_for(tmp_path: Path) -> None:
    async def main(trail: LocalAuditTrail) -> None:
        for n in range(50):
            await trail.arecord_event("read", {"n": n}, durable=False)

    trail = LocalAuditTrail(tmp_path)
    asyncio.run(main(trail))
    assert trail.last_durable_seq is None  # written, not yet synced nor reported
    trail.close()
    assert verify_audit_trail(tmp_path).checked_events == 50


def test_a_cancelled_caller_does_not_cancel_its_batch_for_the_others(tmp_path: Path) -> None:
    async def main(trail: LocalAuditTrail) -> None:
        first = asyncio.ensure_future(trail.arecord_event("a", {"n": 1}))
        second = asyncio.ensure_future(trail.arecord_event("a", {"n": 2}))
        await asyncio.sleep(0)  # both submitted (one batch, or two in a row)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        record = await second
        assert record is not None and record["payload"] == {"n": 2}

    with LocalAuditTrail(tmp_path) as trail:
        asyncio.run(main(trail))
    # A cancelled caller only stops waiting: its record was accepted and is in the log.
    assert verify_audit_trail(tmp_path).checked_events == 2


def test_submitters_of_one_batch_share_its_future(tmp_path: Path) -> None:
    async def main(trail: LocalAuditTrail) -> int:
        futures = [trail.submit_event("a", {"n": n}) for n in range(100)]
        await trail.arecord_event("a", {"n": 100})
        return len({id(future) for future in futures})

    with LocalAuditTrail(tmp_path) as trail:
        distinct = asyncio.run(main(trail))
    # 100 events submitted in one loop turn: far fewer futures than events (one per batch).
    assert distinct < 100
    assert verify_audit_trail(tmp_path).checked_events == 101


def test_a_cancelled_caller_stops_waiting_while_its_batch_is_stuck(tmp_path: Path) -> None:
    """Another process holding the writers' lock stalls the batch; cancelling its caller must
    not wait for the store (the record is still written once the lock is free)."""
    with LocalAuditTrail(tmp_path) as trail:
        trail.record_event("a", {"n": 0})  # the lock file exists
        holder = os.open(tmp_path / ".writer.lock", os.O_RDWR)
        fcntl.flock(holder, fcntl.LOCK_EX)  # a separate open file: the writer thread blocks
        try:

            async def main() -> None:
                stuck = asyncio.ensure_future(trail.arecord_event("a", {"n": 1}))
                await asyncio.sleep(0)  # submitted; its batch waits for the lock
                assert not stuck.done()
                stuck.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await stuck

            asyncio.run(main())
        finally:
            fcntl.flock(holder, fcntl.LOCK_UN)
            os.close(holder)
    assert verify_audit_trail(tmp_path).checked_events == 2
