"""``python -m mcp_bridge.audit keygen --name NAME --out PATH``: make a checkpoint signing key.

Writes the signer key (``PRIVATE+KEY+…``, the secret ``AUDIT_SIGNING_KEY`` points at) to PATH,
created with mode 0600 and never over an existing file, and prints the verifier key (the
public half that ``verify --vkey`` and auditors use) as one line on stdout. Creating a key is
a change an auditor asks about, so it files an ops record (``AUDIT_OPS_RECORDS_PATH``) naming
the key, its id and file; the record never holds the secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import ConfigError, load_config
from .cli_support import EXIT_CODES_HELP, EXIT_OK, EXIT_STORAGE, EXIT_USAGE
from .errors import AuditStorageError
from .note import Signer, valid_key_name
from .ops.records import OpsRecords


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit keygen",
        description=(
            "Create an Ed25519 checkpoint signing key in the C2SP signed-note format. The "
            "signer key goes to --out (mode 0600); the verifier key is printed on stdout."
        ),
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument(
        "--name", required=True, help="key name, e.g. audit.example.com/prod (no spaces or '+')"
    )
    parser.add_argument("--out", required=True, type=Path, help="signer key file to create")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead")
    return parser


def write_signer_key(path: Path, signer: Signer) -> None:
    """Create ``path`` (O_EXCL, mode 0600) holding the signer key, fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (signer.to_text() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not valid_key_name(args.name):
        parser.error(f"--name {args.name!r}: a key name is non-empty, without spaces or '+'")
    try:  # a wrong setting stops the command before a key exists
        records = OpsRecords(load_config().audit_ops_records_path.expanduser())
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    signer = Signer.generate(args.name)
    try:
        write_signer_key(args.out, signer)
    except FileExistsError:
        print(f"error: {args.out} exists; keygen never overwrites a key", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: cannot create {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_STORAGE
    vkey = signer.verifier.to_text()
    report = {"verifierKey": vkey, "keyId": signer.key_id.hex(), "signerKeyFile": str(args.out)}
    try:
        records.write(
            "keygen",
            list(sys.argv[1:] if argv is None else argv),
            incident=None,
            result={"keyName": args.name, **report},
        )
    except (AuditStorageError, OSError) as exc:
        print(f"error: the key was created, but its ops record was not: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(vkey)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
