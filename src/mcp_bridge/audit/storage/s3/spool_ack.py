"""Spool acknowledgement (``AUDIT_S3_ACK=spool``): durable in the local spool, shipped after.

In the default mode (``bucket``) a record is acknowledged once its segment object is in the
Object-Locked bucket: every awaited record (a mutating call's intent) waits for a paced PUT,
tens of milliseconds. In this mode a batch is acknowledged once it is written and fsync'd to the
local spool (``AUDIT_SPOOL_PATH``), as fast as the local store; a shipper thread then seals the
spooled events after the bucket's tail and puts them. Shipping rounds start at most every
``AUDIT_S3_SHIP_INTERVAL_MS``: each PUT costs a few milliseconds of CPU in this process
(botocore) and more in the S3 server, taken from the calls being acknowledged on a small host,
so fewer, larger shipments keep that cost off them (``docs/mcp-bridge/performance.md``). A
round after a quiet spell starts at once. While S3 answers, an event reaches the bucket within
that interval plus one PUT; while it does not, events wait in the spool (durably) and the
shipper retries every ``RETRY_SECONDS``. A spool left by a killed process is adopted and shipped
by the next store started on that host (:class:`~.spool.Spool`).

Acknowledged records carry no seq yet (it is assigned when shipped, after whatever other
writers stored meanwhile), so the trail returns ``None`` for them; the checkpoint writer and
``last_durable_seq`` see records only once they are in the bucket. What this mode protects
against and what not is in ``docs/mcp-bridge/s3.md`` (Acknowledgement mode).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from ...checkpoint_store import LogEntry, StoredLine, WriteOnceCheckpoints
from ...errors import AuditStorageError
from ...sequencing import PendingEvent, SealedRecord
from .store import S3Store

logger = logging.getLogger(__name__)

#: How often the shipper retries while S3 refuses or cannot be reached.
RETRY_SECONDS = 1.0
#: Shipping lags kept for the percentile report (the most recent ones).
LAG_SAMPLES = 10_000

Shipped = Callable[[list[SealedRecord] | None, BaseException | None], None]


class SpoolAckStore:
    """An :class:`S3Store` whose appends are acknowledged from the local spool."""

    backend = "s3"

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.settings = store.settings
        self.connection = store.connection
        self._listeners: list[Shipped] = []
        self._lags: deque[float] = deque(maxlen=LAG_SAMPLES)
        self._wake = threading.Event()
        self._closing = False
        self._closed = threading.Event()  # cuts the wait between two rounds short
        self._next_round = float("-inf")
        self._failing = False
        self._ship_lock = threading.Lock()  # one shipper at a time: never ship an entry twice
        self._thread = threading.Thread(target=self._ship_loop, name="audit-ship", daemon=True)
        self._thread.start()

    def on_shipped(self, listener: Shipped) -> None:
        """Call ``listener(records, error)`` after every shipping attempt (shipper thread).

        Registering starts the first attempt: what a killed process left in the spool is
        shipped at once, and reported to the listener.
        """
        self._listeners.append(listener)
        self._wake.set()

    def stage(
        self, events: Sequence[PendingEvent], now: datetime
    ) -> tuple[list[SealedRecord], Callable[[], None]]:
        """Write ``events`` to the spool; the returned callable fsyncs them (the ack)."""
        if not events:
            return [], _nothing
        _, sync = self.store.spool.stage(events, now)
        self._wake.set()
        return [], sync

    def append(self, events: Sequence[PendingEvent], now: datetime) -> list[SealedRecord]:
        records, sync = self.stage(events, now)
        sync()
        return records

    def shipping_lags(self) -> list[float]:
        """Seconds from acceptance to the bucket of each recently shipped spool entry (one
        per acknowledged batch), oldest first."""
        return list(self._lags)

    @property
    def spooled_records(self) -> int:
        return self.store.spooled_records

    def log_size(self) -> int:
        return self.store.log_size()

    def entries_since(self, seq: int) -> Iterator[LogEntry]:
        return self.store.entries_since(seq)

    def record_lines(self, start: int, end: int) -> list[StoredLine]:
        return self.store.record_lines(start, end)

    def checkpoints(self) -> WriteOnceCheckpoints:
        return self.store.checkpoints()

    def fetch_events(self, limit: int, event_type: str | None) -> list[dict[str, Any]]:
        """The newest records in the bucket (spooled ones appear once shipped)."""
        return self.store.fetch_events(limit, event_type)

    def flush(self) -> None:
        """Ship what is spooled now, in the caller's thread (a clean stop, before the last
        checkpoint); a failure is reported to the listeners and leaves it spooled."""
        self._ship_once()

    def close(self) -> None:
        """Ship everything spooled (one last attempt), then release the store.

        Whatever S3 does not take now stays in the spool and is shipped by the next start.
        """
        self._closing = True
        self._closed.set()
        self._wake.set()
        self._thread.join()
        self.store.close()

    def _ship_loop(self) -> None:
        while True:
            self._wake.wait(RETRY_SECONDS if self._failing else None)
            self._closed.wait(self._next_round - time.monotonic())  # what comes meanwhile joins
            self._wake.clear()
            closing, started = self._closing, time.monotonic()
            if self._ship_once():  # a round that put nothing costs nothing: no spacing after it
                self._next_round = started + self.settings.ship_interval
            if closing:
                return

    def _ship_once(self) -> bool:
        """One shipping attempt; whether it stored anything in the bucket."""
        with self._ship_lock:
            return self._ship_locked()

    def _ship_locked(self) -> bool:
        try:
            records, accepted = self.store.ship_spooled()
        except AuditStorageError as exc:
            if not self._failing:
                logger.error("audit spool: shipping to S3 failed, retrying: %s", exc)
            self._failing = True
            self._tell(None, exc)
            return False
        except Exception as exc:  # a bug must not stop shipping silently
            logger.exception("audit spool: shipping failed")
            self._failing = True
            self._tell(None, exc)
            return False
        self._failing = False
        if records:
            now = datetime.now(UTC)
            self._lags.extend((now - moment).total_seconds() for moment in accepted)
            self._tell(records, None)
        return bool(records)

    def _tell(self, records: list[SealedRecord] | None, error: BaseException | None) -> None:
        for listener in self._listeners:
            listener(records, error)


def _nothing() -> None:
    """Nothing staged, nothing to sync."""


__all__ = ["SpoolAckStore"]
