"""``python -m mcp_bridge.audit verify-proof BUNDLE --vkey KEY``: check a proof bundle offline.

Needs only the bundle and the log's verifier key: the record's hash is recomputed from its
bytes, the checkpoint's signature checked, and the inclusion proof checked against the signed
root. Exit 0 when the record is proven, 1 when the bundle does not prove it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .checkpoint_check import load_verifier
from .cli_support import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, run_cli
from .errors import AuditUsageError
from .note import NoteError
from .proofs import BundleError, check_bundle


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit verify-proof",
        description="Check a proof bundle from `prove` offline, with the log's verifier key.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("bundle", help="the bundle file ('-' reads stdin)")
    parser.add_argument("--vkey", required=True, help="verifier key (name+id+base64) or its file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    return parser


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise AuditUsageError(f"cannot read bundle {name}: {exc.strerror or exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        verifier = load_verifier(args.vkey)
        data = _read(args.bundle)
        try:
            proven = check_bundle(data, verifier)
        except (BundleError, NoteError) as exc:
            if args.json:
                print(json.dumps({"ok": False, "reason": exc.reason, "message": str(exc)}))
            else:
                print(f"NOT PROVEN: {exc} [{exc.reason}]")
            return EXIT_FAILED
        checkpoint = proven.checkpoint
        if args.json:
            report = {
                "ok": True,
                "seq": proven.seq,
                "eventId": proven.event_id,
                "eventType": proven.event_type,
                "timestamp": proven.timestamp,
                "hash": proven.record_hash,
                "origin": checkpoint.origin,
                "treeSize": checkpoint.size,
                "verifierKey": verifier.to_text(),
            }
            print(json.dumps(report, indent=2))
        else:
            print(
                f"proven: record seq {proven.seq} (eventId {proven.event_id}, "
                f"{proven.event_type}, {proven.timestamp}) is in the log {checkpoint.origin} "
                f"as signed at tree size {checkpoint.size:,} by {verifier.name}+"
                f"{verifier.key_id.hex()}"
            )
        return EXIT_OK

    return run_cli(body, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
