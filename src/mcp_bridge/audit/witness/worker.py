"""A background worker that always works on the newest item it was given, retrying with backoff.

Used by the writer's witness and timestamp submitters: ``offer`` never blocks (the records
path must not wait for a slow witness); a newer item replaces an older one still pending,
because cosigning or timestamping the newest checkpoint also covers every earlier one (the
log only grows, and consistency is checked).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: ``first`` seconds, doubling up to ``most``."""

    first: float = 1.0
    most: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.most, self.first * 2 ** max(failures - 1, 0)))


@dataclass(frozen=True, slots=True)
class Item:
    size: int
    note: bytes


class LatestWorker:
    """One daemon thread running ``handle(item)`` on the newest offered item until it succeeds.

    ``handle`` returns normally when done and raises to ask for a retry after a backoff.
    """

    def __init__(self, name: str, handle: Callable[[Item], None], backoff: Backoff) -> None:
        self.name = name
        self._handle = handle
        self._backoff = backoff
        self._wake = threading.Condition()
        self._pending: Item | None = None
        self._busy = False
        self._closed = False
        self.failures = 0  # since the last success: drives the backoff
        self.failures_total = 0  # since start, never reset: a Prometheus counter
        self.last_error: str | None = None
        self.last_success: float | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def offer(self, item: Item) -> None:
        with self._wake:
            if self._pending is None or item.size >= self._pending.size:
                self._pending = item
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                item, self._pending, self._busy = self._pending, None, True
            assert item is not None
            self._attempt(item)

    def _attempt(self, item: Item) -> None:
        try:
            self._handle(item)
        except Exception as exc:  # any failure is retried; the writer never stops for it
            self.failures += 1
            self.failures_total += 1
            self.last_error = str(exc) or type(exc).__name__
            logger.warning("%s: size %d not done (%s); retrying", self.name, item.size, exc)
            with self._wake:
                if self._pending is None:
                    self._pending = item
                self._busy = False
                self._wake.wait(self._backoff.delay(self.failures))
                self._wake.notify_all()
            return
        with self._wake:
            self.failures, self.last_error, self.last_success = 0, None, time.time()
            self._busy = False
            self._wake.notify_all()

    def idle(self) -> bool:
        with self._wake:
            return self._pending is None and not self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is pending (for clean shutdown and tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._pending is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(min(left, 0.1))
            return True

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout=5)
