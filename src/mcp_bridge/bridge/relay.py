"""Messages that are not a client request and its answer: the bridge's relay in both directions.

Each upstream is one connection shared by every client of the bridge, so the relay decides who
gets what an upstream sends outside a plain answer:

* **List-changed notifications** go to every open session-protocol session and listen stream
  (they carry nothing but "the list changed").
* **``notifications/resources/updated``** goes to the sessions that subscribed to that resource
  (``resources/subscribe`` is forwarded upstream once, and unsubscribed when the last subscriber
  leaves), with the URI rewritten to the bridge's scheme.
* **``notifications/message``** (logs) sent during a call and related to it (see ``calls.py``)
  goes to that call's client alone, on the call's stream, if its level (``logging/setLevel``)
  admits it; a log not related to a call goes to the sessions that asked for logs, at or above
  their level. ``logger`` is prefixed by the upstream name. The upstream is asked for the
  lowest level any session asked for.
* **Server-to-client requests** (``sampling/createMessage``, ``elicitation/create``,
  ``roots/list``) go to the client whose call caused them (``back_channel.py``).

2026-07-28 clients have no session: list-changed notifications and resource updates reach them
on ``subscriptions/listen`` streams (``listen.py``, fed by :attr:`Relay.bus`); a call's progress
and messages ride the call. Their ``InputRequiredResult`` round trips with 2026-07-28 upstreams pass
through the pool untouched (``pool.InputRound``); see docs/mcp-bridge/bridge.md.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.client.session import ClientRequestContext, IncomingMessage
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from mcp_types import LOG_LEVEL_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .back_channel import BackChannel, session_id_of
from .calls import CALL_CONTEXT, CallBook, Owner
from .exchange import exchange_of
from .held import HeldCalls
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

_LIST_CHANGED: dict[type[Any], Callable[[], ServerEvent]] = {
    types.ToolListChangedNotification: ToolsListChanged,
    types.PromptListChangedNotification: PromptsListChanged,
    types.ResourceListChangedNotification: ResourcesListChanged,
}
"""Session-protocol list-changed notifications → the listen-stream events they become."""


_WHO = "list changes to every session; resource updates to subscribers; logs by level"


@dataclass
class _Session:
    session_id: str
    session: ServerSession
    log_level: types.LoggingLevel | None = None
    subscriptions: set[str] = field(default_factory=set)


class Relay:
    """Downstream sessions, upstream calls in flight, and the routing between them."""

    def __init__(
        self,
        recorder: Recorder,
        is_open: Callable[[str], bool],
        naming: Naming,
        held_timeout: float = 60.0,
    ) -> None:
        self._recorder = recorder
        self._is_open = is_open
        self._naming = naming
        self._sessions: dict[str, _Session] = {}
        self.calls = CallBook()
        self.bus = InMemorySubscriptionBus()
        """What 2026-07-28 clients' ``subscriptions/listen`` streams receive (``listen.py``)."""
        self.listen_streams = ListenHandler(self.bus)
        """The open listen streams (closed gracefully when the bridge stops)."""
        self._listening: Counter[str] = Counter()
        self.held = HeldCalls(held_timeout)
        self.back_channel = BackChannel(recorder, self.calls, self.held)
        self.speaks_modern: Callable[[str], bool] = lambda upstream: False
        """Whether the upstream's connection speaks 2026-07-28 (set by the gateway)."""
        self.on_tools_changed: Callable[[str], None] = lambda upstream: None
        """Called with the upstream's name before its tools list-changed is relayed (the pool
        forgets its catalog, so the next call is classified with the new annotations)."""

    # -- downstream sessions -------------------------------------------------------------------

    def register(self, ctx: Ctx) -> _Session | None:
        """Remember a session-protocol session so that notifications can reach it later."""
        session_id = _session_key(ctx)
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
        first = self._unwatched(exposed_uri)
        entry = self.register(ctx)
        if entry is not None:
            entry.subscriptions.add(exposed_uri)
        return first

    def unsubscribe(self, ctx: Ctx, exposed_uri: str) -> bool:
        """Remove a subscriber; True when none is left (so unsubscribe upstream)."""
        entry = self.register(ctx)
        if entry is not None:
            entry.subscriptions.discard(exposed_uri)
        return self._unwatched(exposed_uri)

    def listen_to(self, exposed_uri: str) -> bool:
        """A ``subscriptions/listen`` stream watches the resource; True when it is the first."""
        first = self._unwatched(exposed_uri)
        self._listening[exposed_uri] += 1
        return first

    def stop_listening(self, exposed_uri: str) -> bool:
        """A listen stream ended; True when nobody watches the resource any more."""
        self._listening[exposed_uri] -= 1
        if self._listening[exposed_uri] <= 0:
            del self._listening[exposed_uri]
        return self._unwatched(exposed_uri)

    def _unwatched(self, exposed_uri: str) -> bool:
        return not self.subscribers(exposed_uri) and not self._listening.get(exposed_uri)

    def subscribers(self, exposed_uri: str) -> list[_Session]:
        return [s for s in self._live() if exposed_uri in s.subscriptions]

    def _live(self) -> list[_Session]:
        for session_id in [sid for sid in self._sessions if not self._is_open(sid)]:
            del self._sessions[session_id]
        return list(self._sessions.values())

    # -- upstream notifications ----------------------------------------------------------------

    async def on_upstream_message(self, upstream: str, message: IncomingMessage) -> None:
        """The upstream client's ``message_handler``: route, then record what was relayed."""
        if isinstance(message, tuple(_LIST_CHANGED)):
            if isinstance(message, types.ToolListChangedNotification):
                self.on_tools_changed(upstream)
            sent = await self._send(self._live(), message)
            await self.bus.publish(_LIST_CHANGED[type(message)]())
        elif isinstance(message, types.ResourceUpdatedNotification):
            exposed = self._naming.expose_uri(upstream, str(message.params.uri))
            params = message.params.model_copy(update={"uri": exposed})
            updated = message.model_copy(update={"params": params})
            sent = await self._send(self.subscribers(exposed), updated)
            await self.bus.publish(ResourceUpdated(uri=exposed))
        elif isinstance(message, types.LoggingMessageNotification):
            await self._forward_log(upstream, message)
            return
        else:
            return
        await self._record_notification(upstream, message, sent, {"reason": _WHO})

    async def _record_notification(
        self,
        upstream: str,
        message: Any,
        sent: list[str],
        extra: dict[str, Any],
        delivered: bool | None = None,
    ) -> None:
        data = message.model_dump(mode="json", by_alias=True, exclude_none=True)
        reason = extra.pop("reason")
        outcome = "forwarded" if (sent if delivered is None else delivered) else "dropped"
        await self._recorder.background(
            "mcp.upstream." + message.method.replace("/", "."),
            {
                "upstream": upstream,
                "method": message.method,
                "sessionIds": sent,
                **extra,
                "paramsDigest": self._recorder.capture.digest(data.get("params")),
                "decision": {"outcome": outcome, "reason": reason},
            },
        )

    async def _forward_log(self, upstream: str, message: types.LoggingMessageNotification) -> None:
        rank = LEVELS.index(message.params.level)
        name = upstream if message.params.logger is None else f"{upstream}/{message.params.logger}"
        renamed = message.model_copy(
            update={"params": message.params.model_copy(update={"logger": name})}
        )
        owner = self._log_owner(upstream)
        if owner is None:
            wanted = [s for s in self._live() if s.log_level and LEVELS.index(s.log_level) <= rank]
            sent = await self._send(wanted, renamed)
            await self._record_notification(upstream, message, sent, {"reason": _WHO})
            return
        caller = owner.ctx
        if caller is None:
            unowned: dict[str, Any] = {"routing": None, "reason": owner.why_none}
            await self._record_notification(upstream, message, [], unowned, False)
            return
        entry = self.register(caller)
        exchange = exchange_of(caller.request)
        delivered = False
        if entry is None or entry.log_level is None or LEVELS.index(entry.log_level) <= rank:
            related = caller.request_id if exchange is None or exchange.streamed else None
            delivered = await self._send_one(caller.session, renamed, related)
        extra = {
            **(exchange.base_payload() if exchange else {}),
            "requestId": caller.request_id,
            "routing": owner.routing,
            "reason": "a log of this call, to its client at its level",
        }
        sent = [entry.session_id] if delivered and entry else []
        await self._record_notification(upstream, message, sent, extra, delivered)

    def _log_owner(self, upstream: str) -> Owner | None:
        """The call a log belongs to; None when it may be the upstream's own (broadcast).

        A 2026-07-28 upstream logs only for requests that opted in, so a log without the call's
        context belongs to the one call that opted in (``only-call``); with several, which one is
        unknown and the log is dropped rather than shown to the wrong client.
        """
        caller = self.calls.caller(upstream)
        if caller is not None:
            return Owner(caller, CALL_CONTEXT)
        if not self.speaks_modern(upstream):
            return None
        return self.calls.log_owner(upstream)

    async def _send(self, sessions: list[_Session], notification: Any) -> list[str]:
        """Send to each session; the ids of those it was handed to."""
        return [s.session_id for s in sessions if await self._send_one(s.session, notification)]

    @staticmethod
    async def _send_one(session: ServerSession, notification: Any, related: Any = None) -> bool:
        try:
            await session.send_notification(notification, related_request_id=related)
        except Exception as exc:
            logger.debug("could not relay %s: %s", type(notification).__name__, exc)
            return False
        return True

    # -- server-to-client requests ---------------------------------------------------------------

    @contextmanager
    def running(self, target: Target, ctx: Ctx) -> Iterator[dict[str, Any] | None]:
        """Mark a client call as running on the target's upstream (see :class:`calls.CallBook`).

        Yields the ``_meta`` to send upstream with the call (the caller's log level, else
        ``None``); the pool adds the trace context when it sends the call.
        """
        level = self._log_level_of(ctx)
        with self.calls.running(target.upstream, ctx, wants_logs=level is not None):
            yield None if level is None else {LOG_LEVEL_META_KEY: level}

    def _log_level_of(self, ctx: Ctx) -> types.LoggingLevel | None:
        """The caller's log level: its session's ``logging/setLevel`` or the 2026-07-28
        client's own opt-in in its request's ``_meta``."""
        entry = self._sessions.get(_session_key(ctx) or "")
        if entry is not None and entry.log_level is not None:
            return entry.log_level
        asked = ctx.meta.get(LOG_LEVEL_META_KEY) if ctx.meta is not None else None
        return next((level for level in LEVELS if level == asked), None)

    def client_hooks(self, upstream: str) -> dict[str, Any]:
        """Keyword arguments for the upstream's ``mcp.Client``: callbacks into this relay."""

        async def messages(message: IncomingMessage) -> None:
            await self.on_upstream_message(upstream, message)

        async def sampling(context: ClientRequestContext, params: Any) -> Any:
            request = types.CreateMessageRequest(params=params)
            return await self.back_channel.forward(upstream, request, types.CreateMessageResult)

        async def elicitation(context: ClientRequestContext, params: Any) -> Any:
            request = types.ElicitRequest(params=params)
            return await self.back_channel.forward(upstream, request, types.ElicitResult)

        async def roots(context: ClientRequestContext) -> Any:
            request = types.ListRootsRequest()
            return await self.back_channel.forward(upstream, request, types.ListRootsResult)

        return {
            "message_handler": messages,
            "sampling_callback": sampling,
            "elicitation_callback": elicitation,
            "list_roots_callback": roots,
        }


STDIO_SESSION = "stdio"
"""The relay's name for the one session of the stdio front end (stdio has no session id)."""


def _session_key(ctx: Ctx) -> str | None:
    """The session a request belongs to: its HTTP session id, the stdio front end's one
    session-protocol client, or None (a 2026-07-28 request: no session)."""
    session_id = session_id_of(ctx)
    if session_id is not None:
        return session_id
    stdio = exchange_of(ctx.request) is None
    return STDIO_SESSION if stdio and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS else None


__all__ = ["LEVELS", "STDIO_SESSION", "Relay", "session_id_of"]
