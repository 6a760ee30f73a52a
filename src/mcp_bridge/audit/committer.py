"""Group commit: many concurrent callers, one durable append per batch.

Callers (threads or asyncio tasks) enqueue events and wait; one background thread takes
everything queued, hands it to the store in a single ``append`` (one write, one fsync or one
PUT), and wakes every caller of that batch at once. Under load the batch grows by itself, so
durability costs one fsync per batch rather than per event.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .errors import AuditStorageError
from .sequencing import PendingEvent, SealedRecord

logger = logging.getLogger(__name__)


class AppendStore(Protocol):
    """What the committer needs from a storage driver."""

    def append(self, events: Sequence[PendingEvent], now: datetime) -> list[SealedRecord]:
        """Sequence, seal and durably store ``events``; return them in order."""
        ...


@dataclass(slots=True)
class _Batch:
    """Events queued between two commits; their callers share one completion signal."""

    events: list[PendingEvent] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[SealedRecord], int]] = field(
        default_factory=list
    )
    records: list[SealedRecord] = field(default_factory=list)
    error: BaseException | None = None


class GroupCommitter:
    """Owns the background commit thread of one trail."""

    def __init__(
        self,
        store: AppendStore,
        clock: Callable[[], datetime],
        on_result: Callable[[list[SealedRecord] | None, BaseException | None], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_result = on_result
        self._cv = threading.Condition()
        self._batch = _Batch()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-commit", daemon=True)
        self._thread.start()

    def commit(self, event: PendingEvent) -> SealedRecord:
        """Queue ``event`` and block until its batch is durable."""
        with self._cv:
            batch = self._enqueue(event)
            index = len(batch.events) - 1
        batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.records[index]

    def submit(self, event: PendingEvent) -> asyncio.Future[SealedRecord]:
        """Queue ``event`` from a running event loop; the future resolves when durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SealedRecord] = loop.create_future()
        with self._cv:
            batch = self._enqueue(event)
            batch.waiters.append((loop, future, len(batch.events) - 1))
        return future

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join()

    def _enqueue(self, event: PendingEvent) -> _Batch:
        if self._closed:
            raise AuditStorageError("the audit trail is closed", hint="open a new trail")
        batch = self._batch
        batch.events.append(event)
        if len(batch.events) == 1:
            self._cv.notify()
        return batch

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._batch.events and not self._closed:
                    self._cv.wait()
                batch = self._batch
                if not batch.events:
                    return
                self._batch = _Batch()
            self._commit_batch(batch)

    def _commit_batch(self, batch: _Batch) -> None:
        try:
            batch.records = self._store.append(batch.events, self._clock())
        except BaseException as exc:  # every caller of the batch must hear about it
            batch.error = exc
            if not isinstance(exc, AuditStorageError):
                logger.exception("audit append failed")
        self._on_result(batch.records or None, batch.error)
        batch.done.set()
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[SealedRecord], int]]]
        by_loop = {}
        for loop, future, index in batch.waiters:
            by_loop.setdefault(loop, []).append((future, index))
        for loop, futures in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, futures, batch.records, batch.error)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
                continue


def _resolve(
    futures: list[tuple[asyncio.Future[SealedRecord], int]],
    records: list[SealedRecord],
    error: BaseException | None,
) -> None:
    for future, index in futures:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(records[index])
