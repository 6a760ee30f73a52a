"""Checks shared by the checkpoint writer tests: roots recomputed from the records alone."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mcp_bridge.audit.checkpoint import open_checkpoint
from mcp_bridge.audit.checkpoint_store import CheckpointStore
from mcp_bridge.audit.merkle import leaf_hash, root_of
from mcp_bridge.audit.note import Signer, Verifier
from mcp_bridge.audit.tiles import TILE_WIDTH, compact_range_from_tiles
from mcp_bridge.config import AppConfig, load_config

SIGNER = Signer.generate("audit.test/writer")
OTHER_SIGNER = Signer.generate("audit.test/someone-else")


def write_key(folder: Path, signer: Signer = SIGNER) -> Path:
    path = folder / "signer.key"
    path.write_text(signer.to_text() + "\n")
    path.chmod(0o600)
    return path


def signing_config(folder: Path, origin: str, **settings: Any) -> AppConfig:
    """A local trail in ``folder/audit`` that publishes a signed checkpoint every 50 ms (with
    ``settings`` on top: witnesses, a TSA, …)."""
    return load_config(
        audit_storage_path=folder / "audit",
        audit_signing_key=str(write_key(folder)),
        audit_checkpoint_origin=origin,
        audit_checkpoint_interval_seconds=0.05,
        **settings,
    )


def hashes_in_seq_order(lines: Iterable[bytes]) -> list[str]:
    """The ``hash`` of every record among ``lines`` (JSON decoded here, not by our parser),
    in seq order; the seqs must be exactly 0..n-1."""
    records = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn fragment explained by chain.recovered
        records[record["seq"]] = record["hash"]
    assert sorted(records) == list(range(len(records)))
    return [records[seq] for seq in range(len(records))]


def local_lines(root: Path) -> list[bytes]:
    return [
        line for path in sorted(root.rglob("*.jsonl")) for line in path.read_bytes().split(b"\n")
    ]


def check_checkpoints(
    store: CheckpointStore,
    record_hashes: list[str],
    verifier: Verifier = SIGNER.verifier,
    *,
    tiles: bool = True,
) -> list[int]:
    """Every stored checkpoint: signed by ``verifier``, its root equal to the RFC 6962 root of
    the first N records' hashes, and (``tiles``) equal to the root its stored tiles give, with
    the level-0 tiles (never stored) computed from the records. Returns the sizes."""
    leaves = [leaf_hash(bytes.fromhex(h)) for h in record_hashes]
    sizes = store.checkpoint_sizes()
    for size in sizes:
        stored = store.get_checkpoint(size)
        assert stored is not None and stored.published_at is not None
        checkpoint = open_checkpoint(stored.note, verifier)
        assert checkpoint.size == size <= len(leaves), (size, len(leaves))
        assert checkpoint.root == root_of(leaves[:size]), f"root of checkpoint {size}"
        if not tiles:
            continue

        def fetch(tile, store=store):  # type: ignore[no-untyped-def]
            data = store.get_tile(tile.path)
            if tile.level == 0:
                assert data is None, f"{tile.path} is stored"
                first = tile.index * TILE_WIDTH
                return b"".join(leaves[first : first + tile.width])
            assert data is not None, tile.path
            return data

        assert compact_range_from_tiles(size, fetch).root() == checkpoint.root
    return sizes


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until ``condition`` holds (the outcome is asserted, never the time it took)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)
