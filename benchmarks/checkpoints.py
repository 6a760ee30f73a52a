"""Section ``checkpoints``: what signed checkpoints cost the verifier, and one-record proofs.

On one generated log (1M records; 100k with ``--quick``) with a signed checkpoint every
10,000 records and its hash tiles:

- verification with ``--vkey`` against chain-only verification, same run, sequential and with
  the default (parallel) path; target ≥ 80 %;
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
from mcp_bridge.audit.proofs import Located, check_bundle, make_bundle
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.storage.local.lookup import find_by_seq
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
    """Same log, same run: without and with the key, sequential and (default) parallel."""
    options = CheckpointOptions(vkey, grace_seconds=10**9)
    results = []
    figures: dict[str, object] = {"events": events, "checkpoints": -(-events // EVERY)}
    for mode, parallel in (("sequential", False), ("default", True)):

        def plain(parallel: bool = parallel) -> None:
            results.append(verify_audit_trail(root, parallel=parallel))

        def keyed(parallel: bool = parallel) -> None:
            results.append(verify_audit_trail(root, parallel=parallel, checkpoints=options))

        plain_s, keyed_s = best_of(repeats, plain), best_of(repeats, keyed)
        ratio = 100 * plain_s / keyed_s
        note = f"{figures['checkpoints']} checkpoints, best of {repeats}"
        section.row(f"verify, chain only ({mode})", rate(events / plain_s), note)
        section.row(f"verify --vkey ({mode})", rate(events / keyed_s), f"{ratio:.0f} % of above")
        section.targets.append(Target(f"verify --vkey vs chain only, {mode}", ratio, 80, "%"))
        figures[mode] = {
            "chain_only_events_per_s": round(events / plain_s, 1),
            "vkey_events_per_s": round(events / keyed_s, 1),
            "ratio_percent": round(ratio, 1),
        }
    figures["verified"] = all(result.ok for result in results)
    section.figures["verify"] = figures


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
    locate_s = best_of(repeats, lambda: located.append(find_by_seq(root, seq)))
    assert located[0] is not None
    record = Located(seq, *located[0])
    built = []
    prove_s = best_of(repeats, lambda: built.append(make_bundle(record, newest.note, fetch)))
    bundle, nodes = built[0]
    data = bundle.to_text().encode()
    verify_s = best_of(repeats, lambda: check_bundle(data, signer.verifier))
    overhead = len(data) - len(bundle.record)
    section.row(
        f"prove: locate seq {seq:,}",
        f"{1000 * locate_s:.1f} ms",
        "binary search (day files, bytes)",
    )
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
        "default = parallel confirmation of large local logs when there are ≥ 2 cores; with "
        "--vkey the checkpoint records are then found by binary search."
    )
    section.figures["checkpoint_every_records"] = EVERY
    return section
