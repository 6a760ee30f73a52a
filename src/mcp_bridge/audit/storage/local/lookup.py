"""Finding one record by seq in a local log without reading it: two binary searches.

First over the day files by their first record's seq, then over byte offsets within the file
(seek, skip to the next line start, read one line), ending in a scan of at most 64 KiB. What
``prove --seq`` uses on a local store, and what the level-0 hash tiles are derived from (the
few records of one tile: :func:`record_lines`); a damaged file only makes the search miss.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import BinaryIO

from ...checkpoint_store import StoredLine
from ...errors import AuditStorageError
from ...records import MalformedLine, parse_header, peek_seq
from .files import iter_partition_days, partition_file

_SCAN = 64 * 1024


def _seq(line: bytes) -> int | None:
    try:
        return parse_header(line.rstrip(b"\n")).seq
    except MalformedLine:
        return None


def _line_from(handle: BinaryIO, offset: int) -> bytes:
    """The first whole line that starts at or after ``offset``."""
    if offset:
        handle.seek(offset - 1)
        handle.readline()
    else:
        handle.seek(0)
    return handle.readline()


def _near(handle: BinaryIO, size: int, seq: int) -> int:
    """An offset at most about 64 KiB before the line of record ``seq`` (or 0): a binary
    search on byte offsets, reading one line per step."""
    low, high = 0, size
    while high - low > _SCAN:
        middle = (low + high) // 2
        found = peek_seq(_line_from(handle, middle))
        if found is not None and found > seq:
            high = middle
        else:
            low = middle
    return low


def _in_file(path: Path, seq: int) -> bytes | None:
    with path.open("rb") as handle:
        line = _line_from(handle, _near(handle, path.stat().st_size, seq))
        while line:
            found = _seq(line)
            if found == seq:
                return line
            if found is not None and found > seq:
                return None
            line = handle.readline()
    return None


def _first_day(root: Path, days: list[date], seq: int) -> int:
    """The index of the last day whose first record is at most ``seq`` (0 if none is)."""
    low, high = 0, len(days)
    while high - low > 1:
        middle = (low + high) // 2
        with partition_file(root, days[middle]).open("rb") as handle:
            first = _seq(handle.readline())
        if first is not None and first <= seq:
            low = middle
        else:
            high = middle
    return low


def find_by_seq(root: Path, seq: int) -> tuple[bytes, str] | None:
    """The stored line of record ``seq`` and its file, or ``None`` if the log has none."""
    try:
        days = list(iter_partition_days(root))
        low = _first_day(root, days, seq)
        for day in days[low : low + 2]:
            line = _in_file(partition_file(root, day), seq)
            if line is not None:
                return line, str(partition_file(root, day))
    except OSError as exc:
        raise AuditStorageError(f"cannot read {root}: {exc.strerror or exc}") from exc
    return None


def record_lines(root: Path, start: int, end: int) -> list[StoredLine]:
    """The lines of records ``start`` to ``end - 1`` (see :class:`~...checkpoint_store.
    RecordRange`): the day found by a binary search, then in each file from the offset another
    one finds, forwards until a record at or after ``end``."""
    found: list[StoredLine] = []
    try:
        days = list(iter_partition_days(root))
        for day in days[_first_day(root, days, start) :] if days else []:
            path = partition_file(root, day)
            with path.open("rb") as handle:
                line = _line_from(handle, _near(handle, path.stat().st_size, start))
                while line:
                    seq = peek_seq(line)
                    if seq is not None and seq >= end:
                        return found
                    if seq is not None and seq >= start:
                        found.append(StoredLine(line.rstrip(b"\n"), str(path)))
                    line = handle.readline()
    except OSError as exc:
        raise AuditStorageError(f"cannot read {root}: {exc.strerror or exc}") from exc
    return found


class LocalRecords:
    """:class:`~...checkpoint_store.RecordRange` of the local log at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def record_lines(self, start: int, end: int) -> list[StoredLine]:
        return record_lines(self.root, start, end)
