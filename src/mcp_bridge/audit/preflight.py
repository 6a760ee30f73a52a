"""``python -m mcp_bridge.audit.preflight``: is the S3 bucket ready for the audit trail?

Run it before the first deployment and after any bucket or IAM change. It prints a ✓/✗
checklist with a fix for every ✗. Exit status: 0 all checks pass, 1 a check failed,
2 the configuration is invalid, 3 S3 cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..config import AppConfig, ConfigError, load_config
from .cli_support import EXIT_CODES_HELP, TIMEOUT_HELP, positive_seconds, run_cli
from .errors import AuditStorageError, AuditUsageError
from .storage.s3.checks import CANARY_CHECK, Check, Target, run_checks
from .storage.s3.client import connect
from .storage.s3.store import client_options, settings_from_config


def render(checks: Sequence[Check]) -> str:
    lines = []
    for check in checks:
        mark = "✓" if check.ok else "✗"
        lines.append(f"{mark} {check.name}: {check.detail}")
        if not check.ok and check.hint:
            lines.append(f"    fix: {check.hint}")
    return "\n".join(lines)


def to_dict(checks: Sequence[Check]) -> dict[str, object]:
    """The checklist as a JSON document, for monitoring that parses rather than greps."""
    rows = [{"name": c.name, "ok": c.ok, "detail": c.detail, "hint": c.hint} for c in checks]
    return {"ok": all(c.ok for c in checks), "checks": rows}


def record_canary(config: AppConfig, checks: Sequence[Check], argv: Sequence[str]) -> Path | None:
    """The canary put is a change (a locked object stays in the bucket): file an ops record."""
    from .ops.records import OpsRecords

    if not any(c.ok and c.name.startswith(CANARY_CHECK) for c in checks):
        return None
    records = OpsRecords(config.audit_ops_records_path.expanduser())
    return records.write("preflight", argv, incident=None, result=to_dict(checks))


def preflight(config: AppConfig, *, timeout: float | None = None) -> list[Check]:
    """The checklist for ``config``'s bucket (raises AuditStorageError if unreachable)."""
    settings = settings_from_config(config)
    options = client_options(config)
    if timeout is not None:
        options = replace(options, connect_timeout=timeout, read_timeout=timeout)
    connection = connect(options)
    try:
        return run_checks(connection, Target(settings.bucket, settings.prefix, settings.policy))
    finally:
        connection.client.close()


def signing_key_check(config: AppConfig) -> Check:
    """Production needs signed checkpoints: without them truncation and appends go unseen."""
    from .checkpoint_setup import load_signer

    name = "checkpoint signing key (AUDIT_SIGNING_KEY)"
    hint = "create one with `python -m mcp_bridge.audit keygen --name NAME --out PATH`"
    if config.audit_signing_key is None:
        needed = config.unsigned_in_production
        detail = "not set: no signed checkpoints, truncation and appended records go undetected"
        return Check(
            name, not needed, detail + (" (required in production)" if needed else ""), hint
        )
    try:
        signer = load_signer(config.audit_signing_key)
    except AuditUsageError as exc:
        return Check(name, False, str(exc), hint)
    return Check(name, True, f"loads; signs as {signer.name}+{signer.key_id.hex()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit.preflight",
        description="Check that the S3 bucket named by the AUDIT_* environment is ready for "
        "the audit trail (the bucket and policy come from the environment).",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--timeout", type=positive_seconds, help=TIMEOUT_HELP)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    return run_cli(
        lambda: _checklist(args.timeout, as_json=args.json, argv=words), verbose=args.verbose
    )


def _checklist(timeout: float | None, *, as_json: bool, argv: Sequence[str]) -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    if config.audit_storage_backend != "s3" or not config.audit_s3_bucket:
        print("✗ AUDIT_STORAGE_BACKEND=s3 and AUDIT_S3_BUCKET must be set", file=sys.stderr)
        return 2
    try:
        checks = preflight(config, timeout=timeout)
    except AuditStorageError as exc:
        print(f"✗ {exc.render()}", file=sys.stderr)
        return 3
    checks.append(signing_key_check(config))
    record = record_canary(config, checks, argv)
    print(json.dumps(to_dict(checks), ensure_ascii=False) if as_json else render(checks))
    if record is not None:
        print(f"ops record: {record}", file=sys.stderr)
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
