"""Group commit: many concurrent callers, one durable append per batch.

Callers (threads or asyncio tasks) enqueue events and wait; a background thread takes
everything queued and hands it to the store in a single append (one write and one fsync, or
one PUT), then wakes every caller of that batch at once. Under load the batch grows by itself,
so durability costs one fsync per batch rather than per event.

Stores that can separate writing from syncing (:class:`StagingStore`, the local files) get a
pipeline: the writer thread writes batch *k+1* while a sync thread waits for batch *k*'s fsync,
so the CPU work of sealing overlaps the disk's flush.

Asyncio callers that wait get their own future (so a cancelled caller stops waiting at once,
whatever its batch does), all of a batch's resolved by one cross-thread callback per event loop;
a caller that does not wait for durability costs no future at all, and one that only wants to
learn the outcome shares its batch's future. A staged batch that nobody waits for (only
background records) is not synced on its own: it is synced with the next batch someone waits
for, or after at most ``LAZY_SYNC_SECONDS``, whichever comes first. Its bytes are in the file
(and survive the process being killed) from the moment it is staged; only a crash of the host
inside that window can lose them. A batch is reported durable (futures, ``on_result``, hence
checkpoints) only once synced.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, cast, runtime_checkable

from .errors import AuditStorageError
from .sequencing import PendingEvent, SealedRecord

logger = logging.getLogger(__name__)

Sync = Callable[[], None]
#: An awaiting caller's own future and the index of its event in the batch.
_Waiter = tuple["asyncio.Future[SealedRecord | None]", int]

#: How often a failing trail retries with an empty append while no events arrive.
PROBE_SECONDS = 2.0
#: The longest a staged batch that nobody waits for stays unsynced (see the module docstring).
LAZY_SYNC_SECONDS = 0.05


class AppendStore(Protocol):
    """What the committer needs from a storage driver."""

    def append(self, events: Sequence[PendingEvent], now: datetime) -> list[SealedRecord]:
        """Sequence, seal and durably store ``events``; return them in order."""
        ...


@runtime_checkable
class StagingStore(Protocol):
    """A store whose writes become durable in a separate, later step."""

    def stage(
        self, events: Sequence[PendingEvent], now: datetime
    ) -> tuple[list[SealedRecord], Sync]:
        """Sequence, seal and write ``events``; calling the returned ``Sync`` makes them durable."""
        ...


class BatchFuture(asyncio.Future[list[SealedRecord]]):
    """The future shared by the submitters of one batch on one event loop (``submit``).

    It resolves with the batch's records once they are durable. It is shared, so no one may
    cancel it for the others: ``cancel`` refuses. Callers that await their record use
    ``wait`` (a future of their own) instead.
    """

    def cancel(self, msg: object = None) -> bool:
        return False


@dataclass(slots=True)
class _Batch:
    """Events queued between two commits; their callers share one completion signal."""

    events: list[PendingEvent] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    futures: dict[asyncio.AbstractEventLoop, BatchFuture] = field(default_factory=dict)
    waiters: dict[asyncio.AbstractEventLoop, list[_Waiter]] = field(default_factory=dict)
    records: list[SealedRecord] = field(default_factory=list)
    error: BaseException | None = None
    #: Someone waits for this batch to be durable (a blocking or awaiting caller): sync now.
    awaited: bool = False


class GroupCommitter:
    """Owns the background threads that commit one trail's events."""

    def __init__(
        self,
        store: AppendStore | StagingStore,
        clock: Callable[[], datetime],
        on_result: Callable[[list[SealedRecord] | None, BaseException | None], None],
    ) -> None:
        self._clock = clock
        self._on_result = on_result
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._batch = _Batch()
        self._closed = False
        self._failing = False
        self._staged: collections.deque[tuple[_Batch, Sync] | None] = collections.deque()
        self._staged_ready = threading.Semaphore(0)
        # Protocol isinstance checks are slow: decide once which interface the store offers.
        self._stager = store if isinstance(store, StagingStore) else None
        self._appender = None if self._stager is not None else cast(AppendStore, store)
        self._threads = [threading.Thread(target=self._write_loop, name="audit-write", daemon=True)]
        if self._stager is not None:
            self._threads.append(
                threading.Thread(target=self._sync_loop, name="audit-sync", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def commit(self, event: PendingEvent) -> SealedRecord | None:
        """Queue ``event`` and block until its batch is durable; ``None`` when the store
        acknowledged it before sealing it (the S3 spool acknowledgement mode)."""
        with self._lock:
            batch = self._enqueue(event)
            batch.awaited = True
            index = len(batch.events) - 1
        batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.records[index] if batch.records else None

    def wait(self, event: PendingEvent) -> asyncio.Future[SealedRecord | None]:
        """Queue ``event`` from a running event loop; the caller's own future resolves with
        its record once durable (``None``: acknowledged before sealing, see ``commit``)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SealedRecord | None] = loop.create_future()
        with self._lock:
            batch = self._enqueue(event)
            batch.awaited = True
            batch.waiters.setdefault(loop, []).append((future, len(batch.events) - 1))
        return future

    def submit(self, event: PendingEvent, *, awaited: bool = True) -> BatchFuture:
        """Queue ``event`` from a running event loop; the future its batch shares resolves
        with the batch's records once durable.

        ``awaited=False`` says nobody waits for this record soon, so its batch may be synced
        lazily (see the module docstring); the future still resolves only once it is durable.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            batch = self._enqueue(event)
            if awaited:
                batch.awaited = True
            future = batch.futures.get(loop)
            if future is None:
                future = batch.futures[loop] = BatchFuture(loop=loop)
            return future

    def enqueue(self, event: PendingEvent) -> None:
        """Queue ``event`` with nobody waiting for it (its batch may be synced lazily)."""
        with self._lock:
            self._enqueue(event)

    def depth(self) -> int:
        """Events queued or staged and not yet durable (a racy snapshot, for metrics)."""
        staged = sum(len(item[0].events) for item in list(self._staged) if item is not None)
        return len(self._batch.events) + staged

    def close(self) -> None:
        """Commit what is queued, then stop the threads."""
        with self._lock:
            self._closed = True
        self._wake.set()
        for thread in self._threads:
            thread.join()

    def _enqueue(self, event: PendingEvent) -> _Batch:
        if self._closed:
            raise AuditStorageError("the audit trail is closed", hint="open a new trail")
        batch = self._batch
        batch.events.append(event)
        if len(batch.events) == 1:
            self._wake.set()
        return batch

    def _take(self) -> _Batch | None:
        """Wait for queued events and take them all; ``None`` once closed and drained.

        While the last commit failed, an empty batch is returned every ``PROBE_SECONDS`` even
        with nothing queued: appending nothing lets the store retry (an S3 store ships its
        spool) and lets the trail report itself healthy again without waiting for traffic.
        """
        while True:
            woken = self._wake.wait(PROBE_SECONDS if self._failing else None)
            with self._lock:
                batch = self._batch
                if batch.events or (not woken and self._failing and not self._closed):
                    self._batch = _Batch()
                    return batch
                if self._closed:
                    return None
                self._wake.clear()

    def _write_loop(self) -> None:
        while (batch := self._take()) is not None:
            try:
                if self._stager is not None:
                    batch.records, sync = self._stager.stage(batch.events, self._clock())
                    self._staged.append((batch, sync))
                    self._staged_ready.release()
                    continue
                assert self._appender is not None
                batch.records = self._appender.append(batch.events, self._clock())
            except BaseException as exc:  # every caller of the batch must hear about it
                batch.error = exc
            self._finish(batch)
        if self._stager is not None:
            self._staged.append(None)
            self._staged_ready.release()

    def _sync_loop(self) -> None:
        """Sync everything staged so far in one go: one fsync makes all of it durable.

        Taking every staged batch at once (not one per fsync) is what keeps group commit
        working when callers are threads that re-queue one by one.
        """
        while True:
            self._staged_ready.acquire()
            items = self._gather_staged([self._staged.popleft()])
            error: BaseException | None = None
            for item in items:
                if item is None:
                    continue
                try:
                    item[1]()
                except BaseException as exc:
                    error = exc
            for item in items:
                if item is not None:
                    item[0].error = item[0].error or error
                    self._finish(item[0])
            if None in items:
                return

    def _gather_staged(
        self, items: list[tuple[_Batch, Sync] | None]
    ) -> list[tuple[_Batch, Sync] | None]:
        """``items`` plus everything staged since; waits while nobody waits for any of them.

        The wait ends at the first batch someone awaits, at close, or after
        ``LAZY_SYNC_SECONDS``: background-only traffic costs one fsync per window, not one
        per batch, and an awaited batch is never held back.
        """
        deadline: float | None = None
        while True:
            while self._staged_ready.acquire(blocking=False):
                items.append(self._staged.popleft())
            if any(item is None or item[0].awaited for item in items):
                return items
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + LAZY_SYNC_SECONDS
            if now >= deadline or not self._staged_ready.acquire(timeout=deadline - now):
                return items
            items.append(self._staged.popleft())

    def _finish(self, batch: _Batch) -> None:
        self._failing = batch.error is not None
        if batch.error is not None and not isinstance(batch.error, AuditStorageError):
            logger.error("audit append failed: %r", batch.error)
        self._on_result(None if batch.error else batch.records, batch.error)
        batch.done.set()
        for loop in {*batch.futures, *batch.waiters}:
            shared, waiters = batch.futures.get(loop), batch.waiters.get(loop, [])
            try:
                loop.call_soon_threadsafe(_resolve, shared, waiters, batch.records, batch.error)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
                continue


def _resolve(
    shared: BatchFuture | None,
    waiters: list[_Waiter],
    records: list[SealedRecord],
    error: BaseException | None,
) -> None:
    """On the callers' loop: settle the batch's shared future and every waiter's own."""
    if shared is not None and not shared.done():
        if error is not None:
            shared.set_exception(error)
            # Background-only callers never look at it: that is not an "exception never
            # retrieved" bug, the failure is reported through the trail's health and log.
            shared.exception()
        else:
            shared.set_result(records)
    for future, index in waiters:
        if future.done():  # its caller was cancelled
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(records[index] if records else None)
