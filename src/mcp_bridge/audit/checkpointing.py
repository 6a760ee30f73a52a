"""When checkpoints are published: on the interval, on a clean shutdown, and as a heartbeat.

One background thread (``audit-checkpoint``) owns the :class:`~.tree_writer.TreeWriter`.
Records never wait for it: the trail hands it each durable batch with one ``deque.append``
(and one wake-up when the first batch after a quiet spell arrives). The thread

* publishes a checkpoint at most every ``interval`` seconds while records arrive, covering
  every record durable by then (its own from memory; other writers' read from the log);
* when nothing arrived for ``heartbeat`` seconds and no other writer published meanwhile,
  appends a ``chain.heartbeat`` record and publishes a checkpoint covering it, so a quiet
  period is proven by a signed record instead of looking like deleted ones;
* publishes a last checkpoint when the trail is closed.

A storage failure is logged and retried at the next interval. A contradiction (two roots for
one size, a record that does not continue the chain) stops checkpointing and is reported to
the trail, which then refuses new records (fails closed).
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import AuditCorruptionError, AuditStorageError
from .sequencing import SealedRecord
from .tree_writer import TreeWriter

if TYPE_CHECKING:
    from .witness.attest import Attestors

logger = logging.getLogger(__name__)

HEARTBEAT_EVENT = "chain.heartbeat"
#: On close, how long the last checkpoint may wait for its cosignatures and timestamp.
ATTEST_SHUTDOWN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CheckpointPlan:
    """A resumed tree and the schedule to publish it on (from ``AppConfig``)."""

    tree: TreeWriter
    interval: float
    heartbeat: float
    attestors: Attestors | None = None  # witnesses and TSA (issue 12)


class CheckpointScheduler:
    """Publishes one trail's checkpoints from a background thread."""

    def __init__(
        self,
        plan: CheckpointPlan,
        *,
        append: Callable[[str, Mapping[str, Any]], object],
        on_fatal: Callable[[BaseException], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tree = plan.tree
        self._interval = plan.interval
        self._heartbeat = plan.heartbeat
        self._append = append
        self.attestors = plan.attestors
        self._on_fatal = on_fatal
        self._monotonic = monotonic
        self._batches: collections.deque[list[SealedRecord]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._pending = plan.tree.size > plan.tree.published  # records left uncovered
        now = monotonic()
        self._last_publish = now - plan.interval
        self._last_activity = now
        self.published = 0
        self.published_at: float | None = None
        """``monotonic()`` of this writer's last published checkpoint (for metrics)."""
        self.heartbeats = 0
        self._thread = threading.Thread(target=self._run, name="audit-checkpoint", daemon=True)
        self._thread.start()

    def records_durable(self, records: list[SealedRecord]) -> None:
        """Called by the trail for every durable batch: cheap, never blocks on checkpointing."""
        self._batches.append(records)
        if not self._pending:
            self._pending = True
            self._wake.set()

    def seconds_since_published(self) -> float | None:
        """Age of this writer's newest checkpoint (``None`` before its first), for metrics."""
        return None if self.published_at is None else self._monotonic() - self.published_at

    def close(self) -> None:
        """Publish what is not covered yet, then stop the thread."""
        self._stopping = True
        self._wake.set()
        self._thread.join()
        if self.attestors is not None:
            self.attestors.wait_idle(ATTEST_SHUTDOWN_SECONDS)
            self.attestors.close()

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._wake.wait(max(0.0, self._next_due() - self._monotonic()))
                self._wake.clear()
                now = self._monotonic()
                if self._stopping:
                    break
                if self._pending and now >= self._last_publish + self._interval:
                    self._publish(now)
                elif not self._pending and now >= self._last_activity + self._heartbeat:
                    self._beat(now)
            self._publish(self._monotonic())
        except AuditCorruptionError as exc:
            logger.error("audit checkpoints stopped, the trail refuses new records: %s", exc)
            self._on_fatal(exc)
        except Exception as exc:  # a bug must not pass silently: fail closed as well
            logger.exception("audit checkpoint thread failed")
            self._on_fatal(exc)

    def _next_due(self) -> float:
        if self._pending:
            return self._last_publish + self._interval
        return self._last_activity + self._heartbeat

    def _publish(self, now: float) -> None:
        """Cover every durable record with a checkpoint; retry later if storage fails."""
        self._pending = False
        self._last_publish = self._last_activity = now
        batches = [self._batches.popleft() for _ in range(len(self._batches))]
        try:
            others = self._tree.newer_elsewhere()
            if not self._tree.extend(itertools.chain.from_iterable(batches), others):
                self._tree.catch_up(others)
            if others and others[-1] > self._tree.size:
                self._tree.catch_up(others)
            if self._tree.publish():
                self.published += 1
                self.published_at = self._monotonic()
                self._attest()
        except AuditCorruptionError:
            raise
        except AuditStorageError as exc:
            logger.error("audit checkpoint not published, retrying in %gs: %s", self._interval, exc)
            self._pending = True

    def _attest(self) -> None:
        """Hand the new checkpoint to the witnesses and the TSA (background; never blocks)."""
        note = self._tree.last_note
        if self.attestors is not None and note is not None:
            self.attestors.submit(note, self._tree.published)

    def _beat(self, now: float) -> None:
        """Prove a quiet period: a heartbeat record and a checkpoint covering it.

        Skipped when another writer published meanwhile (its checkpoint proves the same).
        """
        self._last_activity = now
        try:
            if self._tree.newer_elsewhere():
                self._publish(now)
                return
            self._append(
                HEARTBEAT_EVENT,
                {
                    "idleSeconds": self._heartbeat,
                    "treeSize": self._tree.size,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                },
            )
        except AuditCorruptionError:
            raise
        except AuditStorageError as exc:
            logger.error("audit heartbeat not written, retrying in %gs: %s", self._interval, exc)
            self._last_activity = now - self._heartbeat + self._interval
            return
        self.heartbeats += 1
        self._publish(now)
