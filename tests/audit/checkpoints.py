"""Test helpers: publish signed checkpoints and tiles over an existing log, as a writer would.

Used by the verification tests to put checkpoints at chosen tree sizes; the end-to-end tests
with the real writer (checkpoints on) live beside the writer's own tests.
"""

from __future__ import annotations

import json
from pathlib import Path

from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.checkpoint_store import CheckpointStore
from mcp_bridge.audit.merkle import CompactRange, leaf_hash
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.records import seal_record
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.tiles import TileBuilder, tiles_to_store

ORIGIN = "audit.example.com/test"
SIGNER = Signer.generate("audit.example.com/test")
OTHER_SIGNER = Signer.generate("audit.example.com/test")
VKEY = SIGNER.verifier.to_text()


def record_hashes(root: Path) -> list[str]:
    """The ``hash`` of every record of a local log, in seq order."""
    hashes: list[str] = []
    for path in sorted(root.glob("[0-9]*/[0-9]*/[0-9]*.jsonl")):
        for line in path.read_bytes().splitlines():
            hashes.append(json.loads(line)["hash"])
    return hashes


def publish(
    store: CheckpointStore,
    hashes: list[str],
    sizes: list[int],
    *,
    signer: Signer = SIGNER,
    published_at: str = "2025-10-25T12:00:00.000000Z",
    legacy: bool = False,
) -> None:
    """Write the tiles and a signed checkpoint for each tree size, in order: the tiles the
    writer stores (level 1 and up), or with ``legacy`` also level 0, as writers before
    level-0 tiles were derived did."""
    builder, tree = TileBuilder(), CompactRange()
    for size in sizes:
        while tree.size < size:
            leaf = leaf_hash(bytes.fromhex(hashes[tree.size]))
            tree.append(leaf)
            builder.append(leaf)
        flushed = builder.flush()
        for tile, data in flushed if legacy else tiles_to_store(flushed):
            store.put_tile(tile.path, data)
        note = sign_checkpoint(Checkpoint(ORIGIN, size, tree.root()), signer)
        store.put_checkpoint(size, note, published_at, ORIGIN)


def publish_local(root: Path, sizes: list[int], **kwargs: object) -> CheckpointStore:
    store = local_checkpoints(root)
    publish(store, record_hashes(root), sizes, **kwargs)  # type: ignore[arg-type]
    return store


def reseal_from(lines: list[bytes], first: int, previous: str) -> tuple[list[bytes], str]:
    """``lines`` with every record from seq ``first`` on given another payload and re-chained
    after ``previous`` (the hash of the record before them): the chain still verifies.

    Returns the lines and the hash of the last one (what the next lines link to)."""
    out = []
    for raw in lines:
        record = json.loads(raw)
        if record["seq"] < first:
            previous = record["hash"]
            out.append(raw)
            continue
        payload = json.dumps(dict(record["payload"], forged=True), separators=(",", ":"))
        previous, line = seal_record(
            previous, record["seq"], record["timestamp"], record["eventId"],
            record["eventType"], payload,
        )  # fmt: skip
        out.append(line)
    return out, previous
