"""Where an export goes: a file, a Hive-partitioned directory or stdout, published only whole.

Everything is first written to a staging place next to the target (stdout: a spooled temporary
file). :meth:`Output.publish` moves it into place without ever replacing anything that exists
(``link`` for a file, ``rename`` onto a missing or empty directory); :meth:`Output.discard`
removes the staging copy, so a refused export leaves nothing behind and never touches a file it
did not create.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO

from ..errors import AuditStorageError, AuditUsageError
from .formats import RowWriter, WriterFactory
from .rows import ExportRow

_SPOOL_BYTES = 8 << 20


class Output:
    """A row writer over a target; ``publish`` or ``discard`` exactly once."""

    def write(self, row: ExportRow) -> None:
        raise NotImplementedError

    def publish(self) -> str:
        """Make the export visible; returns where it went."""
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError


class StreamOutput(Output):
    """One file (or stdout): a single writer over a staged stream."""

    def __init__(self, factory: WriterFactory, target: Path | None) -> None:
        self._target = target
        if target is None:
            self._stream: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
            self._staged: Path | None = None
        else:
            self._staged = _staging_name(target)
            self._stream = _create(self._staged)
        self._writer: RowWriter = factory(self._stream)

    def write(self, row: ExportRow) -> None:
        self._writer.write(row)

    def publish(self) -> str:
        self._writer.close()
        if self._target is None or self._staged is None:
            self._stream.seek(0)
            shutil.copyfileobj(self._stream, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            self._stream.close()
            return "stdout"
        _durable_close(self._stream)
        try:
            os.link(self._staged, self._target)
        except FileExistsError:
            raise AuditUsageError(f"{self._target} appeared meanwhile; not overwritten") from None
        finally:
            self._staged.unlink(missing_ok=True)
        _fsync_dir(self._target.parent)
        return str(self._target)

    def discard(self) -> None:
        self._stream.close()
        if self._staged is not None:
            self._staged.unlink(missing_ok=True)


class PartitionedOutput(Output):
    """A directory of ``date=YYYY-MM-DD/part-<first seq>.<ext>`` files (Hive-style)."""

    def __init__(self, factory: WriterFactory, extension: str, target: Path) -> None:
        self._factory = factory
        self._extension = extension
        self._target = target
        self._staged = _staging_name(target)
        try:
            self._staged.mkdir()
        except OSError as exc:
            raise AuditStorageError(f"cannot create {self._staged}: {exc.strerror}") from exc
        self._day: str | None = None
        self._stream: IO[bytes] | None = None
        self._writer: RowWriter | None = None

    def write(self, row: ExportRow) -> None:
        if row.day != self._day or self._writer is None:
            self._close_part()
            folder = self._staged / f"date={row.day}"
            folder.mkdir(exist_ok=True)
            self._stream = _create(folder / f"part-{row.seq:020d}.{self._extension}")
            self._writer = self._factory(self._stream)
            self._day = row.day
        self._writer.write(row)

    def _close_part(self) -> None:
        if self._writer is not None and self._stream is not None:
            self._writer.close()
            _durable_close(self._stream)
        self._writer = self._stream = None

    def publish(self) -> str:
        self._close_part()
        try:
            self._staged.rename(self._target)  # onto a missing or empty directory only
        except OSError as exc:
            raise AuditUsageError(f"{self._target} is not empty; not overwritten") from exc
        _fsync_dir(self._target.parent)
        return str(self._target)

    def discard(self) -> None:
        if self._stream is not None:
            self._stream.close()
        shutil.rmtree(self._staged, ignore_errors=True)


def open_output(factory: WriterFactory, extension: str, target: str | None) -> Output:
    """The output for ``--output``: ``-``/None = stdout, a trailing ``/`` or an existing
    directory = partitioned directory, anything else = one new file."""
    if target in (None, "-"):
        return StreamOutput(factory, None)
    path = Path(target).expanduser()
    if target.endswith("/") or path.is_dir():
        if path.is_dir() and any(path.iterdir()):
            raise AuditUsageError(f"--output {target}: the directory is not empty")
        if not path.parent.is_dir():
            raise AuditUsageError(f"--output {target}: {path.parent} does not exist")
        return PartitionedOutput(factory, extension, path)
    if path.exists() or path.is_symlink():
        raise AuditUsageError(f"--output {target}: the file exists; it is never overwritten")
    if not path.parent.is_dir():
        raise AuditUsageError(f"--output {target}: {path.parent} does not exist")
    return StreamOutput(factory, path)


def _staging_name(target: Path) -> Path:
    return target.parent / f".{target.name}.partial-{secrets.token_hex(4)}"


def _create(path: Path) -> IO[bytes]:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise AuditStorageError(f"cannot create {path}: {exc.strerror or exc}") from exc
    return os.fdopen(fd, "wb", buffering=1 << 20)


def _durable_close(stream: IO[bytes]) -> None:
    stream.flush()
    os.fsync(stream.fileno())
    stream.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
