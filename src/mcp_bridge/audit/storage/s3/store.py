"""S3 store (``AUDIT_STORAGE_BACKEND=s3``): one chain of write-once segment objects.

Write protocol (details and the midnight argument in ``docs/mcp-bridge/s3.md``):

1. seal the batch after the known tail (:func:`~mcp_bridge.audit.sequencing.seal_batch`);
2. claim the next segment with ``PutObject(IfNoneMatch='*')`` at ``day-of-tail/<next seq>``;
   a batch of a later day first puts an empty *forward marker* there, then claims
   ``<its day>/<next seq>``. Every object carries Object Lock (and SSE-KMS) headers;
3. on ``412`` another writer won: read what it wrote, advance the tail, re-seal, retry.

Segments are capped at ``AUDIT_S3_SEGMENT_MAX_BYTES`` (a bigger batch is split) and PUTs are
paced at least ``AUDIT_S3_SEGMENT_MAX_DELAY_MS`` apart, so under load the trail's group
commit gathers more events per object; a lone event after a quiet spell is put at once.
When S3 stays unreachable after botocore's retries, the events go to the local spool
(fsync'd) and ``append`` raises; spooled events are shipped, in order, before the next batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...checkpoint_store import LogEntry, StoredLine, WriteOnceCheckpoints
from ...errors import AuditStorageError, AuditUsageError
from ...layout import day_key
from ...records import decode_record
from ...sequencing import PendingEvent, SealedRecord, seal_batch
from .checkpoints import s3_checkpoints
from .client import (
    ClientOptions,
    S3Connection,
    StoredObject,
    WritePolicy,
    connect,
    put_once,
)
from .entries import S3Records, entries_since
from .layout import FORWARD_META, segment_key
from .spool import Spool
from .tail import Position, TailFinder

if TYPE_CHECKING:
    from ....config import AppConfig
    from .spool_ack import SpoolAckStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where and how the store writes (from ``AppConfig``)."""

    bucket: str
    prefix: str
    policy: WritePolicy
    segment_max_bytes: int = 4 * 1024 * 1024
    segment_max_delay: float = 0.05
    spool_path: Path = Path("var/audit-spool")
    #: Spool acknowledgement mode: the least time between the starts of two shipping rounds.
    ship_interval: float = 0.2


def settings_from_config(config: AppConfig) -> StoreSettings:
    if not config.audit_s3_bucket:
        raise AuditUsageError(
            "AUDIT_S3_BUCKET is not set", hint="set it to the Object Lock bucket of the trail"
        )
    return StoreSettings(
        bucket=config.audit_s3_bucket,
        prefix=config.audit_s3_prefix,
        policy=WritePolicy(
            config.audit_s3_object_lock_mode,
            config.audit_s3_object_lock_days,
            config.audit_s3_kms_key_id,
        ),
        segment_max_bytes=config.audit_s3_segment_max_bytes,
        segment_max_delay=config.audit_s3_segment_max_delay_ms / 1000,
        spool_path=Path(config.audit_spool_path),
        ship_interval=config.audit_s3_ship_interval_ms / 1000,
    )


def open_acknowledging_store(
    config: AppConfig, *, options: ClientOptions | None = None
) -> S3Store | SpoolAckStore:
    """The store a trail writes through: acknowledged by the bucket, or by the local spool
    first (``AUDIT_S3_ACK=spool``, see :mod:`.spool_ack`)."""
    store = open_s3_store(config, options=options)
    if config.audit_s3_ack == "spool":
        from .spool_ack import SpoolAckStore

        return SpoolAckStore(store)
    return store


def client_options(config: AppConfig) -> ClientOptions:
    return ClientOptions(region=config.audit_s3_region, endpoint_url=config.audit_s3_endpoint_url)


def open_s3_store(config: AppConfig, *, options: ClientOptions | None = None) -> S3Store:
    """The store ``config`` describes; S3 is first contacted by the first append."""
    settings = settings_from_config(config)
    return S3Store(settings, connect(options or client_options(config)))


class S3Store:
    """Durable appends of segment objects; safe across threads, processes and hosts."""

    backend = "s3"

    def __init__(self, settings: StoreSettings, connection: S3Connection) -> None:
        self.settings = settings
        self.connection = connection
        self._finder = TailFinder(connection, settings.bucket, settings.prefix)
        self._spool = Spool(settings.spool_path)
        self._mutex = threading.Lock()
        self._position: Position | None = None
        self._last_put = float("-inf")
        self._records = S3Records(self.connection, settings.bucket, settings.prefix)

    @property
    def spooled_records(self) -> int:
        """Events waiting in the local spool for S3 (for metrics)."""
        return self._spool.depth()

    def append(self, events: Sequence[PendingEvent], now: datetime) -> list[SealedRecord]:
        with self._mutex:
            self._pace()
            stored: list[SealedRecord] = []
            try:
                self._ship_spool()
                return self._write(list(events), now, stored) if events else []
            except AuditStorageError as exc:
                self._position = None
                unstored = list(events)[len(stored) :]
                raise self._spooled(exc, unstored, now) from exc

    def _spooled(
        self, exc: AuditStorageError, events: list[PendingEvent], now: datetime
    ) -> AuditStorageError:
        """Keep ``events`` in the spool and say so in the error the caller gets."""
        if not events:
            return exc
        path = self._spool.add(events, now)
        logger.error("audit S3 write failed; %d event(s) spooled to %s: %s", len(events), path, exc)
        return type(exc)(
            f"{exc}; {len(events)} event(s) are held durably in the spool {path} and will be "
            "shipped in order once S3 accepts writes again",
            hint=exc.hint,
        )

    @property
    def spool(self) -> Spool:
        """The local spool (the spool acknowledgement mode adds to it directly)."""
        return self._spool

    def ship_spooled(self) -> tuple[list[SealedRecord], list[datetime]]:
        """Ship what the spool holds (paced like any PUT): the records now durable in S3 and
        when each shipped spool entry had been accepted."""
        with self._mutex:
            self._pace()
            accepted: list[datetime] = []
            try:
                return self._ship_spool(accepted), accepted
            except AuditStorageError:
                self._position = None
                raise

    def _ship_spool(self, accepted: list[datetime] | None = None) -> list[SealedRecord]:
        """Every spool file's unshipped entries as one batch (one PUT while they fit a
        segment), sealed with the acceptance time of the newest of them, then marked shipped."""
        shipped: list[SealedRecord] = []
        for pending in self._spool.pending():
            shipped += self._write(pending.events, pending.accepted, [])
            self._spool.mark_shipped(pending.spool_file, len(pending.entries))
            if accepted is not None:
                accepted += [entry.accepted for entry in pending.entries]
        return shipped

    def _write(
        self, events: list[PendingEvent], now: datetime, stored: list[SealedRecord]
    ) -> list[SealedRecord]:
        """Store ``events`` as one or more segments; ``stored`` collects what is durable."""
        position = self._position or self._finder.discover()
        sealed: list[SealedRecord] = []
        while len(stored) < len(events):
            if not sealed:
                sealed = seal_batch(
                    position.tail, events[len(stored) :], _not_before(now, position)
                )
            key = segment_key(self.settings.prefix, position.day, position.next_seq)
            batch_day = sealed[0].day
            if batch_day > position.day:
                won = self._put(key, b"", sealed[-1], {FORWARD_META: day_key(batch_day)})
                if won:
                    position = Position(position.tail, batch_day)
                    continue
            else:
                chunk = self._chunk(sealed)
                body = b"".join(r.line for r in chunk)
                holder = None if self._put(key, body, chunk[-1]) else self._holder(key)
                if holder is None or holder.body == body:
                    stored.extend(chunk)
                    sealed = sealed[len(chunk) :]
                    position = Position(chunk[-1].tail, batch_day)
                    continue
                position, sealed = self._finder.advance(position, holder), []
                continue
            position, sealed = self._finder.advance(position, self._holder(key)), []
        self._position = position
        return stored

    def _holder(self, key: str) -> StoredObject:
        """The object that made our conditional put on ``key`` fail.

        It may be our own: a PUT whose response was lost lands, and botocore's retry of it is
        then refused. The caller compares bodies (event ids are random, so equal bytes can only
        be ours) and otherwise moves past what the other writer stored.
        """
        obj = self._finder.read(key)
        if obj is None:
            raise AuditStorageError(
                f"s3://{self.settings.bucket}/{key} exists (conditional put refused) but cannot "
                "be read; a delete marker may hide it",
                hint="run `python -m mcp_bridge.audit.verify` on the bucket and check its versions",
            )
        return obj

    def _chunk(self, sealed: list[SealedRecord]) -> list[SealedRecord]:
        """The longest prefix of ``sealed`` that fits one segment (at least one record)."""
        size = 0
        for index, record in enumerate(sealed):
            size += len(record.line)
            if size > self.settings.segment_max_bytes and index > 0:
                return sealed[:index]
        return sealed

    def _put(
        self, key: str, body: bytes, newest: SealedRecord, metadata: dict[str, str] | None = None
    ) -> bool:
        self._last_put = time.monotonic()
        moment = datetime.fromisoformat(newest.timestamp)
        return put_once(
            self.connection,
            self.settings.bucket,
            key,
            body,
            policy=self.settings.policy,
            newest=moment,
            metadata=metadata,
        )

    def _pace(self) -> None:
        """Space PUTs ``segment_max_delay`` apart so a busy trail writes fewer, larger objects."""
        wait = self._last_put + self.settings.segment_max_delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def log_size(self) -> int:
        """How many records the log holds now (newest segment, then a walk forward)."""
        return self._finder.discover().tail.next_seq

    def entries_since(self, seq: int) -> Iterator[LogEntry]:
        return entries_since(self._finder, self.settings.prefix, seq)

    def record_lines(self, start: int, end: int) -> list[StoredLine]:
        return self._records.record_lines(start, end)

    def checkpoints(self) -> WriteOnceCheckpoints:
        """Checkpoints and tiles beside this log (``prefix/_checkpoints/``, ``prefix/_tiles/``)."""
        settings = self.settings
        return s3_checkpoints(self.connection, settings.bucket, settings.prefix, settings.policy)

    def fetch_events(self, limit: int, event_type: str | None) -> list[dict[str, Any]]:
        """The newest ``limit`` records (optionally of one type), oldest first."""
        found: list[dict[str, Any]] = []
        for record in self._newest_records():
            if event_type is None or record.get("eventType") == event_type:
                found.append(record)
                if len(found) >= limit:
                    break
        return found[::-1]

    def _newest_records(self) -> Iterator[dict[str, Any]]:
        for key in self._finder.keys_newest_first():
            obj = self._finder.read(key)
            if obj is None:
                continue
            for line in reversed(obj.body.splitlines()):
                try:
                    yield decode_record(line)
                except ValueError:
                    continue

    def close(self) -> None:
        with self._mutex:
            self._spool.close()
            self.connection.client.close()


def _not_before(now: datetime, position: Position) -> datetime:
    """``now``, or midnight of the claim day when another writer already moved on to it.

    A writer whose clock is still on the previous day must not write into a later day's
    folder with yesterday's timestamp; like ``seal_batch``'s tail rule, time never goes back.
    """
    midnight = datetime.combine(position.day, datetime.min.time(), UTC)
    return max(now, midnight)


__all__ = ["S3Store", "StoreSettings", "open_s3_store"]
