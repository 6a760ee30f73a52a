"""``python -m mcp_bridge.audit consistency OLD_CHECKPOINT``: does the log extend a checkpoint?

What an auditor or a witness runs with a checkpoint saved earlier: the RFC 9162 consistency
proof from that tree to the store's newest checkpoint is computed from the hash tiles, checked
against both roots, and printed (base64, one hash per line) so anyone can check it again.
With ``--vkey`` both checkpoints' signatures are checked too.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from .checkpoint_check import load_verifier
from .cli_support import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, run_cli
from .errors import AuditUsageError
from .merkle import ProofError, consistency_proof, verify_consistency
from .note import NoteError, Verifier, parse_note
from .proof_cli import Published, add_store_arguments, newest_checkpoint, store_location
from .tiles import TileHashes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit consistency",
        description="Prove that the log's newest checkpoint extends OLD_CHECKPOINT (a signed "
        "checkpoint note saved earlier) and print the consistency proof.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("old_checkpoint", help="file holding the earlier checkpoint note")
    parser.add_argument("--vkey", help="also check both checkpoints' signatures with this key")
    add_store_arguments(parser)
    return parser


def _open(note: bytes, verifier: Verifier | None, what: str) -> Checkpoint:
    try:
        if verifier is not None:
            return open_checkpoint(note, verifier)
        return parse_checkpoint(parse_note(note).text)
    except NoteError as exc:
        raise ProofError(f"{what}: {exc} [{exc.reason}]") from None


def prove_consistency(
    old_note: bytes, published: Published, verifier: Verifier | None
) -> tuple[Checkpoint, Checkpoint, list[bytes]]:
    """The old and newest checkpoints and the checked proof; :class:`ProofError` if none."""
    newest = published.newest
    old = _open(old_note, verifier, "old checkpoint")
    new = _open(newest.note, verifier, f"newest checkpoint {newest.where}")
    if old.origin != new.origin:
        raise ProofError(f"the old checkpoint is for log {old.origin!r}, not {new.origin!r}")
    if old.size > new.size:
        raise ProofError(
            f"the log's newest checkpoint ({new.size:,} records, {newest.where}) is smaller "
            f"than the old one ({old.size:,}): the log was truncated"
        )
    proof = consistency_proof(old.size, new.size, TileHashes(new.size, published.fetch_tile))
    verify_consistency(old.size, new.size, old.root, new.root, proof)
    return old, new, proof


def _report(
    old: Checkpoint, new: Checkpoint, proof: list[bytes], published: Published
) -> dict[str, Any]:
    return {
        "ok": True,
        "origin": new.origin,
        "oldSize": old.size,
        "oldRoot": base64.b64encode(old.root).decode(),
        "newSize": new.size,
        "newRoot": base64.b64encode(new.root).decode(),
        "newCheckpoint": published.newest.note.decode(),
        "newCheckpointWhere": published.newest.where,
        "proof": [base64.b64encode(h).decode() for h in proof],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        verifier = load_verifier(args.vkey) if args.vkey else None
        try:
            old_note = Path(args.old_checkpoint).read_bytes()
        except OSError as exc:
            raise AuditUsageError(f"cannot read {args.old_checkpoint}: {exc.strerror}") from None
        location, options = store_location(args)
        published = newest_checkpoint(location, **options)
        try:
            old, new, proof = prove_consistency(old_note, published, verifier)
        except ProofError as exc:  # TileError included
            print(
                json.dumps({"ok": False, "message": str(exc)})
                if args.json
                else f"NOT CONSISTENT: {exc}"
            )
            return EXIT_FAILED
        report = {**_report(old, new, proof, published), "signaturesChecked": verifier is not None}
        if args.json:
            print(json.dumps(report, indent=2))
            return EXIT_OK
        unsigned = "" if verifier else " (signatures not checked: no --vkey)"
        print(
            f"consistent: the log {new.origin} at {new.size:,} records extends the checkpoint of "
            f"{old.size:,} records{unsigned}\nnewest checkpoint ({published.newest.where}):\n"
            f"{report['newCheckpoint']}consistency proof {old.size} -> {new.size} "
            "(RFC 9162 2.1.4, base64):"
        )
        print("\n".join(report["proof"]))
        return EXIT_OK

    return run_cli(body, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
