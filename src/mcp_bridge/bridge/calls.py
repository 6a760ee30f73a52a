"""Which client call an upstream's message belongs to.

Every upstream is one connection shared by all the bridge's clients, so when an upstream asks
the client something (``sampling/createMessage``, ``elicitation/create``, ``roots/list``) or logs
during a call, the bridge must find the call that caused it. Two sources, best first:

* **The call's own context.** Each forwarded call runs with :data:`_CALLER` set. The SDK runs an
  upstream's request or notification handler in the context of the task that sent the request
  it relates to whenever it can tell: on streamable HTTP a message arriving on a call's own
  response stream, and at 2026-07-28 the ``InputRequiredResult`` rounds, which are resolved in
  the calling task. Such a message is routed exactly, however many calls are running.
* **Elimination.** On stdio (one pipe, no relation on the wire) and on an HTTP upstream's
  standalone stream nothing says which call a message is for; it is routed to the call running
  on that upstream when there is exactly one, and refused when there are several (never guessed).
  A 2026-07-28 upstream's log belongs to a request that opted in to logs, so the candidates for
  a log are the calls sent with a log level.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from mcp.server.context import ServerRequestContext

Ctx = ServerRequestContext[Any, Any]

CALL_CONTEXT = "call-context"
"""Routing: the message came in the context of the call that caused it."""
ONLY_CALL = "only-call"
"""Routing: nothing related the message to a call; it was the only call on its upstream."""


@dataclass(frozen=True)
class _Caller:
    upstream: str
    ctx: Ctx


_CALLER: ContextVar[_Caller | None] = ContextVar("mcp_bridge_caller", default=None)


@dataclass(frozen=True)
class Owner:
    """The call an upstream message was routed to, and how; or why none was."""

    ctx: Ctx | None
    routing: str | None = None
    why_none: str = ""


class CallBook:
    """The client calls running on each upstream."""

    def __init__(self) -> None:
        self._calls: dict[str, list[Ctx]] = {}
        self._wanting_logs: dict[str, list[Ctx]] = {}

    @contextmanager
    def running(self, upstream: str, ctx: Ctx, *, wants_logs: bool = False) -> Iterator[None]:
        """Mark a client call as running on ``upstream`` (its context names it as the caller);
        ``wants_logs`` when it went upstream with a log-level opt-in."""
        books = [self._calls] + ([self._wanting_logs] if wants_logs else [])
        for book in books:
            book.setdefault(upstream, []).append(ctx)
        token = _CALLER.set(_Caller(upstream, ctx))
        try:
            yield
        finally:
            _CALLER.reset(token)
            for book in books:
                book[upstream].remove(ctx)

    def caller(self, upstream: str) -> Ctx | None:
        """The call whose context this code runs in, if it is a call on ``upstream``."""
        caller = _CALLER.get()
        return caller.ctx if caller is not None and caller.upstream == upstream else None

    def owner(self, upstream: str) -> Owner:
        """The call an upstream's message belongs to: by context, else by elimination."""
        return self._owner(upstream, self._calls)

    def log_owner(self, upstream: str) -> Owner:
        """The call a request-scoped log belongs to: by context, else the one that opted in."""
        return self._owner(upstream, self._wanting_logs)

    def _owner(self, upstream: str, book: dict[str, list[Ctx]]) -> Owner:
        ctx = self.caller(upstream)
        if ctx is not None:
            return Owner(ctx, CALL_CONTEXT)
        calls = book.get(upstream, [])
        if len(calls) == 1:
            return Owner(calls[0], ONLY_CALL)
        running = "no client call is" if not calls else f"{len(calls)} client calls are"
        return Owner(
            None,
            why_none=(
                f"{running} running on upstream {upstream!r} and the message is not related "
                "to one of them (stdio or the upstream's standalone stream), so the bridge "
                "cannot tell which client it is for"
            ),
        )


__all__ = ["CALL_CONTEXT", "ONLY_CALL", "CallBook", "Owner"]
