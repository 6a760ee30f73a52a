"""A writer process for the concurrency and crash tests: prints each acknowledged seq.

Usage: python writer_process.py ROOT COUNT TASKS [PAD]   (COUNT 0 = write until killed;
PAD adds that many bytes to each payload, for large writes)
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp_bridge.audit import LocalAuditTrail


async def _task(trail: LocalAuditTrail, count: int, tag: str, pad: str) -> None:
    written = 0
    while count == 0 or written < count:
        payload = {"writer": tag, "n": written, "pad": pad}
        record = await trail.arecord_event("test.write", payload)
        assert record is not None
        os.write(1, f"{record['seq']}\n".encode())
        written += 1


async def main(root: str, count: int, tasks: int, pad: int) -> None:
    trail = LocalAuditTrail(root)
    tag = str(os.getpid())
    per_task = count // tasks if count else 0
    await asyncio.gather(*(_task(trail, per_task, tag, "x" * pad) for _ in range(tasks)))
    trail.close()


if __name__ == "__main__":
    pad = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), pad))
