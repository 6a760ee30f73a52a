"""Ops records: one JSON file per action that changed anything, for auditors to read later.

Records are created once (``O_EXCL``) under ``AUDIT_OPS_RECORDS_PATH`` (default
``var/audit-ops``) and never rewritten. Each names the command, its arguments, who ran it on
which host and when, the incident it belongs to (``--incident``), what it changed and its
result, so ``incident report`` can gather everything an incident produced.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import AuditStorageError

RECORD_SCHEMA = "mcp-bridge/ops-record/v1"


def utc_stamp(moment: datetime | None = None) -> str:
    """``20261130T150102.123456Z``: sortable, safe in file names."""
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")


def iso_now() -> str:
    return iso(datetime.now(UTC)) or ""


def iso(moment: datetime | None) -> str | None:
    """``2026-11-30T15:01:02Z`` (UTC), or ``None``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def operator() -> str:
    """``user@host`` of whoever runs the command (what an auditor asks first)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def create_file(path: Path, data: bytes) -> bool:
    """Write a new file durably; ``False`` (and nothing written) when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        raise AuditStorageError(f"cannot create {path}: {exc.strerror or exc}") from exc
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


@dataclass(frozen=True, slots=True)
class OpsRecords:
    """The ops-records directory of one run."""

    root: Path

    def write(
        self,
        command: str,
        argv: Sequence[str],
        *,
        incident: str | None,
        result: dict[str, Any],
        attachments: dict[str, str] | None = None,
    ) -> Path:
        """Create ``<stamp>-<command>-<rand>.json`` (plus attachments beside it); return it."""
        name = f"{utc_stamp()}-{command}-{secrets.token_hex(3)}"
        attached: dict[str, dict[str, str]] = {}
        record: dict[str, Any] = {
            "schema": RECORD_SCHEMA,
            "command": command,
            "argv": list(argv),
            "operator": operator(),
            "at": iso_now(),
            "incident": incident,
            "result": result,
            "attachments": attached,
        }
        for suffix, text in (attachments or {}).items():
            path = self.root / f"{name}.{suffix}"
            create_file(path, text.encode())
            attached[suffix] = {
                "file": path.name,
                "sha256": sha256_bytes(text.encode()),
            }
        path = self.root / f"{name}.json"
        create_file(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
        return path

    def of_incident(self, incident: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Every record (oldest first) that names ``incident``."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("incident") == incident:
                yield path, record
