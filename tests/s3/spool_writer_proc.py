"""A writer in the spool acknowledgement mode for the SIGKILL test.

``python -m tests.s3.spool_writer_proc BUCKET SPOOL``: 8 asyncio callers append until killed;
each acknowledged ``n`` is printed on its own line. PUTs are paced 200 ms apart, so at any
moment many acknowledged events are still only in the spool.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from pathlib import Path

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.storage.s3.store import open_acknowledging_store

from .conftest import FAST, s3_config


async def main(bucket: str, spool: str) -> None:
    config = s3_config(bucket, Path(spool), audit_s3_ack="spool", audit_s3_segment_max_delay_ms=200)
    trail = AuditTrail(open_acknowledging_store(config, options=FAST))
    numbers = itertools.count()

    async def caller() -> None:
        for n in numbers:
            assert await trail.arecord_event("e", {"n": n}) is None
            os.write(1, f"{n}\n".encode())

    await asyncio.gather(*(caller() for _ in range(8)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
