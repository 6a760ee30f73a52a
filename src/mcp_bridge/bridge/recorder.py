"""Writing bridge events to the audit trail: the event namespace and the shared payload fields.

Namespace (documented in docs/mcp-bridge/bridge.md):

* ``mcp.<method with / replaced by .>`` for every MCP request or notification, e.g.
  ``mcp.initialize``, ``mcp.tools.list``, ``mcp.tools.call``, ``mcp.server.discover``,
  ``mcp.notifications.initialized``; ``mcp.unknown_method`` for methods outside the spec.
* ``mcp.tools.call.intent``: the durable record written before a mutating call is forwarded.
* ``mcp.transport.rejected``: requests refused before they became an MCP message (oversized or
  malformed body, unknown session, wrong content type, …).
* ``mcp.session.deleted``: a client ended its session (HTTP DELETE).
* ``auth.denied``: a request without valid credentials.
* ``bridge.started`` / ``bridge.stopped``, ``upstream.connected`` / ``upstream.disconnected``.
* ``trail.outage``: written after the trail recovered from an outage (see ``outage.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from mcp_types import methods as spec_methods

from mcp_bridge.audit import AuditTrail

from .capture import Capture
from .outage import Outage, utc_timestamp

if TYPE_CHECKING:
    from .telemetry import AuditWatch, Telemetry

logger = logging.getLogger(__name__)

TOOL_CALL_INTENT = "mcp.tools.call.intent"
TRANSPORT_REJECTED = "mcp.transport.rejected"
SESSION_DELETED = "mcp.session.deleted"
AUTH_DENIED = "auth.denied"
UNKNOWN_METHOD = "mcp.unknown_method"

_REJECTIONS = frozenset({AUTH_DENIED, TRANSPORT_REJECTED})
"""Refusals before MCP, counted by the metrics as they are recorded."""

_KNOWN_METHODS = spec_methods.SPEC_CLIENT_METHODS | spec_methods.SPEC_CLIENT_NOTIFICATION_METHODS


def event_type_for(method: str) -> str:
    """``mcp.tools.call`` for ``tools/call``; client-chosen strings never become event types."""
    if method in _KNOWN_METHODS:
        return "mcp." + method.replace("/", ".")
    return UNKNOWN_METHOD


class Recorder:
    """The trail plus the capture policy: everything needed to write one bridge event."""

    def __init__(
        self,
        trail: AuditTrail,
        capture: Capture,
        outage: Outage | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.trail = trail
        self.capture = capture
        self.outage = outage or Outage()
        self.telemetry = telemetry

    @property
    def enabled(self) -> bool:
        return self.trail.enabled

    async def durable(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """Record and wait until durable; raises ``AuditError`` when it cannot be."""
        watch = self._watch(event_type, durable=True)
        if watch is None:
            await self.trail.arecord_event(event_type, payload, durable=True)
            return
        try:
            record = await self.trail.arecord_event(event_type, payload, durable=True)
        except BaseException as exc:
            watch.done(None, exc)
            raise
        watch.done(record["seq"] if record else None, None)

    async def background(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """Record without waiting for durability; never raises.

        The record is queued with the next batch. If that batch fails, or the trail is already
        known to be down, the record is held by :class:`Outage` and written after recovery, so
        an operation answered before its record was durable is still not lost.
        """
        if event_type in _REJECTIONS and self.telemetry is not None:
            self.telemetry.rejected(event_type, payload)
        if not self.trail.enabled:
            return
        if self.outage.active:
            self.outage.hold(event_type, payload, utc_timestamp())
            return
        observed_at = time.time()  # formatted only if the record has to be held
        try:
            future = self.trail.submit_event(event_type, payload, awaited=False)
        except Exception:
            logger.exception("could not queue audit event %s", event_type)
            return
        if future is not None:
            watch = self._watch(event_type, durable=False)
            settled = partial(self._settled, event_type, payload, observed_at, watch)
            future.add_done_callback(settled)

    def _settled(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        observed_at: float,
        watch: AuditWatch | None,
        future: asyncio.Future[Any],
    ) -> None:
        """A background record's batch finished; keep the record if the batch failed."""
        error = _why(future) if future.cancelled() or future.exception() is not None else None
        if watch is not None:
            watch.done(None, error)
        if error is not None:
            logger.warning("audit record %s not written yet (%s); holding it", event_type, error)
            self.outage.hold(event_type, payload, utc_timestamp(observed_at))

    def _watch(self, event_type: str, durable: bool) -> AuditWatch | None:
        telemetry = self.telemetry
        return None if telemetry is None else telemetry.audit_started(event_type, durable)

    async def recover(self) -> None:
        """Background task: write held records once the trail takes writes again."""
        await self.outage.recover(self.durable)


def _why(future: asyncio.Future[Any]) -> BaseException:
    if future.cancelled():
        return asyncio.CancelledError("cancelled")
    error = future.exception()
    assert error is not None
    return error


__all__ = [
    "AUTH_DENIED",
    "SESSION_DELETED",
    "TOOL_CALL_INTENT",
    "TRANSPORT_REJECTED",
    "UNKNOWN_METHOD",
    "Recorder",
    "event_type_for",
]
