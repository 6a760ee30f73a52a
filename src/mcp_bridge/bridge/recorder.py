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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mcp_types import methods as spec_methods

from mcp_bridge.audit import AuditTrail

from .capture import Capture

logger = logging.getLogger(__name__)

TOOL_CALL_INTENT = "mcp.tools.call.intent"
TRANSPORT_REJECTED = "mcp.transport.rejected"
SESSION_DELETED = "mcp.session.deleted"
AUTH_DENIED = "auth.denied"
UNKNOWN_METHOD = "mcp.unknown_method"

_KNOWN_METHODS = spec_methods.SPEC_CLIENT_METHODS | spec_methods.SPEC_CLIENT_NOTIFICATION_METHODS


def event_type_for(method: str) -> str:
    """``mcp.tools.call`` for ``tools/call``; client-chosen strings never become event types."""
    if method in _KNOWN_METHODS:
        return "mcp." + method.replace("/", ".")
    return UNKNOWN_METHOD


class Recorder:
    """The trail plus the capture policy: everything needed to write one bridge event."""

    def __init__(self, trail: AuditTrail, capture: Capture) -> None:
        self.trail = trail
        self.capture = capture

    @property
    def enabled(self) -> bool:
        return self.trail.enabled

    async def durable(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """Record and wait until durable; raises ``AuditError`` when it cannot be."""
        await self.trail.arecord_event(event_type, payload, durable=True)

    async def background(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """Record without waiting for durability (the trail reports failures via its health).

        Queuing itself can fail (e.g. a payload the trail rejects); that is logged, never raised,
        so an observation can never break the operation it observes.
        """
        try:
            await self.trail.arecord_event(event_type, payload, durable=False)
        except Exception:
            logger.exception("could not queue audit event %s", event_type)


__all__ = [
    "AUTH_DENIED",
    "SESSION_DELETED",
    "TOOL_CALL_INTENT",
    "TRANSPORT_REJECTED",
    "UNKNOWN_METHOD",
    "Recorder",
    "event_type_for",
]
