"""Held calls: a session-protocol upstream asks a 2026-07-28 client, which has no back channel.

A session-protocol upstream asks the client mid-call (``sampling/createMessage``,
``elicitation/create``, ``roots/list``) and waits for the answer on the same call. A 2026-07-28
client cannot be sent a request during its call; it is asked with an ``InputRequiredResult``
and retries the call with the answers. So for a 2026-07-28 client's ``tools/call`` on a
session-protocol upstream the bridge runs the upstream call in the background (:meth:`call`):
when the upstream asks, the client's request is answered with an ``InputRequiredResult``
holding the question and a ``requestState`` naming the held call; the client's retry carries the
answer, which goes to the waiting upstream, and is answered with the call's result or the next
question. A held call whose client does not come back within ``timeout`` seconds
(BRIDGE_UPSTREAM_TIMEOUT_SECONDS) gets an error in place of the answer, which ends it upstream;
a later retry naming it is refused.

One held call is one logical call in the trail (docs/mcp-bridge/bridge.md, "Held calls"): the
audit middleware writes its intent once, on the first request, and its outcome once, when the
upstream call ends (:attr:`_Held.on_end`), whichever client request is waiting then, or none.
The retries are recorded as the exchanges whose answers they carry (``answeredBy``). Progress
from the upstream goes to the client request that is waiting at the time (each retry may carry
its own progress token); between rounds no request is waiting, and progress then is dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST
from pydantic import BaseModel

Ctx = ServerRequestContext[Any, Any]


@dataclass(eq=False)
class _Held:
    token: str
    changed: anyio.Event = field(default_factory=anyio.Event)
    questions: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    answered: dict[str, anyio.Event] = field(default_factory=dict)
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    rounds: int = 1
    """Client requests that took part: the first and each retry."""
    answered_by: dict[str, Any] = field(default_factory=dict)
    """Per question: the retry that carried its answer (correlation and request id)."""
    claimed: set[str] = field(default_factory=set)
    """Questions a retry has claimed to answer (at most one retry each, see :meth:`claim`)."""
    progress: ProgressFnT | None = None
    """Where upstream progress goes now: the waiting client request's relay, if any."""
    on_end: Callable[[_Held], Awaitable[None]] | None = None
    """Records the call's outcome when the upstream call ends (set by the audit middleware)."""
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    ended: anyio.Event = field(default_factory=anyio.Event)

    def poke(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    async def report(self, progress: float, total: float | None, message: str | None) -> None:
        """Upstream progress → the client request waiting now (dropped between rounds)."""
        relay = self.progress
        if relay is not None:
            with contextlib.suppress(Exception):
                await relay(progress, total, message)


class HeldCalls:
    """The upstream calls held for 2026-07-28 clients; see the module docstring."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._by_token: dict[str, _Held] = {}
        self._by_ctx: dict[int, _Held] = {}
        self._started: dict[int, _Held] = {}
        self._claims: dict[int, tuple[_Held, set[str]]] = {}
        self._keys = itertools.count(1)
        self._stopping = False
        self.task_group: anyio.abc.TaskGroup | None = None
        """Where held calls run (the gateway's, so that they outlive a request)."""

    def held_for(self, ctx: Ctx) -> _Held | None:
        """The held call that ``ctx`` (the request that started it) runs, if any."""
        return self._by_ctx.get(id(ctx))

    def resumes(self, ctx: Ctx, request_state: Any, answers: Any) -> bool:
        """Whether request ``ctx`` (with this ``requestState`` and ``inputResponses``) is a retry
        of a live held call that answers at least one of its pending questions.

        The questions it answers are claimed for it at once: of two retries carrying the same
        answer at the same moment, only the first is the exchange's retry; the other answers
        nothing, so the audit middleware records it as a call of its own."""
        held = self._by_token.get(request_state) if isinstance(request_state, str) else None
        if held is None:
            return False
        claimed = self._claim(held, answers)
        if claimed:
            self._claims[id(ctx)] = (held, claimed)
        return bool(claimed)

    def release(self, ctx: Ctx) -> None:
        """Request ``ctx`` ended: questions it claimed but did not answer may be answered by
        another retry (and nothing is kept per request)."""
        held, claimed = self._claims.pop(id(ctx), (None, set()))
        if held is not None:
            held.claimed -= claimed - held.answers.keys()

    @staticmethod
    def _claim(held: _Held, answers: Any) -> set[str]:
        if not isinstance(answers, Mapping):
            return set()
        claimed = {
            key
            for key in answers
            if key in held.answered and key not in held.answers and key not in held.claimed
        }
        held.claimed |= claimed
        return claimed

    def take_started(self, ctx: Ctx) -> _Held | None:
        """The held call that request ``ctx`` started, once (for the audit middleware)."""
        return self._started.pop(id(ctx), None)

    async def call(
        self,
        ctx: Ctx,
        request_state: str | None,
        answers: types.InputResponses | None,
        start: Callable[[ProgressFnT], Awaitable[Any]],
        progress: ProgressFnT | None = None,
        who: dict[str, Any] | None = None,
    ) -> Any:
        """Start the call (or resume the held one ``request_state`` names) and answer with its
        result or an ``InputRequiredResult`` for the upstream's pending questions.

        ``progress`` relays to this request's client while it waits; ``who`` identifies this
        request in the exchange records of the answers it carries."""
        held = self._by_token.get(request_state or "")
        if held is None and request_state is not None:
            raise MCPError(
                code=INVALID_PARAMS,
                message=(
                    "mcp-bridge: requestState names no held call; it has ended (answered "
                    "later than BRIDGE_UPSTREAM_TIMEOUT_SECONDS, or the bridge restarted): "
                    "call the tool again"
                ),
            )
        if held is None:
            if self.task_group is None:
                return await start(progress or _ignore)
            held = _Held(secrets.token_urlsafe(16))
            self._by_token[held.token] = held
            self._by_ctx[id(ctx)] = held
            self._started[id(ctx)] = held
            self.task_group.start_soon(self._run, ctx, held, start)
        else:
            held.rounds += 1
            mine = self._claims.get(id(ctx))
            # Not claimed by the audit middleware when the trail is disabled: claim here.
            claimed = (
                mine[1] if mine is not None and mine[0] is held else self._claim(held, answers)
            )
            for key in claimed:
                if key in held.answered and key not in held.answers:
                    held.answers[key] = (answers or {})[key]
                    held.answered_by[key] = who
                    held.answered[key].set()
        held.progress = progress
        try:
            return await self._next(held)
        finally:
            if held.progress is progress:
                held.progress = None

    async def ask(
        self, held: _Held, request: Any, result_type: type[BaseModel]
    ) -> tuple[BaseModel | types.ErrorData, Any]:
        """The upstream's question: pending until the client's retry answers it (or timeout);
        the answer and the ``who`` of the retry that carried it."""
        key = f"{request.method.replace('/', '-')}-{next(self._keys)}"
        held.questions[key] = request
        held.answered[key] = anyio.Event()
        held.poke()
        with anyio.move_on_after(self._timeout):
            await held.answered[key].wait()
        held.questions.pop(key, None)
        if key not in held.answers:
            self._by_token.pop(held.token, None)  # abandoned: a late retry is refused
            message = (
                f"mcp-bridge: the bridge stopped before the 2026-07-28 client answered "
                f"{request.method}"
                if self._stopping
                else f"mcp-bridge: the 2026-07-28 client did not answer {request.method} "
                f"within BRIDGE_UPSTREAM_TIMEOUT_SECONDS={self._timeout:g}"
            )
            return types.ErrorData(code=INVALID_REQUEST, message=message), None
        answer = held.answers[key]
        data = answer.model_dump(by_alias=True) if isinstance(answer, BaseModel) else answer
        return result_type.model_validate(data), held.answered_by.get(key)

    async def stop(self, grace: float = 5.0) -> None:
        """At shutdown, after their calls were recorded ``aborted``: every pending question is
        answered with an error (the exchange is recorded before ``bridge.stopped``) and each
        held call gets ``grace`` seconds to end upstream before it is cancelled."""
        self._stopping = True
        live = list(self._by_ctx.values())
        for held in live:
            for answered in held.answered.values():
                answered.set()
        with anyio.move_on_after(grace):
            for held in live:
                await held.ended.wait()
        for held in live:
            held.scope.cancel()

    def cancel(self, held: _Held) -> None:
        """End the held call upstream (its first request was cancelled by the client)."""
        held.scope.cancel()

    async def _run(
        self, ctx: Ctx, held: _Held, start: Callable[[ProgressFnT], Awaitable[Any]]
    ) -> None:
        try:
            with held.scope:
                held.result = await start(held.report)
        except Exception as exc:
            held.error = exc
        finally:
            held.done = True
            self._by_token.pop(held.token, None)
            self._by_ctx.pop(id(ctx), None)
            held.poke()
            try:
                if held.on_end is not None:
                    with anyio.CancelScope(shield=True):
                        await held.on_end(held)
            finally:
                held.ended.set()

    async def _next(self, held: _Held) -> Any:
        while True:
            changed = held.changed
            if held.done:
                if held.error is not None:
                    raise held.error
                return held.result
            pending = {k: q for k, q in held.questions.items() if k not in held.answers}
            if pending:
                return types.InputRequiredResult(input_requests=pending, request_state=held.token)
            await changed.wait()


async def _ignore(progress: float, total: float | None, message: str | None) -> None:
    """No client to tell."""


__all__ = ["HeldCalls"]
