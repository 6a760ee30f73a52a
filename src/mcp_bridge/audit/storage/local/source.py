"""Reading the local store for verification: day files streamed line by line."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from ...chain import Anchor
from ...engine import Segment
from ...errors import AuditStorageError, AuditUsageError
from ...layout import local_partition_path
from ...records import MalformedLine, parse_header
from ...results import Failure, Note
from .files import iter_partition_days, partition_file, read_file_tail
from .store import LOCK_NAME

_READ_BUFFER = 1 << 20


class LocalSource:
    """A local audit directory as a :class:`~mcp_bridge.audit.engine.RecordSource`."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        if not self.root.exists():
            raise AuditUsageError(f"audit path {self.root} does not exist")
        if not self.root.is_dir():
            raise AuditUsageError(f"audit path {self.root} is not a directory")

    @property
    def description(self) -> str:
        return str(self.root)

    def segments(self, start: date | None, end: date | None) -> Sequence[Segment]:
        """The window's day files, each to be read only up to its size at listing time.

        Sizes are taken while holding the writers' lock shared, so they fall between two
        appended batches: a log that is being written verifies as the snapshot it was, never
        as a half-written last line.
        """
        days = [
            day
            for day in iter_partition_days(self.root)
            if (start is None or day >= start) and (end is None or day <= end)
        ]
        with _writers_paused(self.root):
            sizes = [_size(partition_file(self.root, day)) for day in days]
        return [
            Segment(
                name=local_partition_path(day),
                location=str(partition_file(self.root, day)),
                day=day,
                size=size,
                open_lines=partial(_stream, partition_file(self.root, day), size),
            )
            for day, size in zip(days, sizes, strict=True)
        ]

    def anchor_before(self, start: date) -> Anchor | None:
        """The last record of the newest partition before ``start`` (skipping empty files)."""
        for day in iter_partition_days(self.root, newest_first=True):
            if day >= start:
                continue
            path = partition_file(self.root, day)
            fd = _open(path)
            try:
                tail = read_file_tail(fd, os.fstat(fd).st_size)
            finally:
                os.close(fd)
            for candidate in (tail.fragment, tail.last_line):
                if not candidate:
                    continue
                try:
                    header = parse_header(candidate)
                except MalformedLine:
                    continue
                return Anchor(header.seq, header.hash, header.timestamp, str(path))
        return None

    def finish(self) -> tuple[list[Failure], list[Note], dict[str, Any]]:
        return [], [], {}


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise AuditStorageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise AuditStorageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _stream(path: Path, size: int) -> Iterator[bytes]:
    """The lines of the first ``size`` bytes of ``path`` (a snapshot of a growing file)."""
    try:
        with open(path, "rb", buffering=_READ_BUFFER) as handle:
            remaining = size
            for line in handle:
                if remaining <= 0:
                    return
                yield line if len(line) <= remaining else line[:remaining]
                remaining -= len(line)
    except OSError as exc:
        raise AuditStorageError(f"cannot read {path}: {exc.strerror or exc}") from exc


@contextmanager
def _writers_paused(root: Path) -> Iterator[None]:
    """Hold the writers' lock shared (best effort: a read-only auditor may not open it)."""
    try:
        fd = os.open(root / LOCK_NAME, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
