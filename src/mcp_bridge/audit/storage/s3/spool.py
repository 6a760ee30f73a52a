"""The local spool: events not in S3 yet, fsync'd until they are shipped.

Events land here when S3 is unreachable, and every event does in the spool acknowledgement mode
(``AUDIT_S3_ACK=spool``, see :mod:`.spool_ack`).

Each store owns one file ``spool-<pid>-<random>.jsonl`` under ``AUDIT_SPOOL_PATH`` and holds an
exclusive ``flock`` on it for its lifetime; a file whose lock is free belongs to a process that
died, and the next store adopts it. A line is either an *entry* (the events of one failed
append and the time they were accepted) or a *progress* line ``{"shipped": n}`` written after
the first ``n`` entries reached S3, so a crash mid-shipping ships at most the entries of the
one PUT in flight twice. Events are kept unsealed: their seq and hashes are assigned when they
are shipped, after the tail that S3 holds by then. Thread-safe: the writer adds entries while a
shipper takes them.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ...errors import AuditStorageError
from ...sequencing import PendingEvent
from ..local.files import fsync_directory

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    """The events of one failed append, with the time the trail accepted them."""

    events: list[PendingEvent]
    accepted: datetime


@dataclass(slots=True)
class _SpoolFile:
    path: Path
    fd: int
    entries: list[SpoolEntry]
    shipped: int


@dataclass(frozen=True, slots=True)
class Pending:
    """The unshipped entries of one spool file, oldest first (shipped together)."""

    spool_file: _SpoolFile
    entries: list[SpoolEntry]

    @property
    def events(self) -> list[PendingEvent]:
        return [event for entry in self.entries for event in entry.events]

    @property
    def accepted(self) -> datetime:
        """When the newest of them was accepted: the time the shipped batch is sealed with."""
        return self.entries[-1].accepted


class Spool:
    """Durable local queue of unshipped events, shipped oldest first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._own: _SpoolFile | None = None
        self._adopted: dict[Path, _SpoolFile] = {}
        self._lock = threading.Lock()

    def add(self, events: Sequence[PendingEvent], accepted: datetime) -> Path:
        """Append an entry and fsync it; return the file that now holds the events."""
        path, sync = self.stage(events, accepted)
        sync()
        return path

    def stage(
        self, events: Sequence[PendingEvent], accepted: datetime
    ) -> tuple[Path, Callable[[], None]]:
        """Append an entry; the returned callable fsyncs it (the group committer's sync step)."""
        line = {
            "accepted": accepted.isoformat(),
            "events": [
                {"type": e.event_type, "payload": e.payload_json.decode("ascii")} for e in events
            ],
        }
        with self._lock:
            own = self._own_file()
            _write_line(own.fd, line, sync=False)
            own.entries.append(SpoolEntry(list(events), accepted))
            fd = os.dup(own.fd)  # stays valid for the sync even if the spool is closed first
        return own.path, lambda: _sync_and_close(fd)

    def pending(self) -> list[Pending]:
        """Unshipped entries per file, files of dead processes first, each file in order."""
        with self._lock:
            self._adopt_orphans()
            files = [*self._adopted.values(), *([self._own] if self._own else [])]
            found = [Pending(f, f.entries[f.shipped :]) for f in files]
        return [pending for pending in found if pending.entries]

    def depth(self) -> int:
        """Events held and not shipped yet, in the files this store has open (no I/O; a
        racy snapshot from another thread, for metrics)."""
        files = [*list(self._adopted.values()), *([self._own] if self._own else [])]
        return sum(len(e.events) for f in files for e in f.entries[f.shipped :])

    def mark_shipped(self, spool_file: _SpoolFile, count: int = 1) -> None:
        """Record durably that the next ``count`` entries of ``spool_file`` are in S3."""
        with self._lock:
            spool_file.shipped += count
            _write_line(spool_file.fd, {"shipped": spool_file.shipped})
            if spool_file.shipped == len(spool_file.entries):
                self._retire(spool_file)

    def close(self) -> None:
        """Release the files; an empty file of ours is removed (nothing left to ship)."""
        with self._lock:
            if self._own is not None and self._own.shipped == len(self._own.entries):
                self._own.path.unlink(missing_ok=True)
            for spool_file in [*self._adopted.values(), *([self._own] if self._own else [])]:
                os.close(spool_file.fd)
            self._adopted.clear()
            self._own = None

    def _retire(self, spool_file: _SpoolFile) -> None:
        """A fully shipped file: empty our own, delete an adopted one."""
        if spool_file is self._own:
            os.ftruncate(spool_file.fd, 0)
            os.fsync(spool_file.fd)
            spool_file.entries.clear()
            spool_file.shipped = 0
            return
        spool_file.path.unlink(missing_ok=True)
        os.close(spool_file.fd)
        self._adopted.pop(spool_file.path, None)

    def _own_file(self) -> _SpoolFile:
        if self._own is None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                path = self.root / f"spool-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise AuditStorageError(
                    f"S3 is unavailable and the spool {self.root} is not writable: {exc}",
                    hint="make AUDIT_SPOOL_PATH a writable local directory",
                ) from exc
            fcntl.flock(fd, fcntl.LOCK_EX)
            fsync_directory(self.root)
            self._own = _SpoolFile(path, fd, [], 0)
        return self._own

    def _adopt_orphans(self) -> None:
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        for name in names:
            path = self.root / name
            if not name.startswith("spool-") or path in self._adopted:
                continue
            if self._own is not None and path == self._own.path:
                continue
            adopted = _try_adopt(path)
            if adopted is not None:
                self._adopted[path] = adopted


def _try_adopt(path: Path) -> _SpoolFile | None:
    """Open and lock a dead process's spool file; ``None`` if its owner is alive."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    entries, shipped = _load(path)
    logger.warning("audit spool: adopting %d unshipped entries from %s", len(entries), path)
    return _SpoolFile(path, fd, entries, shipped)


def _load(path: Path) -> tuple[list[SpoolEntry], int]:
    entries: list[SpoolEntry] = []
    shipped = 0
    for raw in path.read_bytes().splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            logger.warning("audit spool %s: skipping a torn line (a crash mid-write)", path)
            continue
        if "shipped" in line:
            shipped = int(line["shipped"])
            continue
        events = [
            PendingEvent(e["type"], e["payload"].encode("ascii"), json.loads(e["payload"]))
            for e in line["events"]
        ]
        entries.append(SpoolEntry(events, datetime.fromisoformat(line["accepted"])))
    return entries, shipped


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        raise _spool_error(exc) from exc
    finally:
        os.close(fd)


def _spool_error(exc: OSError) -> AuditStorageError:
    return AuditStorageError(
        f"cannot write the audit spool: {exc}",
        hint="free space in AUDIT_SPOOL_PATH or fix its permissions",
    )


def _write_line(fd: int, value: object, *, sync: bool = True) -> None:
    data = (json.dumps(value, separators=(",", ":")) + "\n").encode()
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    except OSError as exc:
        raise _spool_error(exc) from exc
