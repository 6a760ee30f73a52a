"""Reading the tail of the local log for the checkpoint writer: records from a given seq on.

The writer covers its own records from memory; it reads here only what other processes
appended (or what it has not seen since a restart). So the read starts from the newest day and
goes back only as far as needed: the first line of each day file (newest first) tells which day
holds the wanted seq; within that day the lines after it are read backwards from the end, and
later days are streamed forwards. Lines that are not sealed records (the torn fragment a
``chain.recovered`` record explains) are skipped; the writer checks that the records it gets
continue its chain.

A forward read ends at the first line without its newline: that is a line another writer is
still writing (or a crash's torn fragment, which the next writer terminates). Reading on would
return the rest of that line as a line of its own and then the records after it, so the reader
would skip a record and the writer would see a gap that is not there. The backward read never
meets the problem: it reads up to the end it found first, where only the last line can be
incomplete.
"""

from __future__ import annotations

import os
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


def _complete_lines(root: Path, day: date) -> Iterator[bytes]:
    """The lines of a day file that end in a newline, without it, up to the first that does
    not, and no further than the file's end when it was opened (a busy log is never chased)."""
    with open(partition_file(root, day), "rb") as handle:
        end, read = os.fstat(handle.fileno()).st_size, 0
        for line in handle:
            if not line.endswith(b"\n"):
                return
            yield line[:-1]
            read += len(line)
            if read >= end:
                return


def _first_entry(root: Path, day: date) -> LogEntry | None:
    for line in _complete_lines(root, day):
        entry = _entry(line, day)
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
    for line in _complete_lines(root, day):
        entry = _entry(line, day)
        if entry is not None:
            yield entry
