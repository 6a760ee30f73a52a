"""Section ``checkpoints``: what signed checkpoints cost the verifier, and one-record proofs.

On one generated log (1M records; 100k with ``--quick``) with a signed checkpoint every
10,000 records and its hash tiles:

- verification with ``--vkey`` against chain-only verification, same run, both sequential
  (``parallel=False``: the checkpoint checks ride on the sequential pass); target ≥ 80 %;
- ``prove``: locating the record by seq (binary search over the partitions), and the
  inclusion proof from the tiles, in process; target under 50 ms, without reading the log;
- ``verify-proof``: checking the bundle offline; and the bundle's size beyond the record
  (target ≤ 2 KiB).
"""

from __future__ import annotations

import time
from pathlib import Path

from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.checkpoint_check import CheckpointOptions
from mcp_bridge.audit.merkle import CompactRange, leaf_hash
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.proofs import check_bundle, locate_seq, make_bundle
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.storage.local.source import LocalSource
from mcp_bridge.audit.tiles import TileBuilder, TileId
from mcp_bridge.audit.verification import verify_audit_trail

from . import logs
from .measure import best_of, scratch_dir
from .report import Section, Target, rate

EVERY = 10_000
ORIGIN = "bench.example/audit"


def publish(root: Path, signer: Signer) -> int:
    """Tiles and a checkpoint every ``EVERY`` records (and at the end), as the writer does."""
    store = local_checkpoints(root)
    builder, tree = TileBuilder(), CompactRange()
    published_at = "2026-01-01T00:00:00.000000Z"

    def checkpoint() -> None:
        for tile, data in builder.flush():
            store.put_tile(tile.path, data)
        note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), signer)
        store.put_checkpoint(tree.size, note, published_at, ORIGIN)

    for path in sorted(root.glob("[0-9]*/[0-9]*/[0-9]*.jsonl")):
        with path.open("rb") as handle:
            for line in handle:
                leaf = leaf_hash(bytes.fromhex(line[-67:-3].decode()))
                tree.append(leaf)
                builder.append(leaf)
                if tree.size % EVERY == 0:
                    checkpoint()
    if tree.size % EVERY:
        checkpoint()
    return tree.size


def _verification(section: Section, root: Path, events: int, vkey: str, repeats: int) -> None:
    options = CheckpointOptions(vkey, grace_seconds=10**9)
    results = []
    plain = best_of(repeats, lambda: results.append(verify_audit_trail(root, parallel=False)))
    keyed = best_of(
        repeats,
        lambda: results.append(verify_audit_trail(root, parallel=False, checkpoints=options)),
    )
    ok = all(result.ok for result in results)
    ratio = 100 * plain / keyed
    section.row("verify, chain only (sequential)", rate(events / plain), f"best of {repeats}")
    section.row(
        "verify --vkey (sequential)",
        rate(events / keyed),
        f"{events // EVERY} checkpoints" + ("" if ok else " · DID NOT VERIFY"),
    )
    section.targets.append(Target("verify --vkey vs chain only", ratio, 80, "%"))
    section.figures["verify"] = {
        "events": events,
        "checkpoints": -(-events // EVERY),
        "chain_only_events_per_s": round(events / plain, 1),
        "vkey_events_per_s": round(events / keyed, 1),
        "ratio_percent": round(ratio, 1),
        "verified": ok,
    }


def _proofs(section: Section, root: Path, events: int, signer: Signer, repeats: int) -> None:
    store = local_checkpoints(root)
    newest = store.get_checkpoint(store.checkpoint_sizes()[-1])
    assert newest is not None

    def fetch(tile: TileId) -> bytes:
        data = store.get_tile(tile.path)
        assert data is not None
        return data

    seq = events * 2 // 3 + 12_345 % (events // 3)
    located = []
    locate_s = best_of(repeats, lambda: located.append(locate_seq(LocalSource(root), seq)))
    record = located[0]
    assert record is not None
    built = []
    prove_s = best_of(repeats, lambda: built.append(make_bundle(record, newest.note, fetch)))
    bundle, nodes = built[0]
    data = bundle.to_text().encode()
    verify_s = best_of(repeats, lambda: check_bundle(data, signer.verifier))
    overhead = len(data) - len(bundle.record)
    section.row(f"prove: locate seq {seq:,}", f"{1000 * locate_s:.1f} ms", "binary search")
    section.row(
        "prove: inclusion proof from tiles",
        f"{1000 * prove_s:.1f} ms",
        f"{nodes.tiles_read} tiles read, {len(bundle.proof)} hashes",
    )
    section.row("verify-proof (offline)", f"{1000 * verify_s:.1f} ms", "signature + proof")
    section.row(
        "bundle size", f"{len(data):,} B", f"record {len(bundle.record)} B + {overhead:,} B"
    )
    section.targets += [
        Target("prove (locate + proof) at this size", 1000 * (locate_s + prove_s), 50, " ms", True),
        Target("bundle beyond the record", overhead, 2048, " B", at_most=True),
    ]
    section.figures["prove"] = {
        "events": events,
        "seq": seq,
        "locate_ms": round(1000 * locate_s, 2),
        "proof_ms": round(1000 * prove_s, 2),
        "verify_proof_ms": round(1000 * verify_s, 2),
        "tiles_read": nodes.tiles_read,
        "bundle_bytes": len(data),
        "record_bytes": len(bundle.record),
        "bundle_overhead_bytes": overhead,
        "bundle_overhead_note": "the record travels base64-encoded (4/3 of its size)",
    }


def run(*, quick: bool) -> Section:
    events = 100_000 if quick else 1_000_000
    repeats = 1 if quick else 3
    section = Section("checkpoints", "Signed checkpoints: verification cost and proofs")
    signer = Signer.generate("bench.example/audit")
    with scratch_dir("checkpoints") as root:
        log = root / "log"
        logs.write_ours(log, events)
        began = time.perf_counter()
        published = publish(log, signer)
        section.row(
            "publishing tiles + checkpoints",
            rate(published / (time.perf_counter() - began)),
            f"offline, one checkpoint per {EVERY:,} records",
        )
        _verification(section, log, published, signer.verifier.to_text(), repeats)
        _proofs(section, log, published, signer, repeats)
    section.notes.append(
        "--vkey turns off the parallel confirmation of large local logs (the checks need the "
        "sequential pass); compare with the 'verify' section for the parallel chain-only rate."
    )
    section.figures["checkpoint_every_records"] = EVERY
    return section
