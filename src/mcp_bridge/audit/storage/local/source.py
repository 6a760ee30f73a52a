"""Reading the local store for verification: day files streamed line by line.

Only regular files are read (a FIFO, a device or a folder in the layout, also behind a
symlink, is reported as ``unexpected_file`` and never opened), and lines are read with a bound
(the maximum record size), so no input can hang the verifier or make its memory grow without
limit. Every ``OSError`` becomes an :class:`~mcp_bridge.audit.errors.AuditStorageError`
naming the path.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from ...chain import Anchor, BadLine, FollowingLine, find_anchor
from ...engine import Segment
from ...errors import AuditUsageError
from ...layout import local_partition_path
from ...results import Failure, Note, Reason
from .files import (
    bounded_lines,
    count_lines_before,
    describe_file_kind,
    is_regular_file,
    iter_partition_days,
    lines_backwards,
    open_regular,
    partition_file,
    storage_errors,
    stream_lines,
)
from .store import LOCK_NAME

#: Default maximum record size (bytes, newline excluded); longer lines are skipped unread.
DEFAULT_MAX_RECORD_BYTES = 1 << 20
#: Non-record lines collected while looking for the record before a window.
_ANCHOR_BAD_LINES = 16


class LocalSource:
    """A local audit directory as a :class:`~mcp_bridge.audit.engine.RecordSource`."""

    def __init__(
        self, root: Path | str, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    ) -> None:
        self.root = Path(root).expanduser()
        self.max_record_bytes = max_record_bytes
        with storage_errors(self.root):
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
        with storage_errors(self.root):
            days = [
                day
                for day in iter_partition_days(self.root)
                if (start is None or day >= start) and (end is None or day <= end)
            ]
            with _writers_paused(self.root):
                sizes = [self._size_if_regular(partition_file(self.root, day)) for day in days]
        return [self._segment(day, size) for day, size in zip(days, sizes, strict=True)]

    def _segment(self, day: date, size: int | None) -> Segment:
        path = partition_file(self.root, day)
        if size is None:
            return Segment(
                name=local_partition_path(day),
                location=str(path),
                day=day,
                size=0,
                open_lines=lambda: iter(()),
                failures=[_unexpected_file(path)],
            )
        return Segment(
            name=local_partition_path(day),
            location=str(path),
            day=day,
            size=size,
            open_lines=partial(stream_lines, path, size, self.max_record_bytes),
        )

    def anchor_before(self, start: date) -> Anchor | None:
        """The last record before ``start``, found by reading back from the newest earlier file.

        Lines that are not records on the way are kept (with their line numbers) in the
        anchor's ``trailing``, never skipped silently; a file that is not a regular file is
        passed over unread (the window's first record then shows what is missing).
        """
        trailing: list[BadLine] = []
        with storage_errors(self.root):
            for day in iter_partition_days(self.root, newest_first=True):
                path = partition_file(self.root, day)
                if day >= start or not is_regular_file(path):
                    continue
                anchor, found = self._last_record(day, path)
                trailing.extend(found)
                if anchor is not None:
                    return replace(anchor, trailing=tuple(reversed(trailing)))
                if len(trailing) >= _ANCHOR_BAD_LINES:
                    return None
        return None

    def _last_record(self, day: date, path: Path) -> tuple[Anchor | None, list[BadLine]]:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            back = lines_backwards(handle, size, self.max_record_bytes)
            anchor, offset, bad_lines = find_anchor(
                local_partition_path(day), str(path), back, _ANCHOR_BAD_LINES
            )
            if not bad_lines:
                return anchor, []
            numbers = count_lines_before(handle, [offset] + [bad.offset for bad in bad_lines])
        bad_lines = [replace(bad, line=numbers[bad.offset]) for bad in bad_lines]
        if anchor is not None:
            anchor = replace(anchor, line=numbers[offset])
        return anchor, bad_lines

    def first_after(self, end: date) -> FollowingLine | None:
        """The first line of the first non-empty regular day file after ``end``."""
        with storage_errors(self.root):
            for day in iter_partition_days(self.root):
                path = partition_file(self.root, day)
                if day <= end or not is_regular_file(path):
                    continue
                with open_regular(path) as handle:
                    size = os.fstat(handle.fileno()).st_size
                    limit = min(size, self.max_record_bytes + 1)
                    for line in bounded_lines(path, handle, limit, self.max_record_bytes):
                        return FollowingLine(local_partition_path(day), str(path), day, line)
        return None

    def empty_reason(self) -> str | None:
        with storage_errors(self.root):
            if next(iter_partition_days(self.root), None) is not None:
                return None
            if (self.root / LOCK_NAME).exists():
                return None
        return (
            f"no audit store at {self.root}: no partition file (YYYY/MM/DD.jsonl) and no "
            f"{LOCK_NAME} marker was found"
        )

    def finish(self) -> tuple[list[Failure], list[Note], dict[str, Any]]:
        return [], [], {}

    def _size_if_regular(self, path: Path) -> int | None:
        return path.stat().st_size if is_regular_file(path) else None


def _unexpected_file(path: Path) -> Failure:
    return Failure(
        Reason.UNEXPECTED_FILE,
        f"{describe_file_kind(path)} found where a partition file belongs; it was not opened",
        str(path),
    )


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
