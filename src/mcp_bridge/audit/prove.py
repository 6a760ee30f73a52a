"""``python -m mcp_bridge.audit prove EVENT_ID | --seq N``: a proof bundle for one record.

The bundle (c2sp.org/tlog-proof, see :mod:`.proofs` and docs/audit-format.md) holds the record,
its inclusion proof and the newest signed checkpoint; ``verify-proof`` checks it offline. The
proof is computed from the hash tiles (a handful of tile reads); the record is found by seq with
a binary search over the log's segments, or by event id with a search of its day (``--day``)
or of the days newest first.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from .checkpoint import open_checkpoint
from .checkpoint_check import load_verifier
from .checkpoint_store import StoredCheckpoint
from .cli_support import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, run_cli
from .engine import RecordSource
from .errors import AuditUsageError
from .layout import parse_day_key
from .note import NoteError
from .proof_cli import Published, add_store_arguments, newest_checkpoint, store_location
from .proofs import BundleError, Located, locate_event, locate_seq, make_bundle
from .storage.local.lookup import find_by_seq
from .storage.local.source import LocalSource
from .verification import open_source


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit prove",
        description="Write a proof bundle (C2SP tlog-proof) for one audit record: the record, "
        "its inclusion proof and the signed checkpoint. Check it with verify-proof.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("event_id", nargs="?", help="the record's eventId")
    parser.add_argument("--seq", type=int, help="the record's seq (instead of an eventId)")
    parser.add_argument("--day", help="with an eventId: the UTC day it was recorded (YYYY/MM/DD)")
    parser.add_argument("--out", help="write the bundle to this new file (default: stdout)")
    parser.add_argument(
        "--vkey", help="use the newest checkpoint this verifier key signed (default: the newest)"
    )
    add_store_arguments(parser)
    return parser


def _find(args: argparse.Namespace, location: str, options: dict[str, Any]) -> Located:
    source = open_source(location, **options)
    if args.seq is not None:
        found = _by_seq(source, args.seq)
        what = f"seq {args.seq}"
    else:
        day: date | None = parse_day_key(args.day, option="--day") if args.day else None
        found = locate_event(source, args.event_id, source.segments(day, day))
        what = f"eventId {args.event_id}"
    if found is None:
        raise BundleError(f"no record with {what} in {source.description}", reason="not_found")
    return found


def _by_seq(source: RecordSource, seq: int) -> Located | None:
    """Local logs: binary searches on byte offsets; S3: over segments, then one segment."""
    if isinstance(source, LocalSource):
        found = find_by_seq(source.root, seq)
        return Located(seq, found[0], found[1]) if found else None
    return locate_seq(source, seq)


def _signed_by_key(published: Published, vkey: str | None) -> StoredCheckpoint:
    if vkey is None:
        return published.newest
    verifier = load_verifier(vkey)
    for size in reversed(published.store.checkpoint_sizes()):
        stored = published.store.get_checkpoint(size)
        if stored is None:
            continue
        try:
            open_checkpoint(stored.note, verifier)
        except NoteError:
            continue
        return stored
    raise BundleError("no checkpoint signed by this key", reason="no_checkpoint")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.event_id is None) == (args.seq is None):
        parser.error("give exactly one of EVENT_ID or --seq N")
    if args.seq is not None and args.seq < 0:
        parser.error("--seq must be ≥ 0")

    def body() -> int:
        location, options = store_location(args)
        published = newest_checkpoint(location, **options)
        checkpoint = _signed_by_key(published, args.vkey)
        try:
            record = _find(args, location, options)
            bundle, nodes = make_bundle(record, checkpoint.note, published.fetch_tile)
        except BundleError as exc:
            print(f"error: {exc} [{exc.reason}]", file=sys.stderr)
            return EXIT_FAILED
        text = bundle.to_text()
        if args.out:
            try:
                with open(args.out, "x", encoding="utf-8") as handle:
                    handle.write(text)
            except FileExistsError:
                raise AuditUsageError(f"--out {args.out} exists; prove never overwrites") from None
        if args.json:
            report = {
                "seq": record.seq,
                "location": record.location,
                "treeSize": checkpoint.size,
                "checkpoint": checkpoint.where,
                "tilesRead": nodes.tiles_read,
                "bundleBytes": len(text.encode()),
                "recordBytes": len(bundle.record),
                "bundle": text,
            }
            print(json.dumps(report, indent=2))
        elif not args.out:
            sys.stdout.write(text)
        else:
            print(f"proof bundle for seq {record.seq} written to {args.out}", file=sys.stderr)
        return EXIT_OK

    return run_cli(body, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
