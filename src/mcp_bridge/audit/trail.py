"""The audit trail callers use: ``record_event`` / ``arecord_event`` over any storage driver.

``AuditTrail`` adds what every backend shares (enablement, health, group commit, the public
API of the original ``mcp_bridge.audit``); the driver decides where records go.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .checkpointing import CheckpointPlan, CheckpointScheduler
from .committer import BatchFuture, GroupCommitter
from .errors import AuditCorruptionError
from .sequencing import PendingEvent, SealedRecord

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from ..config import AppConfig

logger = logging.getLogger(__name__)


@runtime_checkable
class ShippingStore(Protocol):
    """A store that acknowledges records before they reach its backend and ships them later."""

    def on_shipped(
        self, listener: Callable[[list[SealedRecord] | None, BaseException | None], None]
    ) -> None: ...

    def flush(self) -> None:
        """Ship what is held now (before the last checkpoint of a clean stop)."""
        ...


class AuditStore(Protocol):
    """A storage driver: durable, sequenced appends plus reads of recent records."""

    backend: str

    def append(self, events: Sequence[PendingEvent], now: datetime) -> list[SealedRecord]: ...

    def fetch_events(self, limit: int, event_type: str | None) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    """Append-only, hash-chained audit trail.

    ``record_event`` returns only once the record is durable in the store. With
    ``enabled=False`` nothing is written and ``record_event`` returns ``None``.
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        enabled: bool = True,
        clock: Callable[[], datetime] = utc_now,
        checkpoints: CheckpointPlan | None = None,
    ) -> None:
        self._store = store
        self._enabled = enabled
        self._healthy = True
        self._last_error: str | None = None
        self._shipping_error: str | None = None
        self._last_durable_seq: int | None = None
        self._fatal: BaseException | None = None
        self._state_lock = threading.Lock()
        self._batch_listeners: list[Callable[[int, bool], None]] = []
        self._committer = GroupCommitter(store, clock, self._note_result) if enabled else None
        self._checkpoints = (
            CheckpointScheduler(checkpoints, append=self._append, on_fatal=self._fail_closed)
            if enabled and checkpoints is not None
            else None
        )
        if enabled and isinstance(store, ShippingStore):
            store.on_shipped(self._note_shipped)

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def backend(self) -> str:
        return self._store.backend

    @property
    def healthy(self) -> bool:
        """False after a failed append until an append succeeds again (for good once
        checkpointing found the log contradicting a signed checkpoint)."""
        return self._healthy and self._fatal is None

    @property
    def checkpoints(self) -> CheckpointScheduler | None:
        """The checkpoint publisher (``None`` without ``AUDIT_SIGNING_KEY``)."""
        return self._checkpoints

    @property
    def last_error(self) -> str | None:
        """The last append's error, else the last shipping error of a spooling store (each
        cleared by the next success of its kind)."""
        return self._last_error or self._shipping_error

    @property
    def last_durable_seq(self) -> int | None:
        return self._last_durable_seq

    @property
    def queued_records(self) -> int:
        """Records handed to the writer and not yet durable (for metrics)."""
        return self._committer.depth() if self._committer is not None else 0

    @property
    def spooled_records(self) -> int | None:
        """Records the store holds locally until its backend takes them (``None``: no spool)."""
        depth = getattr(self._store, "spooled_records", None)
        return depth if isinstance(depth, int) else None

    def on_batch(self, listener: Callable[[int, bool], None]) -> None:
        """Call ``listener(records, failed)`` after every committed batch (from the writer
        thread: it must be cheap and thread-safe; metrics use it for batch sizes)."""
        self._batch_listeners.append(listener)

    def record_event(self, event_type: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """Append one event and return the stored record once it is durable.

        ``None`` with a store that acknowledges before sealing (``AUDIT_S3_ACK=spool``: the
        record is durable in the local spool; its seq is assigned when it is shipped).
        """
        if self._committer is None:
            return None
        self._refuse_if_failed()
        record = self._committer.commit(PendingEvent.create(event_type, payload))
        return None if record is None else record.as_dict()

    async def arecord_event(
        self, event_type: str, payload: Mapping[str, Any], *, durable: bool = True
    ) -> dict[str, Any] | None:
        """Async ``record_event``; with ``durable=False`` it queues and returns ``None`` at once.

        This is the fast way in: a batch's awaiting callers are woken by one cross-thread
        callback, and a non-durable record costs no future at all. A non-durable record is
        still sequenced and written with the next batch, and synced within
        ``LAZY_SYNC_SECONDS`` (see :mod:`.committer`); a failure shows in ``healthy`` and the
        log rather than in the caller. A cancelled caller stops waiting at once; its record was
        accepted and is written all the same.
        """
        if self._committer is None:
            return None
        self._refuse_if_failed()
        event = PendingEvent.create(event_type, payload)
        if not durable:
            self._committer.enqueue(event)
            return None
        record = await self._committer.wait(event)
        return None if record is None else record.as_dict()  # None: acknowledged unsealed

    def submit_event(
        self, event_type: str, payload: Mapping[str, Any], *, awaited: bool = True
    ) -> BatchFuture | None:
        """Queue one event with the next batch at once; the future of its batch resolves with
        the batch's records (or its error) once durable.

        For callers that must not wait but must learn whether the record made it (the bridge
        keeps a record whose batch failed and writes it after the store recovers). With
        ``awaited=False`` the batch may be synced lazily (nobody is held up by it).
        """
        if self._committer is None:
            return None
        self._refuse_if_failed()
        return self._committer.submit(PendingEvent.create(event_type, payload), awaited=awaited)

    def fetch_events(self, limit: int = 100, event_type: str | None = None) -> list[dict[str, Any]]:
        """The most recent ``limit`` records (optionally of one type), oldest first."""
        return self._store.fetch_events(limit, event_type)

    def close(self) -> None:
        """Flush queued events and release the store."""
        if self._committer is not None:
            self._committer.close()
            self._committer = None
        if isinstance(self._store, ShippingStore):
            self._store.flush()
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None
        self._store.close()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _note_result(self, records: list[SealedRecord] | None, error: BaseException | None) -> None:
        with self._state_lock:
            if error is not None:
                self._healthy = False
                self._last_error = str(error)
            else:
                self._healthy = True
                self._last_error = None
                if records:
                    self._last_durable_seq = records[-1].seq
        for listener in self._batch_listeners:
            listener(len(records or ()), error is not None)
        if records and self._checkpoints is not None:
            self._checkpoints.records_durable(records)

    def _note_shipped(
        self, records: list[SealedRecord] | None, error: BaseException | None
    ) -> None:
        """A store acknowledging from its spool shipped (or failed to ship) to its backend.

        Acknowledgements keep working meanwhile, so a shipping failure is reported in
        ``last_error`` without refusing records; shipped records count as durable from here
        (``last_durable_seq``, checkpoints).
        """
        with self._state_lock:
            if error is not None:
                self._shipping_error = f"shipping the spool: {error}"
                return
            self._shipping_error = None
            if records:
                self._last_durable_seq = records[-1].seq
        if records and self._checkpoints is not None:
            self._checkpoints.records_durable(records)

    def _append(self, event_type: str, payload: Mapping[str, Any]) -> object:
        """A record of the trail itself (the checkpoint heartbeat), bypassing the refusal."""
        assert self._committer is not None
        return self._committer.commit(PendingEvent.create(event_type, payload))

    def _fail_closed(self, error: BaseException) -> None:
        with self._state_lock:
            self._fatal = error
            self._last_error = str(error)

    def _refuse_if_failed(self) -> None:
        if self._fatal is not None:
            raise AuditCorruptionError(
                f"the audit trail refuses new records: {self._fatal}",
                hint=AuditCorruptionError.hint,
            )


class LocalAuditTrail(AuditTrail):
    """The trail on local JSONL files (``AUDIT_STORAGE_PATH/YYYY/MM/DD.jsonl``)."""

    def __init__(
        self,
        storage_dir: Path | str,
        *,
        enabled: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        from .storage.local.store import LocalStore

        super().__init__(LocalStore(storage_dir, create=enabled), enabled=enabled, clock=clock)


def open_audit_trail(config: AppConfig, *, clock: Callable[[], datetime] = utc_now) -> AuditTrail:
    """The trail the configuration asks for (``AUDIT_STORAGE_BACKEND``).

    With ``AUDIT_SIGNING_KEY`` the store is first checked against its newest checkpoint (see
    :mod:`.checkpoint_setup`); a log shorter than a signed checkpoint raises
    :class:`~.errors.AuditCorruptionError` and no trail is opened.
    """
    if not config.checkpoints_enabled and config.audit_storage_backend == "local":
        return LocalAuditTrail(config.audit_storage_path, enabled=config.audit_enabled, clock=clock)
    from .checkpoint_setup import CheckpointedLog, open_checkpoints

    store: CheckpointedLog
    if config.audit_storage_backend == "s3":
        from .storage.s3.store import open_acknowledging_store

        store = open_acknowledging_store(config)
    else:
        from .storage.local.store import LocalStore

        store = LocalStore(config.audit_storage_path)
    try:
        plan = open_checkpoints(config, store, clock)
    except BaseException:
        store.close()
        raise
    return AuditTrail(store, enabled=config.audit_enabled, clock=clock, checkpoints=plan)
