"""``python -m mcp_bridge.audit.incident``: quarantine, locate, restore, re-verify (local store).

Runbook §4 as commands. Evidence is never lost: ``quarantine`` copies partition files into a
new forensic folder with a manifest of their SHA-256 digests; ``restore`` replaces a damaged
partition with its backup only when that exact damaged file is already quarantined, puts missing
partitions back, and then verifies the window again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from .cli_support import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, run_cli
from .errors import AuditUsageError
from .layout import check_window, day_key, parse_day_key
from .storage.local.files import fsync_directory, iter_partition_days, partition_file
from .verification import verify_audit_trail

MANIFEST = "manifest.json"


@dataclass(slots=True)
class QuarantineResult:
    folder: Path
    files: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RestoreResult:
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _days(root: Path, start: date | None, end: date | None) -> list[date]:
    check_window(start, end)
    return [
        day
        for day in iter_partition_days(root)
        if (start is None or day >= start) and (end is None or day <= end)
    ]


def quarantine(
    root: Path, forensic: Path, *, start: date | None = None, end: date | None = None
) -> QuarantineResult:
    """Copy the window's partition files into a new folder under ``forensic``, with a manifest."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = forensic / f"quarantine-{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    result = QuarantineResult(folder)
    manifest: dict[str, dict[str, object]] = {}
    for day in _days(root, start, end):
        source = partition_file(root, day)
        name = f"{day_key(day)}.jsonl"
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        manifest[name] = {
            "sha256": _digest(target),
            "bytes": target.stat().st_size,
            "source": str(source),
        }
        result.files.append(name)
    report = verify_audit_trail(root, start=start, end=end)
    (folder / MANIFEST).write_text(
        json.dumps(
            {"quarantinedAt": stamp, "files": manifest, "verification": report.to_dict()}, indent=2
        )
    )
    fsync_directory(folder)
    return result


def _quarantined_digests(forensic: Path) -> set[str]:
    digests: set[str] = set()
    for manifest in forensic.glob(f"quarantine-*/{MANIFEST}"):
        files = json.loads(manifest.read_text()).get("files", {})
        digests.update(str(entry["sha256"]) for entry in files.values())
    return digests


def restore(
    root: Path,
    backup: Path,
    forensic: Path,
    *,
    start: date | None = None,
    end: date | None = None,
) -> RestoreResult:
    """Put the backup's partitions back into ``root``; a differing file must be quarantined."""
    result = RestoreResult()
    kept = _quarantined_digests(forensic)
    for day in _days(backup, start, end):
        source, target = partition_file(backup, day), partition_file(root, day)
        name = f"{day_key(day)}.jsonl"
        if target.exists():
            if _digest(target) == _digest(source):
                result.unchanged.append(name)
                continue
            if _digest(target) not in kept:
                raise AuditUsageError(
                    f"{target} differs from its backup and has not been quarantined; run "
                    "`python -m mcp_bridge.audit.incident quarantine` first (evidence is never "
                    "replaced before it is copied)"
                )
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.restore")
        shutil.copy2(source, staged)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, target)
        fsync_directory(target.parent)
        result.restored.append(name)
    return result


def _window(args: argparse.Namespace) -> tuple[date | None, date | None]:
    start = parse_day_key(args.start, option="--start") if args.start else None
    end = parse_day_key(args.end, option="--end") if args.end else None
    return start, end


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit.incident",
        description="Incident tooling for a local audit store: quarantine, locate, restore.",
        epilog=EXIT_CODES_HELP,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("quarantine", "copy the window's partitions to a new forensic folder (never deletes)"),
        ("locate", "print the earliest failing event of the window"),
        ("restore", "restore partitions from a backup, then verify the window again"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("path", type=Path, help="the audit store (AUDIT_STORAGE_PATH)")
        command.add_argument("--start", help="first UTC day (YYYY/MM/DD)")
        command.add_argument("--end", help="last UTC day (YYYY/MM/DD)")
        if name in ("quarantine", "restore"):
            command.add_argument(
                "--forensic", type=Path, required=True, help="folder that holds quarantined copies"
            )
        if name == "restore":
            command.add_argument(
                "--from", dest="backup", type=Path, required=True, help="backup copy of the store"
            )
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        start, end = _window(args)
        if args.command == "quarantine":
            done = quarantine(args.path, args.forensic, start=start, end=end)
            print(f"quarantined {len(done.files)} file(s) into {done.folder}")
            return EXIT_OK
        if args.command == "restore":
            restored = restore(args.path, args.backup, args.forensic, start=start, end=end)
            print(f"restored {len(restored.restored)} file(s): {', '.join(restored.restored)}")
        result = verify_audit_trail(args.path, start=start, end=end)
        print(result.render_text())
        return EXIT_OK if result.ok else EXIT_FAILED

    return run_cli(body, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
