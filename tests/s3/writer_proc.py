"""A writer process for the many-writers test: ``python -m tests.s3.writer_proc BUCKET N SKEW``.

Writes N events from 4 threads with a pinned clock that starts just before midnight (shifted by
SKEW milliseconds, so the writers disagree about the day for a moment) and prints the seqs the
trail returned, as JSON, on stdout.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.storage.s3.store import open_s3_store

from .conftest import FAST, Clock, s3_config


def main(bucket: str, count: int, skew_ms: int) -> None:
    start = datetime(2025, 10, 24, 23, 59, 59, 900_000, tzinfo=UTC)
    clock = Clock(start + timedelta(milliseconds=skew_ms), step_ms=10)
    lock = threading.Lock()
    seqs: list[int] = []
    with tempfile.TemporaryDirectory() as spool:
        config = s3_config(bucket, Path(spool))
        with AuditTrail(open_s3_store(config, options=FAST), clock=clock) as trail:

            def work(offset: int) -> None:
                for n in range(offset, count, 4):
                    record = trail.record_event("writer.event", {"n": n, "skew": skew_ms})
                    assert record is not None
                    with lock:
                        seqs.append(record["seq"])

            threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    json.dump(sorted(seqs), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
