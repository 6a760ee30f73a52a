"""The witness's durable memory: per log, the latest checkpoint it cosigned.

One file per log, named by the SHA-256 of its origin (the spec's monitoring path), holding that
checkpoint's note with the witness's own cosignature. It is replaced atomically and durably
(new file, fsync, rename, directory fsync) *before* the witness answers, so after any crash
the file holds either the old or the new checkpoint, never a mix, and a checkpoint the
witness has answered for is never forgotten: the witness cannot be made to cosign two
inconsistent checkpoints by crashing it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from ..checkpoint import Checkpoint, parse_checkpoint
from ..errors import AuditCorruptionError, AuditStorageError
from ..note import NoteError, parse_note
from ..storage.local.files import fsync_directory

_TMP_PREFIX = ".tmp-"


def origin_hash(origin: str) -> str:
    """Lowercase hex SHA-256 of the origin: the state file's name and the monitoring path."""
    return hashlib.sha256(origin.encode()).hexdigest()


class WitnessState:
    """Latest cosigned checkpoint per origin, in a directory; read through an in-memory copy."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[bytes, Checkpoint] | None] = {}
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AuditStorageError(f"cannot create witness state {directory}: {exc}") from exc

    def path(self, origin: str) -> Path:
        return self.directory / origin_hash(origin)

    def latest(self, origin: str) -> tuple[bytes, Checkpoint] | None:
        """The stored note and its checkpoint, or ``None`` if nothing was cosigned yet."""
        if origin not in self._cache:
            self._cache[origin] = self._load(origin)
        return self._cache[origin]

    def _load(self, origin: str) -> tuple[bytes, Checkpoint] | None:
        path = self.path(origin)
        try:
            note = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditStorageError(f"cannot read witness state {path}: {exc}") from exc
        try:
            checkpoint = parse_checkpoint(parse_note(note).text)
        except NoteError as exc:
            raise AuditCorruptionError(f"witness state {path} is unreadable: {exc}") from exc
        if checkpoint.origin != origin:
            raise AuditCorruptionError(f"witness state {path} holds another log's checkpoint")
        return note, checkpoint

    def store(self, checkpoint: Checkpoint, note: bytes) -> None:
        """Make ``note`` the latest for its origin: durable before this returns."""
        path = self.path(checkpoint.origin)
        temporary = self.directory / f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        try:
            with temporary.open("xb") as handle:  # exclusive create: never an old file
                handle.write(note)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            fsync_directory(self.directory)
        except OSError as exc:
            self._cache.pop(checkpoint.origin, None)
            raise AuditStorageError(f"cannot persist witness state {path}: {exc}") from exc
        self._cache[checkpoint.origin] = (note, checkpoint)
