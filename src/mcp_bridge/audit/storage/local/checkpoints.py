"""Checkpoints and hash tiles in the local store (``root/_checkpoints``, ``root/_tiles``).

Each blob is created once and never rewritten: the bytes go to a private temporary file
(``O_EXCL``), are fsynced, and the file is then hard-linked under its final name. ``link``
fails if the name exists, so of two writers exactly one creates it, and a reader never sees
a half-written checkpoint, even after a crash (a crash leaves at most an orphaned
``.tmp-*`` file, which no listing reports). The directory is fsynced after the link.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ...checkpoint_store import WriteOnceCheckpoints
from ...errors import AuditStorageError
from .files import fsync_directory, make_dirs_durably

_TMP_PREFIX = ".tmp-"


class LocalBlobs:
    """Write-once files below a directory (the :class:`BlobStore` of the local store)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()

    def where(self, name: str) -> str:
        return str(self.root / name)

    def create(self, name: str, data: bytes) -> bytes | None:
        path = self.root / name
        try:
            make_dirs_durably(self.root, path.parent)
            temporary = path.parent / f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
            _write_new(temporary, data)
            try:
                os.link(temporary, path)
            except FileExistsError:
                return path.read_bytes()  # whole: a link only ever names a complete file
            finally:
                os.unlink(temporary)
            fsync_directory(path.parent)
        except OSError as exc:
            raise AuditStorageError(
                f"cannot write {path}: {exc.strerror or exc}",
                hint="check that the audit store directory is writable and not full",
            ) from exc
        return None

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise AuditStorageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def names(self, folder: str, after: str | None = None) -> list[str]:
        try:
            found = os.listdir(self.root / folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise AuditStorageError(
                f"cannot list {self.root / folder}: {exc.strerror or exc}"
            ) from exc
        return sorted(
            name
            for name in found
            if not name.startswith(_TMP_PREFIX) and (after is None or name > after)
        )


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def local_checkpoints(root: Path | str) -> WriteOnceCheckpoints:
    """The checkpoint store beside the local log at ``root`` (or of a mirror directory)."""
    return WriteOnceCheckpoints(LocalBlobs(root))
