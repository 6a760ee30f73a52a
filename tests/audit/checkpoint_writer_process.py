"""A writer process with checkpoints on: ``python checkpoint_writer_process.py COUNT TASKS``.

Everything else comes from the ``AUDIT_*`` environment (local or S3). Prints each acknowledged
seq, one per line, and closes the trail cleanly (which publishes a last checkpoint).
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp_bridge.audit import AuditTrail, open_audit_trail
from mcp_bridge.config import load_config


async def _task(trail: AuditTrail, count: int) -> None:
    for n in range(count):
        record = await trail.arecord_event("test.write", {"writer": os.getpid(), "n": n})
        assert record is not None
        os.write(1, f"{record['seq']}\n".encode())


async def main(count: int, tasks: int) -> None:
    trail = open_audit_trail(load_config())
    try:
        await asyncio.gather(*(_task(trail, count // tasks) for _ in range(tasks)))
    finally:
        trail.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
