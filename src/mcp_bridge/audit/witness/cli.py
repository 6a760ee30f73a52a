"""``python -m mcp_bridge.audit witness serve|vkey``: run a witness, print its public key.

``serve --config witness.toml`` answers the C2SP tlog-witness protocol on ``--host``/``--port``;
``vkey --key FILE`` prints the ``cosignature/v1`` verifier key of a ``keygen`` signer key: the
line log operators put in ``AUDIT_WITNESSES`` and auditors pass to ``verify --witness``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..cli_support import EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE, run_cli
from ..errors import AuditUsageError
from ..note import NoteError, Signer
from .cosignature import Cosigner


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit witness",
        description="A C2SP tlog-witness: cosigns checkpoints consistent with what it saw.",
        epilog=EXIT_CODES_HELP,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="answer POST /add-checkpoint")
    serve.add_argument("--config", required=True, type=Path, help="witness TOML file")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=7380, help="port to listen on (7380)")
    serve.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    vkey = commands.add_parser("vkey", help="print the witness verifier key of a signer key")
    vkey.add_argument("--key", required=True, type=Path, help="signer key file from keygen")
    vkey.add_argument("--json", action="store_true", help="print a JSON object instead")
    return parser


def _vkey(path: Path, *, as_json: bool) -> int:
    try:
        signer = Signer.from_text(path.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except NoteError as exc:
        print(f"error: {path} is not a signer key: {exc}", file=sys.stderr)
        return EXIT_USAGE
    verifier = Cosigner(signer).verifier
    if as_json:
        report = {
            "witnessKey": verifier.to_text(),
            "name": verifier.name,
            "keyId": verifier.key_id.hex(),
        }
        print(json.dumps(report, indent=2))
    else:
        print(verifier.to_text())
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .server import Witness, build_app
    from .settings import load_witness_settings

    if not 0 < args.port < 65536:
        raise AuditUsageError(f"--port {args.port} is not a TCP port (1-65535)")
    settings = load_witness_settings(args.config)
    witness = Witness(settings)
    print(
        f"witness {witness.cosigner.verifier.to_text()} for {len(settings.logs)} log(s) "
        f"on http://{args.host}:{args.port}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(build_app(witness), host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "vkey":
        return _vkey(args.key, as_json=args.json)
    return run_cli(lambda: _serve(args), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
