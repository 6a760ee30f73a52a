"""Finding one record by seq in a local log without reading it: two binary searches.

First over the day files by their first record's seq, then over byte offsets within the file
(seek, skip to the next line start, read one line), ending in a scan of at most 64 KiB. What
``prove --seq`` uses on a local store; a damaged file only makes the search miss (``None``).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from ...errors import AuditStorageError
from ...records import MalformedLine, parse_header
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


def _in_file(path: Path, seq: int) -> bytes | None:
    with path.open("rb") as handle:
        low, high = 0, path.stat().st_size
        while high - low > _SCAN:
            middle = (low + high) // 2
            found = _seq(_line_from(handle, middle))
            if found is not None and found > seq:
                high = middle
            else:
                low = middle
        line = _line_from(handle, low)
        while line:
            found = _seq(line)
            if found == seq:
                return line
            if found is not None and found > seq:
                return None
            line = handle.readline()
    return None


def find_by_seq(root: Path, seq: int) -> tuple[bytes, str] | None:
    """The stored line of record ``seq`` and its file, or ``None`` if the log has none."""
    try:
        days = list(iter_partition_days(root))
        low, high = 0, len(days)
        while high - low > 1:
            middle = (low + high) // 2
            with partition_file(root, days[middle]).open("rb") as handle:
                first = _seq(handle.readline())
            if first is not None and first <= seq:
                low = middle
            else:
                high = middle
        for day in days[low : low + 2]:
            line = _in_file(partition_file(root, day), seq)
            if line is not None:
                return line, str(partition_file(root, day))
    except OSError as exc:
        raise AuditStorageError(f"cannot read {root}: {exc.strerror or exc}") from exc
    return None
