"""S3 outages: events are spooled locally (fsync'd), nothing acknowledged is lost."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_bridge.audit import AuditStorageError, verify_audit_trail
from mcp_bridge.audit.storage.s3.client import ClientOptions

from .conftest import Clock
from .seaweed import SeaweedServer

# Refused connections fail fast while S3 is down; a slow first answer after the restart is fine.
QUICK = ClientOptions(connect_timeout=0.5, read_timeout=5.0, max_attempts=2)


def test_events_written_while_s3_is_down_are_shipped_in_order_later(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, tmp_path
) -> None:
    trail = open_trail(clock, options=QUICK)
    for n in range(3):
        trail.record_event("e", {"n": n})
    seaweed.stop()
    try:
        for n in range(3, 5):
            with pytest.raises(AuditStorageError, match="held durably in the spool"):
                trail.record_event("e", {"n": n})
        assert not trail.healthy
        assert list((tmp_path / "spool").glob("spool-*.jsonl"))
        assert trail.spooled_records == 2  # what the bridge's spool-depth metric shows
    finally:
        seaweed.start()
    assert trail.record_event("e", {"n": 5})["seq"] == 5
    assert trail.healthy
    assert trail.spooled_records == 0

    result = verify_audit_trail(f"s3://{bucket}/audit")
    assert result.ok, result.render_text()
    assert [r["payload"]["n"] for r in trail.fetch_events(10)] == list(range(6))


def test_a_spool_left_by_a_dead_writer_is_shipped_by_the_next_one(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, tmp_path
) -> None:
    crashed = open_trail(clock, options=QUICK)
    crashed.record_event("e", {"n": 0})
    seaweed.stop()
    try:
        with pytest.raises(AuditStorageError):
            crashed.record_event("e", {"n": 1})
        crashed.close()  # its spool file stays: the events in it were never shipped
    finally:
        seaweed.start()
    successor = open_trail(clock, options=QUICK)
    assert successor.record_event("e", {"n": 2})["seq"] == 2
    assert [r["payload"]["n"] for r in successor.fetch_events(10)] == [0, 1, 2]
    assert not list((tmp_path / "spool").glob("spool-*.jsonl"))
    assert verify_audit_trail(f"s3://{bucket}/audit").ok


def test_a_put_that_landed_but_whose_answer_was_lost_is_not_written_twice(
    open_trail, bucket: str, clock: Clock
) -> None:
    """The first PUT reaches S3 but the connection drops before its answer: botocore retries,
    the retry is refused (If-None-Match), and the writer recognises its own bytes."""
    from botocore.exceptions import ConnectionClosedError

    trail = open_trail(clock)
    trail.record_event("e", {"n": 0})
    client = trail._store.connection.client  # the fault has to be injected into this client
    dropped: list[str] = []

    def deliver_then_drop(request: Any, **_: Any) -> None:
        if request.method == "PUT" and not dropped:
            dropped.append(request.url)
            client._endpoint.http_session.send(request)  # it lands…
            raise ConnectionClosedError(endpoint_url=request.url)  # …but the answer is lost

    client.meta.events.register("before-send.s3.PutObject", deliver_then_drop)
    record = trail.record_event("e", {"n": 1})
    assert dropped and record["seq"] == 1
    assert trail.record_event("e", {"n": 2})["seq"] == 2
    result = verify_audit_trail(f"s3://{bucket}/audit")
    assert result.ok, result.render_text()
    assert [r["payload"]["n"] for r in trail.fetch_events(10)] == [0, 1, 2]
