"""Reading the tail of the local log for the checkpoint writer: records from a given seq on.

The writer covers its own records from memory; it reads here only what other processes
appended (or what it has not seen since a restart). So the read starts from the newest day and
goes back only as far as needed: the first line of each day file (newest first) tells which day
holds the wanted seq; within that day the lines after it are read backwards from the end, and
later days are streamed forwards. Lines that are not sealed records (the torn fragment a
``chain.recovered`` record explains, or a line another writer is still writing) are skipped;
the writer checks that the records it gets continue its chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from ...checkpoint_store import LogEntry, log_entry
from ...layout import local_partition_path
from ...records import MalformedLine
from .files import iter_lines_backwards, iter_partition_days, partition_file


def entries_since(root: Path, seq: int) -> Iterator[LogEntry]:
    """Records of the log at ``root`` with ``seq`` and above, in order."""
    days: list[date] = []
    first: LogEntry | None = None
    for day in iter_partition_days(root, newest_first=True):
        days.append(day)
        first = _first_entry(root, day)
        if first is not None and first.seq <= seq:
            break
    if not days:
        return
    start = days.pop()
    if first is not None and first.seq < seq:
        yield from _backwards_until(root, start, seq)
    else:
        yield from _forwards(root, start)
    for day in reversed(days):
        yield from _forwards(root, day)


def _entry(line: bytes, day: date) -> LogEntry | None:
    try:
        return log_entry(line, local_partition_path(day))
    except MalformedLine:
        return None


def _first_entry(root: Path, day: date) -> LogEntry | None:
    with open(partition_file(root, day), "rb") as handle:
        for line in handle:
            entry = _entry(line.rstrip(b"\n"), day)
            if entry is not None:
                return entry
    return None


def _backwards_until(root: Path, day: date, seq: int) -> Iterator[LogEntry]:
    found: list[LogEntry] = []
    for line in iter_lines_backwards(partition_file(root, day)):
        entry = _entry(line, day)
        if entry is None:
            continue
        if entry.seq < seq:
            break
        found.append(entry)
    yield from reversed(found)


def _forwards(root: Path, day: date) -> Iterator[LogEntry]:
    with open(partition_file(root, day), "rb") as handle:
        for line in handle:
            entry = _entry(line.rstrip(b"\n"), day)
            if entry is not None:
                yield entry
