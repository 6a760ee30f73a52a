"""Local JSONL store: ``root/YYYY/MM/DD.jsonl``, one chain shared by every writer process.

Write protocol (see ``docs/audit-format.md``):

1. take an exclusive ``flock`` on ``root/.writer.lock`` (serialises processes on this host);
2. find the tail: the cached one if the newest file is still the size we left it, else read
   the last line from disk (another process wrote, or this is the first append);
3. seal the batch after that tail and append it with one ``write`` (``O_APPEND``);
4. release the lock, then ``fdatasync`` the file (and fsync directories that gained entries).
   A later writer's fsync also covers our bytes, so ordering holds even across processes.

Existing bytes are never rewritten. A crash can leave an unterminated fragment at the end of
the newest file; the next writer links to the last complete record and first appends a
``chain.recovered`` record naming the fragment (offset, length, SHA-256), so the verifier can
tell an explained crash from tampering.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ...checkpoint_store import LogEntry, StoredLine, WriteOnceCheckpoints
from ...errors import AuditCorruptionError, AuditStorageError
from ...layout import local_partition_path
from ...records import MalformedLine, body_hash, parse_header
from ...sequencing import EMPTY_TAIL, ChainTail, PendingEvent, SealedRecord, seal_batch
from .checkpoints import local_checkpoints
from .entries import entries_since
from .files import (
    FileTail,
    fsync_directory,
    iter_lines_backwards,
    iter_partition_days,
    make_dirs_durably,
    partition_file,
    read_file_tail,
)
from .lookup import record_lines

logger = logging.getLogger(__name__)

RECOVERY_EVENT = "chain.recovered"
LOCK_NAME = ".writer.lock"


@dataclass(frozen=True, slots=True)
class _Position:
    """Where the chain ends on disk: the newest partition file, its size and its tail.

    ``needs_newline`` says the newest file ends without a newline (an interrupted write);
    ``fragment`` describes torn bytes that the next batch must explain with a recovery record.
    """

    day: date | None
    size: int
    tail: ChainTail
    needs_newline: bool = False
    fragment: dict[str, Any] | None = None


class LocalStore:
    """Durable appends to local partition files; safe across threads and processes."""

    backend = "local"

    def __init__(self, root: Path | str, *, create: bool = True) -> None:
        self.root = Path(root).expanduser()
        if create:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AuditStorageError(
                    f"cannot create the audit store {self.root}: {exc.strerror or exc}",
                    hint="set AUDIT_STORAGE_PATH to a writable directory on a local disk",
                ) from exc
        self._mutex = threading.Lock()
        self._lock_fd: int | None = None
        self._fds: dict[date, int] = {}
        self._position: _Position | None = None

    def append(self, events: Sequence[PendingEvent], now: datetime) -> list[SealedRecord]:
        """Write ``events`` and wait until they are durable."""
        records, sync = self.stage(events, now)
        sync()
        return records

    def stage(
        self, events: Sequence[PendingEvent], now: datetime
    ) -> tuple[list[SealedRecord], Callable[[], None]]:
        """Write ``events``; the returned callable fsyncs them (the group committer's pipeline)."""
        with self._mutex:
            try:
                return self._stage_locked(events, now)
            except OSError as exc:
                self._position = None
                raise _storage_error(self.root, exc) from exc

    def _stage_locked(
        self, events: Sequence[PendingEvent], now: datetime
    ) -> tuple[list[SealedRecord], Callable[[], None]]:
        lock_fd = self._lock()
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            position = self._locate(now)
            if not events:  # a health probe: the store is reachable and its tail is sound
                return [], _no_sync
            batch = list(events)
            if position.fragment is not None:
                batch.insert(0, PendingEvent.create(RECOVERY_EVENT, position.fragment))
                logger.warning("audit store: recovering from a torn write %s", position.fragment)
            records = seal_batch(position.tail, batch, now)
            to_sync = os.dup(self._write(position, records))
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
        return records[len(records) - len(events) :], partial(_sync_and_close, self.root, to_sync)

    def _write(self, position: _Position, records: list[SealedRecord]) -> int:
        """Append the batch with one write and return the descriptor to sync.

        A batch shares one timestamp (see ``seal_batch``), hence one day and one file.
        """
        day = records[-1].day
        data = b"".join([record.line for record in records])
        fd = self._fd_for(day)
        if day == position.day:
            size = position.size
            if position.needs_newline:
                data = b"\n" + data
        else:
            size = os.fstat(fd).st_size
        _write_all(fd, data)
        self._position = _Position(day, size + len(data), records[-1].tail)
        return fd

    def _locate(self, now: datetime) -> _Position:
        """The cached end of the chain if no other writer moved it, else the end on disk."""
        cached = self._position
        if (
            cached is not None
            and cached.day is not None
            and now.date() <= cached.day
            and self._size_of(cached.day) == cached.size
        ):
            return cached
        return self._scan()

    def _size_of(self, day: date) -> int:
        try:
            return os.fstat(self._fd_for(day)).st_size
        except OSError:
            return -1

    def _scan(self) -> _Position:
        """Find the end of the chain on disk, newest partition first."""
        newest: _Position | None = None
        for day in iter_partition_days(self.root, newest_first=True):
            fd = self._fd_for(day)
            tail = read_file_tail(fd, os.fstat(fd).st_size)
            if newest is None:
                newest = _Position(day, tail.size, EMPTY_TAIL, needs_newline=bool(tail.fragment))
                sealed = _sealed_tail(tail.fragment)
                if sealed is not None:
                    return replace(newest, tail=sealed)
                if tail.fragment:
                    newest = replace(newest, fragment=_torn_evidence(day, tail))
            if tail.last_line is not None:
                return replace(newest, tail=self._validated_tail(day, tail))
        return newest or _Position(None, 0, EMPTY_TAIL)

    def _validated_tail(self, day: date, tail: FileTail) -> ChainTail:
        assert tail.last_line is not None
        where = f"{local_partition_path(day)} at byte {tail.last_line_offset}"
        try:
            header = parse_header(tail.last_line)
        except MalformedLine as exc:
            raise AuditCorruptionError(
                f"the last complete line of the audit log ({where}) is not a record: {exc}; "
                "refusing to write rather than start a new chain"
            ) from None
        if body_hash(header) != header.hash:
            raise AuditCorruptionError(
                f"the last record of the audit log ({where}, seq {header.seq}) fails its hash "
                "check; refusing to link new records to it"
            )
        return ChainTail(header.seq, header.hash, header.timestamp)

    def _fd_for(self, day: date) -> int:
        fd = self._fds.get(day)
        if fd is not None:
            return fd
        path = partition_file(self.root, day)
        created = not path.exists()
        if created:
            make_dirs_durably(self.root, path.parent)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        if created:
            fsync_directory(path.parent)
        for old_day in [d for d in self._fds if d < day]:
            os.close(self._fds.pop(old_day))
        self._fds[day] = fd
        return fd

    def _lock(self) -> int:
        if self._lock_fd is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        return self._lock_fd

    def log_size(self) -> int:
        """How many records the log holds now (read under the writers' lock)."""
        with self._mutex:
            lock_fd = self._lock()
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                return self._scan().tail.next_seq
            except OSError as exc:
                raise _storage_error(self.root, exc) from exc
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)

    def entries_since(self, seq: int) -> Iterator[LogEntry]:
        return entries_since(self.root, seq)

    def record_lines(self, start: int, end: int) -> list[StoredLine]:
        return record_lines(self.root, start, end)

    def checkpoints(self) -> WriteOnceCheckpoints:
        """Checkpoints and tiles beside this log (``root/_checkpoints``, ``root/_tiles``)."""
        return local_checkpoints(self.root)

    def fetch_events(self, limit: int, event_type: str | None) -> list[dict[str, Any]]:
        """The newest ``limit`` records (optionally of one type), oldest first."""
        found: list[dict[str, Any]] = []
        for day in iter_partition_days(self.root, newest_first=True):
            for line in iter_lines_backwards(partition_file(self.root, day)):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and (
                    event_type is None or record.get("eventType") == event_type
                ):
                    found.append(record)
                    if len(found) >= limit:
                        return found[::-1]
        return found[::-1]

    def close(self) -> None:
        with self._mutex:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
            self._position = None


def _sealed_tail(fragment: bytes) -> ChainTail | None:
    """The record in an unterminated fragment, if the write finished all but its newline."""
    if not fragment:
        return None
    try:
        header = parse_header(fragment)
    except MalformedLine:
        return None
    if body_hash(header) != header.hash:
        return None
    return ChainTail(header.seq, header.hash, header.timestamp)


def _torn_evidence(day: date, tail: FileTail) -> dict[str, Any]:
    """What the ``chain.recovered`` record says about torn bytes: enough to re-check them."""
    return {
        "reason": "torn_write",
        "file": local_partition_path(day),
        "offset": tail.fragment_offset,
        "length": len(tail.fragment),
        "sha256": hashlib.sha256(tail.fragment).hexdigest(),
        "recoveredBy": {"host": socket.gethostname(), "pid": os.getpid()},
    }


def _no_sync() -> None:
    """Nothing was written, so nothing needs syncing."""


def _sync_and_close(root: Path, fd: int) -> None:
    """Make written bytes durable; ``fd`` is a duplicate owned by this call."""
    try:
        os.fdatasync(fd)
    except OSError as exc:
        raise _storage_error(root, exc) from exc
    finally:
        os.close(fd)


def _storage_error(root: Path, exc: OSError) -> AuditStorageError:
    return AuditStorageError(f"cannot append to the audit store {root}: {exc.strerror or exc}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
