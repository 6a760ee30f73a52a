"""A writer process for the concurrency and crash tests: prints each acknowledged seq.

Usage: python writer_process.py ROOT COUNT TASKS   (COUNT 0 = write until killed)
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp_bridge.audit import LocalAuditTrail


async def _task(trail: LocalAuditTrail, count: int, tag: str) -> None:
    written = 0
    while count == 0 or written < count:
        record = await trail.arecord_event("test.write", {"writer": tag, "n": written})
        assert record is not None
        os.write(1, f"{record['seq']}\n".encode())
        written += 1


async def main(root: str, count: int, tasks: int) -> None:
    trail = LocalAuditTrail(root)
    tag = str(os.getpid())
    per_task = count // tasks if count else 0
    await asyncio.gather(*(_task(trail, per_task, tag) for _ in range(tasks)))
    trail.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
