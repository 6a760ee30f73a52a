"""Messages that are not a client request and its answer: the bridge's relay in both directions.

Each upstream is one connection shared by every client of the bridge, so the relay decides who
gets what an upstream sends outside a plain answer:

* **List-changed notifications** go to every open session-protocol session (they carry nothing
  but "the list changed").
* **``notifications/resources/updated``** goes to the sessions that subscribed to that resource
  (``resources/subscribe`` is forwarded upstream once, and unsubscribed when the last subscriber
  leaves), with the URI rewritten to the bridge's scheme.
* **``notifications/message``** (logs) goes to the sessions that asked for logs with
  ``logging/setLevel``, at or above their level, with ``logger`` prefixed by the upstream name.
  The upstream is asked for the lowest level any session asked for.
* **Server-to-client requests** (``sampling/createMessage``, ``elicitation/create``,
  ``roots/list``) are forwarded to the client whose call is running on that upstream, on that
  call's stream, and the answer goes back. A shared connection does not say which call a request
  belongs to, so one is forwarded only when exactly one call is running on the upstream;
  otherwise (none, several, or a client on 2026-07-28, which has no back channel during a
  request) the upstream gets an error saying why. Each exchange is recorded as
  ``mcp.upstream.<method>``.

2026-07-28 clients have no session to carry notifications; they get progress and their call's
own messages only. Their ``InputRequiredResult`` round trips with 2026-07-28 upstreams pass
through the pool untouched (``pool.InputRound``); see docs/mcp-bridge/bridge.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.client.session import ClientRequestContext, IncomingMessage
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.shared.message import ServerMessageMetadata
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST
from pydantic import BaseModel

from .exchange import exchange_of
from .naming import Naming
from .pool import Target
from .recorder import Recorder

logger = logging.getLogger(__name__)

Ctx = ServerRequestContext[Any, Any]

LEVELS: tuple[types.LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)

_LIST_CHANGED = (
    types.ToolListChangedNotification,
    types.PromptListChangedNotification,
    types.ResourceListChangedNotification,
)


_WHO = "list changes to every session; resource updates to subscribers; logs by level"


@dataclass
class _Session:
    session_id: str
    session: ServerSession
    log_level: types.LoggingLevel | None = None
    subscriptions: set[str] = field(default_factory=set)


class Relay:
    """Downstream sessions, upstream calls in flight, and the routing between them."""

    def __init__(self, recorder: Recorder, is_open: Callable[[str], bool], naming: Naming) -> None:
        self._recorder = recorder
        self._is_open = is_open
        self._naming = naming
        self._sessions: dict[str, _Session] = {}
        self._calls: dict[str, list[Ctx]] = {}

    # -- downstream sessions -------------------------------------------------------------------

    def register(self, ctx: Ctx) -> _Session | None:
        """Remember a session-protocol session so that notifications can reach it later."""
        session_id = session_id_of(ctx)
        if session_id is None:
            return None
        entry = self._sessions.get(session_id)
        if entry is None:
            entry = self._sessions[session_id] = _Session(session_id, ctx.session)
        return entry

    def set_level(self, ctx: Ctx, level: types.LoggingLevel) -> None:
        entry = self.register(ctx)
        if entry is not None:
            entry.log_level = level

    def lowest_level(self) -> types.LoggingLevel | None:
        asked = [LEVELS.index(s.log_level) for s in self._sessions.values() if s.log_level]
        return LEVELS[min(asked)] if asked else None

    def subscribe(self, ctx: Ctx, exposed_uri: str) -> bool:
        """Add a subscriber; True when it is the resource's first (so subscribe upstream)."""
        first = not self.subscribers(exposed_uri)
        entry = self.register(ctx)
        if entry is not None:
            entry.subscriptions.add(exposed_uri)
        return first

    def unsubscribe(self, ctx: Ctx, exposed_uri: str) -> bool:
        """Remove a subscriber; True when none is left (so unsubscribe upstream)."""
        entry = self.register(ctx)
        if entry is not None:
            entry.subscriptions.discard(exposed_uri)
        return not self.subscribers(exposed_uri)

    def subscribers(self, exposed_uri: str) -> list[_Session]:
        return [s for s in self._live() if exposed_uri in s.subscriptions]

    def _live(self) -> list[_Session]:
        for session_id in [sid for sid in self._sessions if not self._is_open(sid)]:
            del self._sessions[session_id]
        return list(self._sessions.values())

    # -- upstream notifications ----------------------------------------------------------------

    async def on_upstream_message(self, upstream: str, message: IncomingMessage) -> None:
        """The upstream client's ``message_handler``: route, then record what was relayed."""
        if isinstance(message, _LIST_CHANGED):
            sent = await self._send(self._live(), message)
        elif isinstance(message, types.ResourceUpdatedNotification):
            exposed = self._naming.expose_uri(upstream, str(message.params.uri))
            params = message.params.model_copy(update={"uri": exposed})
            updated = message.model_copy(update={"params": params})
            sent = await self._send(self.subscribers(exposed), updated)
        elif isinstance(message, types.LoggingMessageNotification):
            sent = await self._forward_log(upstream, message)
        else:
            return
        data = message.model_dump(mode="json", by_alias=True, exclude_none=True)
        await self._recorder.background(
            "mcp.upstream." + message.method.replace("/", "."),
            {
                "upstream": upstream,
                "method": message.method,
                "sessionIds": sent,
                "paramsDigest": self._recorder.capture.digest(data.get("params")),
                "decision": {"outcome": "forwarded" if sent else "dropped", "reason": _WHO},
            },
        )

    async def _forward_log(
        self, upstream: str, message: types.LoggingMessageNotification
    ) -> list[str]:
        rank = LEVELS.index(message.params.level)
        name = upstream if message.params.logger is None else f"{upstream}/{message.params.logger}"
        renamed = message.model_copy(
            update={"params": message.params.model_copy(update={"logger": name})}
        )
        wanted = [s for s in self._live() if s.log_level and LEVELS.index(s.log_level) <= rank]
        return await self._send(wanted, renamed)

    async def _send(self, sessions: list[_Session], notification: Any) -> list[str]:
        """Send to each session; the ids of those it was handed to."""
        sent: list[str] = []
        for entry in sessions:
            try:
                await entry.session.send_notification(notification)
            except Exception as exc:
                logger.debug("could not relay %s: %s", type(notification).__name__, exc)
            else:
                sent.append(entry.session_id)
        return sent

    # -- server-to-client requests ---------------------------------------------------------------

    @contextmanager
    def running(self, target: Target, ctx: Ctx) -> Iterator[dict[str, Any] | None]:
        """Mark a client call as running on the target's upstream (the candidates for routing).

        Yields the ``_meta`` to send upstream with the call (the trace context of its span when
        tracing is on, else ``None``); the call is timed and traced as a whole.
        """
        calls = self._calls.setdefault(target.upstream, [])
        calls.append(ctx)
        try:
            telemetry = self._recorder.telemetry
            if telemetry is None:
                yield None
            else:
                with telemetry.upstream(target, ctx.method) as meta:
                    yield meta
        finally:
            calls.remove(ctx)

    def client_hooks(self, upstream: str) -> dict[str, Any]:
        """Keyword arguments for the upstream's ``mcp.Client``: callbacks into this relay."""

        async def messages(message: IncomingMessage) -> None:
            await self.on_upstream_message(upstream, message)

        async def sampling(context: ClientRequestContext, params: Any) -> Any:
            request = types.CreateMessageRequest(params=params)
            return await self.forward(upstream, request, types.CreateMessageResult)

        async def elicitation(context: ClientRequestContext, params: Any) -> Any:
            request = types.ElicitRequest(params=params)
            return await self.forward(upstream, request, types.ElicitResult)

        async def roots(context: ClientRequestContext) -> Any:
            return await self.forward(upstream, types.ListRootsRequest(), types.ListRootsResult)

        return {
            "message_handler": messages,
            "sampling_callback": sampling,
            "elicitation_callback": elicitation,
            "list_roots_callback": roots,
        }

    async def forward(
        self, upstream: str, request: Any, result_type: type[BaseModel]
    ) -> BaseModel | types.ErrorData:
        """Send an upstream's request to the client of the one call running there."""
        calls = self._calls.get(upstream, [])
        ctx = calls[0] if len(calls) == 1 else None
        payload = self._payload(upstream, request, ctx)
        if ctx is None:
            why = "no client call" if not calls else f"{len(calls)} client calls"
            reason = (
                f"{why} running on upstream {upstream!r}, so the bridge cannot tell which client "
                f"should answer {request.method}"
            )
            return await self._refuse(payload, reason)
        if not ctx.session.can_send_request:
            reason = (
                f"the client cannot receive {request.method} during this call (protocol "
                f"{ctx.protocol_version} has no back channel during a request)"
            )
            return await self._refuse(payload, reason)
        metadata = ServerMessageMetadata(related_request_id=ctx.request_id)
        try:
            result = await ctx.session.send_request(request, result_type, metadata=metadata)
        except Exception as exc:
            error = types.ErrorData(code=getattr(exc, "code", INTERNAL_ERROR), message=str(exc))
            await self._record(payload, "forwarded", None, error)
            return error
        await self._record(payload, "forwarded", result, None)
        return result

    def _payload(self, upstream: str, request: Any, ctx: Ctx | None) -> dict[str, Any]:
        exchange = exchange_of(ctx.request) if ctx is not None else None
        params = (
            request.params.model_dump(mode="json", by_alias=True, exclude_none=True)
            if (request.params is not None)
            else {}
        )
        return {
            **(exchange.base_payload() if exchange else {"correlationId": None, "identity": None}),
            "method": request.method,
            "upstream": upstream,
            "requestId": ctx.request_id if ctx is not None else None,
            "sessionId": session_id_of(ctx) if ctx is not None else None,
            "paramsDigest": self._recorder.capture.digest(params),
        }

    async def _refuse(self, payload: dict[str, Any], reason: str) -> types.ErrorData:
        error = types.ErrorData(code=INVALID_REQUEST, message=f"mcp-bridge: {reason}")
        await self._recorder.background(
            "mcp.upstream." + payload["method"].replace("/", "."),
            {**payload, "decision": {"outcome": "refused", "reason": reason}},
        )
        return error

    async def _record(
        self,
        payload: dict[str, Any],
        outcome: str,
        result: BaseModel | None,
        error: types.ErrorData | None,
    ) -> None:
        answer = result.model_dump(mode="json", by_alias=True) if result is not None else None
        await self._recorder.background(
            "mcp.upstream." + payload["method"].replace("/", "."),
            {
                **payload,
                "decision": {"outcome": outcome, "reason": "routed to the one call running"},
                "isError": error is not None,
                "errorCode": error.code if error else None,
                "errorMessage": error.message[:500] if error else None,
                "resultDigest": self._recorder.capture.digest(answer) if answer else None,
            },
        )


def session_id_of(ctx: Ctx) -> str | None:
    """The session-protocol session id of the request, or None (2026-07-28)."""
    connection = getattr(ctx.session, "_connection", None)
    session_id = getattr(connection, "session_id", None)
    return session_id if isinstance(session_id, str) else None


__all__ = ["LEVELS", "Relay", "session_id_of"]
