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

The manager also keeps the bridge's own record of each session (:class:`BridgeSession`: its
transport and the credential that opened it), from which the direct path for tool calls
(``direct.py``) answers without entering the SDK's session machinery.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

_ANSWER_WITH_JSON: ContextVar[bool] = ContextVar("mcp_bridge_answer_with_json", default=False)
#: The ASGI scope key under which the bridge notes the session a request belongs to.
SESSION_SCOPE_KEY = "mcp_bridge.session_id"


def stamp_session(scope: Any, session_id: str) -> None:
    """Note in the request's ASGI scope which session it belongs to.

    The SDK hands handlers the Starlette request built on that same scope (``ctx.request``), so
    the audit middleware learns the session from the bridge's own note instead of a private
    field of the SDK's session object.
    """
    scope[SESSION_SCOPE_KEY] = session_id


def session_of_request(request: object) -> str | None:
    """The session noted by :func:`stamp_session` in ``request``'s scope, or None (a
    2026-07-28 request, or the stdio front end, which has no HTTP request)."""
    scope = getattr(request, "scope", None)
    found = scope.get(SESSION_SCOPE_KEY) if isinstance(scope, dict) else None
    return found if isinstance(found, str) else None


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

    idle_seconds: float | None = None
    """The manager's ``session_idle_timeout`` (set when the session is admitted)."""
    busy: int = 0
    """Requests in flight on this session, the direct path's included."""
    on_terminated: Callable[[], None] | None = None

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        token = _ANSWER_WITH_JSON.set(False)
        try:
            async with super().connect() as streams:
                yield streams
        finally:
            _ANSWER_WITH_JSON.reset(token)

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """A request in flight holds the session open: the SDK's rule, kept by the bridge too.

        The SDK counts only the requests that enter :meth:`handle_request`; calls answered by
        the direct path never do, so the bridge counts every request here and has the last word
        on the idle deadline (``idle_scope`` is the transport's public idle timer): infinite while
        any request is in flight, ``idle_seconds`` after the last one ends.
        """
        timer = self.idle_scope
        self.busy += 1
        if timer is not None:
            timer.deadline = math.inf
        try:
            yield
        finally:
            self.busy -= 1
            if timer is not None and self.idle_seconds is not None:
                idle_from = anyio.current_time() + self.idle_seconds
                timer.deadline = math.inf if self.busy else idle_from

    @property
    def expired(self) -> bool:
        """Terminated, or its idle timer fired (the session is being ended)."""
        return self.is_terminated or (self.idle_scope is not None and self.idle_scope.cancel_called)

    async def handle_request(self, scope: Any, receive: Any, send: Any) -> None:
        if self.mcp_session_id is not None:
            stamp_session(scope, self.mcp_session_id)
        with self.in_use():
            await super().handle_request(scope, receive, send)

    async def terminate(self) -> None:
        await super().terminate()
        if self.on_terminated is not None:
            self.on_terminated()


@dataclass(eq=False)
class BridgeSession:
    """The bridge's own record of one session-protocol session."""

    session_id: str
    transport: SelectiveTransport
    owner: AuthorizationContext | None
    """The credential that opened it (a request with another one is not this session's)."""
    on_end: list[Callable[[], None]] = field(default_factory=list)
    """Called once when the session ends (terminated, expired, deleted, or the bridge stops)."""


class BridgeSessionManager(StreamableHTTPSessionManager):
    """See the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(json_response=False, **kwargs)
        self.sessions: dict[str, BridgeSession] = {}

    def _admit_session(self, requestor: Any) -> StreamableHTTPServerTransport | None:
        transport = super()._admit_session(requestor)
        if transport is not None and transport.mcp_session_id is not None:
            transport.__class__ = SelectiveTransport
            assert isinstance(transport, SelectiveTransport)
            session = BridgeSession(transport.mcp_session_id, transport, requestor)
            transport.idle_seconds = self.session_idle_timeout
            transport.on_terminated = lambda: self._ended(session)
            self.sessions[session.session_id] = session
        return transport

    def _ended(self, session: BridgeSession) -> None:
        if self.sessions.get(session.session_id) is session:
            del self.sessions[session.session_id]
        for callback in session.on_end:
            callback()
        session.on_end.clear()

    def open_session(self, session_id: str | None) -> BridgeSession | None:
        """The bridge's record of a live session (None: unknown, ended or ending)."""
        session = self.sessions.get(session_id) if session_id is not None else None
        return session if session is not None and not session.transport.expired else None

    def session_is_open(self, session_id: str) -> bool:
        """Whether the session can still take messages: admitted and not terminated (from the
        bridge's own records, which a session leaves when its transport is terminated)."""
        return session_id in self.sessions


__all__ = [
    "SESSION_SCOPE_KEY",
    "BridgeSession",
    "BridgeSessionManager",
    "SelectiveTransport",
    "answer_with",
    "session_of_request",
    "stamp_session",
]
