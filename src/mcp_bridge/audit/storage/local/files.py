"""File-system helpers of the local store, shared by its writer and its reader."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import BinaryIO

from ...chain import OversizedLine
from ...errors import AuditStorageError
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


def is_regular_file(path: Path) -> bool:
    """True for a regular file (or a symlink to one), judged without opening it.

    The verifier reads only regular files: a FIFO would block it forever and a device
    (``/dev/zero``, also behind a symlink) would feed it without end.
    """
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def describe_file_kind(path: Path) -> str:
    """``a FIFO``, ``a symbolic link to a device``…: what sits at ``path`` instead of a file."""
    try:
        link = os.path.islink(path)
        mode = os.stat(path).st_mode
    except OSError:
        return "a broken symbolic link" if os.path.islink(path) else "a missing file"
    kinds = [
        (stat.S_ISFIFO(mode), "a FIFO"),
        (stat.S_ISDIR(mode), "a directory"),
        (stat.S_ISCHR(mode) or stat.S_ISBLK(mode), "a device"),
        (stat.S_ISSOCK(mode), "a socket"),
    ]
    kind = next((name for matches, name in kinds if matches), "not a regular file")
    return f"a symbolic link to {kind}" if link else kind


def open_regular(path: Path, buffering: int = 1 << 20) -> BinaryIO:
    """Open a regular file for reading; never blocks on a FIFO swapped in meanwhile."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=buffering)
    except BaseException:
        os.close(fd)
        raise


def bounded_lines(path: Path, handle: BinaryIO, limit: int, max_line: int) -> Iterator[bytes]:
    """The lines in the next ``limit`` bytes of ``handle``, each with its newline if it has one.

    Memory stays bounded whatever the input: a line longer than ``max_line`` bytes (newline
    excluded) comes back as an :class:`~mcp_bridge.audit.chain.OversizedLine` holding only its
    first ``max_line`` bytes; the rest is read past in bounded steps. Lines come from the
    buffered reader's own ``readline`` (one C call per line): this is on the verifier's hot path.
    The generator owns ``handle`` (closed when it ends) and maps read errors to storage errors.
    """
    cap = max_line + 1
    remaining = limit
    with storage_errors(path), handle:
        for line in iter(partial(handle.readline, cap), b""):
            if remaining <= 0:
                return
            size = len(line)
            if size == cap and line[-1] != 10:  # no newline within max_line + 1 bytes
                size = _skip_rest_of_line(handle, size, remaining)
                yield OversizedLine(line[:max_line], min(size, remaining), max_line)
            else:
                yield line if size <= remaining else line[:remaining]
            remaining -= size


def _skip_rest_of_line(handle: BinaryIO, size: int, remaining: int) -> int:
    """Read past the rest of an over-long line (in bounded steps); its total length."""
    while size < remaining:
        piece = handle.readline(1 << 16)
        size += len(piece)
        if not piece or piece.endswith(b"\n"):
            break
    return size


def lines_backwards(
    handle: BinaryIO, size: int, max_line: int, block: int = 1 << 16
) -> Iterator[tuple[int, bytes, bool]]:
    """``(offset, line, terminated)`` of the first ``size`` bytes of ``handle``, last line first.

    A line is given without its newline; bytes after the last newline come first, unterminated
    (a torn write). A line longer than ``max_line`` comes as an
    :class:`~mcp_bridge.audit.chain.OversizedLine` (memory stays bounded).
    """
    pos, tail, length, terminated = size, b"", 0, False
    while pos > 0:
        start = max(0, pos - block)
        handle.seek(start)
        data = handle.read(pos - start)
        pos = start
        index = len(data)
        while True:
            newline = data.rfind(b"\n", 0, index)
            piece = data[newline + 1 : index]
            length += len(piece)
            if length <= max_line:
                tail = piece + tail
            if newline < 0:
                break
            if terminated or length:
                yield start + newline + 1, _line(tail, length, max_line), terminated
            tail, length, terminated, index = b"", 0, True, newline
    if terminated or length:
        yield 0, _line(tail, length, max_line), terminated


def _line(text: bytes, length: int, max_line: int) -> bytes:
    return text if length <= max_line else OversizedLine(text[:max_line], length, max_line)


def count_lines_before(handle: BinaryIO, offsets: list[int]) -> dict[int, int]:
    """1-based line numbers of the lines starting at ``offsets`` (one forward pass)."""
    numbers: dict[int, int] = {}
    handle.seek(0)
    position, newlines = 0, 0
    for offset in sorted(offsets):
        while position < offset:
            data = handle.read(min(1 << 20, offset - position))
            if not data:
                break
            newlines += data.count(b"\n")
            position += len(data)
        numbers[offset] = newlines + 1
    return numbers


@contextmanager
def storage_errors(root: Path) -> Iterator[None]:
    """Turn any ``OSError`` (EACCES, ELOOP, EIO…) into a storage error naming the path."""
    try:
        yield
    except OSError as exc:
        where = exc.filename if exc.filename is not None else root
        raise AuditStorageError(f"cannot read {where}: {exc.strerror or exc}") from exc


def stream_lines(path: Path, size: int, max_line: int) -> Iterator[bytes]:
    """The lines of the first ``size`` bytes of ``path`` (a snapshot of a growing file)."""
    with storage_errors(path):
        return bounded_lines(path, open_regular(path), size, max_line)


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
