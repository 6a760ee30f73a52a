"""Writer and verifier round trips on a real S3 server (SeaweedFS)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mcp_bridge.audit import verify_audit_trail

from .conftest import Clock


@pytest.mark.parametrize("mode", ["governance", "compliance"])
def test_round_trip_with_each_lock_mode(open_trail, bucket, clock: Clock, mode: str) -> None:
    trail = open_trail(clock, audit_s3_object_lock_mode=mode, audit_s3_object_lock_days=2)
    written = [trail.record_event("tool.call", {"n": n}) for n in range(5)]
    clock.now += timedelta(days=1)
    written += [trail.record_event("tool.call", {"n": n}) for n in range(5, 8)]
    assert [r["seq"] for r in written if r] == list(range(8))

    result = verify_audit_trail(f"s3://{bucket}/audit", object_lock_mode=mode, object_lock_days=2)
    assert result.ok, result.render_text()
    assert result.checked_events == 8
    assert result.partitions == ["2025/10/24", "2025/10/25"]
    assert trail.fetch_events(3)[-1]["payload"] == {"n": 7}
