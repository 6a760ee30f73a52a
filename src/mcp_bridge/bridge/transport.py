"""The SDK's streamable-HTTP session manager, with the bridge's choice of JSON or SSE answers.

2026-07-28 requests take the SDK's SSE-capable path: it answers with one JSON body when the
handler sends nothing before its result (the common case, no stream cost) and switches to an
SSE stream when something is sent first (progress, log messages); it also cancels the handler
when the client drops the connection, which is how a 2026-07-28 client cancels a call.

Session-protocol (``initialize``) requests are answered with one JSON body per POST: those
transports commit to JSON or SSE before the handler runs, and SSE costs about 1.8 ms per call.
"""

from __future__ import annotations

from typing import Any

from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager


class BridgeSessionManager(StreamableHTTPSessionManager):
    """See the module docstring; ``json_response`` is fixed to the bridge's choice."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(json_response=False, **kwargs)

    def _admit_session(self, requestor: Any) -> StreamableHTTPServerTransport | None:
        transport = super()._admit_session(requestor)
        if transport is not None:
            transport.is_json_response_enabled = True
        return transport

    def session_is_open(self, session_id: str) -> bool:
        return session_id in self._server_instances


__all__ = ["BridgeSessionManager"]
