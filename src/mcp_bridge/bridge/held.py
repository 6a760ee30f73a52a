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
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.server.context import ServerRequestContext
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

    def poke(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()


class HeldCalls:
    """The upstream calls held for 2026-07-28 clients; see the module docstring."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._by_token: dict[str, _Held] = {}
        self._by_ctx: dict[int, _Held] = {}
        self._keys = itertools.count(1)
        self.task_group: anyio.abc.TaskGroup | None = None
        """Where held calls run (the gateway's, so that they outlive a request)."""

    def held_for(self, ctx: Ctx) -> _Held | None:
        """The held call that ``ctx`` (the request that started it) runs, if any."""
        return self._by_ctx.get(id(ctx))

    async def call(
        self,
        ctx: Ctx,
        request_state: str | None,
        answers: types.InputResponses | None,
        start: Callable[[], Awaitable[Any]],
    ) -> Any:
        """Start the call (or resume the held one ``request_state`` names) and answer with its
        result or an ``InputRequiredResult`` for the upstream's pending questions."""
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
                return await start()
            held = _Held(secrets.token_urlsafe(16))
            self._by_token[held.token] = held
            self._by_ctx[id(ctx)] = held
            self.task_group.start_soon(self._run, ctx, held, start)
        else:
            for key, answer in (answers or {}).items():
                if key in held.answered and key not in held.answers:
                    held.answers[key] = answer
                    held.answered[key].set()
        return await self._next(held)

    async def ask(
        self, held: _Held, request: Any, result_type: type[BaseModel]
    ) -> BaseModel | types.ErrorData:
        """The upstream's question: pending until the client's retry answers it (or timeout)."""
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
                f"mcp-bridge: the 2026-07-28 client did not answer {request.method} within "
                f"BRIDGE_UPSTREAM_TIMEOUT_SECONDS={self._timeout:g}"
            )
            return types.ErrorData(code=INVALID_REQUEST, message=message)
        answer = held.answers[key]
        data = answer.model_dump(by_alias=True) if isinstance(answer, BaseModel) else answer
        return result_type.model_validate(data)

    async def _run(self, ctx: Ctx, held: _Held, start: Callable[[], Awaitable[Any]]) -> None:
        try:
            held.result = await start()
        except Exception as exc:
            held.error = exc
        finally:
            held.done = True
            self._by_token.pop(held.token, None)
            self._by_ctx.pop(id(ctx), None)
            held.poke()

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


__all__ = ["HeldCalls"]
