"""The follower's durable cursor: the last record a sink acknowledged.

Saved crash-safely: a new file is created beside it (``O_EXCL``), written, fsynced, renamed
over the cursor and the directory fsynced, so after any crash the cursor file is either the
previous cursor or the new one, never a torn mix. It holds the record's seq, hash and
partition, so a restart both resumes at the right place and proves it resumed on the same
chain.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import AuditStorageError, AuditUsageError
from ..layout import parse_day_key

CURSOR_SCHEMA = "mcp-bridge/export-cursor/v1"


@dataclass(frozen=True, slots=True)
class Cursor:
    seq: int
    hash: str
    partition: str


def load_cursor(path: Path) -> Cursor | None:
    """The saved cursor, ``None`` when the file does not exist yet (start from the beginning)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditStorageError(f"cannot read cursor {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
        cursor = Cursor(int(data["seq"]), str(data["hash"]), str(data["partition"]))
        parse_day_key(cursor.partition)
    except (ValueError, KeyError, TypeError, AuditUsageError) as exc:
        raise AuditUsageError(
            f"cursor {path} is not an export cursor ({exc})",
            hint="point --cursor at the file a previous --follow run wrote, or a new path",
        ) from None
    if cursor.seq < 0 or len(cursor.hash) != 64:
        raise AuditUsageError(f"cursor {path} holds no valid seq and hash")
    return cursor


def save_cursor(path: Path, cursor: Cursor) -> None:
    """Replace the cursor atomically and durably (see the module docstring)."""
    staged = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    data = json.dumps({"schema": CURSOR_SCHEMA, **asdict(cursor)}, sort_keys=True) + "\n"
    try:
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(staged, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise AuditStorageError(f"cannot save cursor {path}: {exc.strerror or exc}") from exc
