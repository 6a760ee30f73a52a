"""Records the trail could not take yet: held in a bounded buffer and written once it recovers.

A read-only operation is answered without waiting for its record to be durable (that would cost
an fsync per listing). When the batch holding that record fails, the record is not dropped: it is
kept here, in memory, and written when the store accepts writes again, marked ``delayed`` with
the time it was observed. While the trail is down every new record goes straight to this buffer.

The buffer is bounded (``BRIDGE_OUTAGE_BUFFER_RECORDS``). Before a read-only request is served
during an outage the middleware asks :meth:`Outage.admit`; once the buffer (plus the slots
promised to requests still running) is full, requests are refused instead of being served
unrecorded. After recovery a ``trail.outage`` record names when the outage started and ended and
how many records were delayed, how many operations were refused and how many records were lost
(only possible when more records failed in one batch than the buffer had room for, or when the
process stops while the trail is still down; both are also logged).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

logger = logging.getLogger(__name__)

TRAIL_OUTAGE = "trail.outage"
DEFAULT_BUFFER_RECORDS = 10_000

_FIRST_RETRY = 0.1
_MAX_RETRY = 2.0

Writer = Callable[[str, Mapping[str, Any]], Awaitable[None]]
"""Writes one record durably; raises when the trail cannot take it."""


def utc_timestamp(at: float | None = None) -> str:
    """``at`` (``time.time()``, default now) as ISO 8601 UTC with milliseconds."""
    moment = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Held:
    event_type: str
    payload: dict[str, Any]


@dataclass
class Outage:
    """The held records and the counters of the outage in progress (if any)."""

    limit: int = DEFAULT_BUFFER_RECORDS
    started_at: str | None = None
    held: list[_Held] = field(default_factory=list)
    reserved: int = 0
    delayed: int = 0
    refused: int = 0
    lost: int = 0
    _wake: anyio.Event = field(default_factory=anyio.Event)

    @property
    def active(self) -> bool:
        return self.started_at is not None

    def begin(self) -> None:
        if self.started_at is None:
            self.started_at = utc_timestamp()
            logger.error("audit trail down: holding up to %d records until it recovers", self.limit)
        self._wake.set()

    def admit(self) -> bool:
        """Promise room for one more operation's record; False (and counted) when full."""
        if not self.active:
            return True
        if len(self.held) + self.reserved >= self.limit:
            self.refused += 1
            return False
        self.reserved += 1
        return True

    def release(self) -> None:
        """The operation admitted by :meth:`admit` has handed its record over (or has none)."""
        self.reserved = max(0, self.reserved - 1)

    def hold(self, event_type: str, payload: Mapping[str, Any], observed_at: str) -> None:
        """Keep a record for later; counted as lost (and logged) when there is no room."""
        self.begin()
        if len(self.held) >= self.limit:
            self.lost += 1
            logger.error("audit buffer full: record %s lost", event_type)
            return
        held = {**payload, "delayed": True, "observedAt": observed_at}
        self.held.append(_Held(event_type, held))

    def status(self) -> dict[str, Any]:
        """For ``/health``: whether records are being held and how many."""
        return {"active": self.active, "startedAt": self.started_at, "held": len(self.held)}

    async def recover(self, write: Writer) -> None:
        """Until cancelled: when an outage is on, retry writing the held records in order."""
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            delay = _FIRST_RETRY
            while self.active:
                if await self._flush(write):
                    break
                await anyio.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY)

    async def _flush(self, write: Writer) -> bool:
        while self.held:
            first = self.held[0]
            try:
                await write(first.event_type, first.payload)
            except Exception as exc:
                logger.debug("audit trail still down: %s", exc)
                return False
            self.held.pop(0)
            self.delayed += 1
        summary = {
            "startedAt": self.started_at,
            "endedAt": utc_timestamp(),
            "delayed": self.delayed,
            "refused": self.refused,
            "lost": self.lost,
            "bufferRecords": self.limit,
        }
        try:
            await write(TRAIL_OUTAGE, summary)
        except Exception:
            return False
        logger.warning("audit trail recovered: %s", summary)
        self.started_at = None
        self.delayed = self.refused = self.lost = 0
        return True

    def abandon(self) -> None:
        """At shutdown: say how many held records could not be written."""
        if self.held:
            logger.error(
                "stopping with the audit trail down: %d held records were never written",
                len(self.held),
            )


__all__ = ["DEFAULT_BUFFER_RECORDS", "TRAIL_OUTAGE", "Outage", "utc_timestamp"]
