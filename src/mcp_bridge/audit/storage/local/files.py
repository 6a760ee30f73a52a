"""File-system helpers of the local store, shared by its writer and its reader."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ...layout import local_partition_path

_TAIL_CHUNK = 64 * 1024


def partition_file(root: Path, day: date) -> Path:
    return root / local_partition_path(day)


def iter_partition_days(root: Path, *, newest_first: bool = False) -> Iterator[date]:
    """Days that have a partition file (``YYYY/MM/DD.jsonl``), in date order.

    Only names of that exact shape count; anything else in the tree (lock file, stray files)
    is ignored, so it can never be mistaken for audit data.
    """
    for year in _numbered(root, 4, "", newest_first):
        for month in _numbered(root / year, 2, "", newest_first):
            for day in _numbered(root / year / month, 2, ".jsonl", newest_first):
                try:
                    yield date(int(year), int(month), int(day))
                except ValueError:
                    continue


def _numbered(folder: Path, width: int, suffix: str, reverse: bool) -> list[str]:
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    stems = [
        name.removesuffix(suffix)
        for name in names
        if name.endswith(suffix) and len(name) == width + len(suffix)
    ]
    return sorted((s for s in stems if s.isdigit()), reverse=reverse)


@dataclass(frozen=True, slots=True)
class FileTail:
    """The end of a partition file: its last complete line and any unterminated fragment."""

    size: int
    last_line: bytes | None
    last_line_offset: int
    fragment: bytes
    fragment_offset: int


def read_file_tail(fd: int, size: int) -> FileTail:
    """Read backwards from ``size`` until the last complete line (if any) is in hand.

    A complete line ends with ``\\n``; bytes after the last ``\\n`` are the fragment of a
    write that did not finish (or of one still in progress).
    """
    chunk, start, buf = _TAIL_CHUNK, size, b""
    while start > 0:
        new_start = max(0, start - chunk)
        buf = os.pread(fd, start - new_start, new_start) + buf
        start = new_start
        last_nl = buf.rfind(b"\n")
        if last_nl >= 0 and (buf.rfind(b"\n", 0, last_nl) >= 0 or start == 0):
            break
        chunk *= 2
    last_nl = buf.rfind(b"\n")
    fragment = buf[last_nl + 1 :]
    if last_nl < 0:
        return FileTail(size, None, 0, fragment, start)
    line_start = buf.rfind(b"\n", 0, last_nl) + 1
    return FileTail(
        size=size,
        last_line=buf[line_start:last_nl],
        last_line_offset=start + line_start,
        fragment=fragment,
        fragment_offset=start + last_nl + 1,
    )


def iter_lines_backwards(path: Path, block: int = 1 << 20) -> Iterator[bytes]:
    """The non-empty lines of ``path``, last first, reading one block at a time from the end."""
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        carry = b""
        while position > 0:
            start = max(0, position - block)
            handle.seek(start)
            data = handle.read(position - start) + carry
            position = start
            lines = data.split(b"\n")
            carry = lines[0]
            yield from (line for line in reversed(lines[1:]) if line)
        if carry:
            yield carry


def fsync_directory(path: Path) -> None:
    """Make a directory entry (a newly created file or folder) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durably(root: Path, folder: Path) -> None:
    """Create ``folder`` (below ``root``) and fsync each parent whose entries changed."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe == root or probe.parent == probe:
            break
        probe = probe.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        fsync_directory(created.parent)
