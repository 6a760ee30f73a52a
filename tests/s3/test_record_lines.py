"""Records read by seq from the bucket (what level-0 hash tiles are derived from): the
segments that hold them are found by their keys, across days, without reading the others."""

from __future__ import annotations

import json
from datetime import timedelta

from mcp_bridge.audit.storage.s3.client import connect
from mcp_bridge.audit.storage.s3.entries import S3Records

from .conftest import FAST, Clock


def test_record_lines_across_days_read_only_the_segments_that_hold_them(
    open_trail, bucket: str, clock: Clock
) -> None:
    trail = open_trail(clock)
    for day in range(3):
        for n in range(8):
            trail.record_event("e", {"day": day, "n": n})
        clock.now += timedelta(days=1)
    trail.close()
    connection = connect(FAST)
    records = S3Records(connection, bucket, "audit")

    def seqs(start: int, end: int) -> list[int]:
        return [json.loads(line)["seq"] for line, _ in records.record_lines(start, end)]

    assert seqs(0, 24) == list(range(24))
    assert seqs(5, 19) == list(range(5, 19))  # three days
    assert seqs(20, 40) == [20, 21, 22, 23]  # the log ends there
    found = records.record_lines(9, 11)
    assert [where.rsplit("/", 4)[1:4] for _, where in found] == [["2025", "10", "25"]] * 2
    before = connection.requests
    assert seqs(12, 14) == [12, 13]
    # A few listings and the GETs of the two segments holding them, not the 24 segments.
    assert connection.requests - before <= 10
