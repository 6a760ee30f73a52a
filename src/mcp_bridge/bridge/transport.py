"""The SDK's streamable-HTTP session manager, with the bridge's choice of JSON or SSE answers.

2026-07-28 requests take the SDK's SSE-capable path: it answers with one JSON body when the
handler sends nothing before its result (the common case, no stream cost) and switches to an
SSE stream when something is sent first (progress, log messages); it also cancels the handler
when the client drops the connection, which is how a 2026-07-28 client cancels a call.

Session-protocol (``initialize``) transports commit to JSON or SSE before the handler runs, and
an SSE stream costs about 1.8 ms per call. So the gate decides per POST (:func:`answer_with`):
an SSE stream only for a request that can receive something while it runs (it carries a
progress token, or it is a call from a client that declared sampling, elicitation or roots),
one JSON body otherwise. The handlers send request-scoped messages only on streamed requests
(``Exchange.streamed``), since a JSON answer has room for the response alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

_ANSWER_WITH_JSON: ContextVar[bool] = ContextVar("mcp_bridge_answer_with_json", default=False)


def answer_with(*, json: bool) -> None:
    """Set, for the current HTTP request's task, whether its answer is one JSON body."""
    _ANSWER_WITH_JSON.set(json)


class SelectiveTransport(StreamableHTTPServerTransport):
    """A session transport whose JSON-or-SSE choice is made per request by the gate.

    The SDK reads ``is_json_response_enabled`` while handling a POST (in that request's task,
    where the gate set the choice) and in its message router (its own task, where the choice
    is "stream": request-scoped messages are routed to their request's stream, which exists
    because the bridge only sends them on streamed requests).
    """

    @property
    def is_json_response_enabled(self) -> bool:
        return _ANSWER_WITH_JSON.get()

    @is_json_response_enabled.setter
    def is_json_response_enabled(self, value: bool) -> None:
        """Ignored: the SDK sets the manager-wide default, the gate decides per request."""

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        token = _ANSWER_WITH_JSON.set(False)
        try:
            async with super().connect() as streams:
                yield streams
        finally:
            _ANSWER_WITH_JSON.reset(token)


class BridgeSessionManager(StreamableHTTPSessionManager):
    """See the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(json_response=False, **kwargs)

    def _admit_session(self, requestor: Any) -> StreamableHTTPServerTransport | None:
        transport = super()._admit_session(requestor)
        if transport is not None:
            transport.__class__ = SelectiveTransport
        return transport

    def session_is_open(self, session_id: str) -> bool:
        return session_id in self._server_instances


__all__ = ["BridgeSessionManager", "SelectiveTransport", "answer_with"]
