"""Server-to-client requests: an upstream asks the client whose call caused it, and gets the answer.

``sampling/createMessage``, ``elicitation/create`` and ``roots/list`` from an upstream go to the
call :class:`calls.CallBook` finds for them, on that call's own stream (``related_request_id``),
and the client's answer (or error) goes back upstream. Refused, with the reason, when no call
can be found, when the client cannot be asked during this call (2026-07-28 has no back channel
during a request; a session call answered with one JSON body has no room for a request) or when
the client did not declare the capability. Every exchange is recorded as
``mcp.upstream.<method>`` with the calling request's correlation id, the routing used and digests
of what was asked and answered.
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.message import ServerMessageMetadata
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST
from pydantic import BaseModel

from .calls import CallBook, Owner
from .exchange import exchange_of
from .held import HeldCalls
from .recorder import Recorder
from .transport import session_of_request

Ctx = ServerRequestContext[Any, Any]

_CAPABILITY = {
    "sampling/createMessage": (
        "sampling",
        types.ClientCapabilities(sampling=types.SamplingCapability()),
    ),
    "elicitation/create": (
        "elicitation",
        types.ClientCapabilities(elicitation=types.ElicitationCapability()),
    ),
    "roots/list": ("roots", types.ClientCapabilities(roots=types.RootsCapability())),
}


class BackChannel:
    """Forwards an upstream's requests to the calling client; see the module docstring."""

    def __init__(self, recorder: Recorder, calls: CallBook, held: HeldCalls) -> None:
        self._recorder = recorder
        self._calls = calls
        self._held = held

    async def forward(
        self, upstream: str, request: Any, result_type: type[BaseModel]
    ) -> BaseModel | types.ErrorData:
        owner = self._calls.owner(upstream)
        payload = self._payload(upstream, request, owner)
        ctx = owner.ctx
        if ctx is None:
            return await self._refuse(payload, owner.why_none)
        held = self._held.held_for(ctx)
        why_not = None if held is not None else _cannot_ask(ctx, request.method)
        if why_not is not None:
            return await self._refuse(payload, why_not)
        try:
            answer = await self._ask(ctx, held, request, result_type, payload)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                reason = "the upstream withdrew the request (its call ended) before the answer"
                await self._recorder.background(
                    _event_type(request.method),
                    {**payload, "decision": {"outcome": "cancelled", "reason": reason}},
                )
            raise
        if isinstance(answer, types.ErrorData):
            await self._record(payload, None, answer)
            return answer
        result = answer
        if isinstance(result, types.ElicitResult):
            result, filled = with_defaults(request.params, result)
            payload["defaultsApplied"] = filled or None
        await self._record(payload, result, None)
        return result

    async def _ask(
        self,
        ctx: Ctx,
        held: Any,
        request: Any,
        result_type: type[BaseModel],
        payload: dict[str, Any],
    ) -> BaseModel | types.ErrorData:
        """Ask the calling client: by InputRequiredResult when its call is ``held``, else on
        the call's stream; an error answer comes back as ErrorData."""
        if held is not None:
            payload.update(via="input-required", answeredBy=None)  # None: not answered
            answer, payload["answeredBy"] = await self._held.ask(held, request, result_type)
            return answer
        metadata = ServerMessageMetadata(related_request_id=ctx.request_id)
        try:
            return await ctx.session.send_request(request, result_type, metadata=metadata)
        except Exception as exc:
            return types.ErrorData(code=getattr(exc, "code", INTERNAL_ERROR), message=str(exc))

    def _payload(self, upstream: str, request: Any, owner: Owner) -> dict[str, Any]:
        ctx = owner.ctx
        exchange = exchange_of(ctx.request) if ctx is not None else None
        params = (
            request.params.model_dump(mode="json", by_alias=True, exclude_none=True)
            if request.params is not None
            else {}
        )
        return {
            **(exchange.base_payload() if exchange else {"correlationId": None, "identity": None}),
            "method": request.method,
            "upstream": upstream,
            "requestId": ctx.request_id if ctx is not None else None,
            "sessionId": session_id_of(ctx) if ctx is not None else None,
            "routing": owner.routing,
            "paramsDigest": self._recorder.capture.digest(params),
        }

    async def _refuse(self, payload: dict[str, Any], reason: str) -> types.ErrorData:
        error = types.ErrorData(code=INVALID_REQUEST, message=f"mcp-bridge: {reason}")
        await self._recorder.background(
            _event_type(payload["method"]),
            {**payload, "decision": {"outcome": "refused", "reason": reason}},
        )
        return error

    async def _record(
        self, payload: dict[str, Any], result: BaseModel | None, error: types.ErrorData | None
    ) -> None:
        answer = result.model_dump(mode="json", by_alias=True) if result is not None else None
        reason = f"asked the calling client (routing: {payload['routing']})"
        await self._recorder.background(
            _event_type(payload["method"]),
            {
                **payload,
                "decision": {"outcome": "forwarded", "reason": reason},
                "isError": error is not None,
                "errorCode": error.code if error else None,
                "errorMessage": error.message[:500] if error else None,
                "resultDigest": self._recorder.capture.digest(answer) if answer else None,
            },
        )


def _cannot_ask(ctx: Ctx, method: str) -> str | None:
    """Why the calling client cannot be sent ``method`` now, or None when it can."""
    if not ctx.session.can_send_request:
        return (
            f"the client cannot receive {method} during this call (protocol "
            f"{ctx.protocol_version} has no back channel during a request)"
        )
    exchange = exchange_of(ctx.request)
    name, capability = _CAPABILITY[method]
    if ctx.session.client_params is not None and not ctx.session.check_client_capability(
        capability
    ):
        return f"the client did not declare the {name!r} capability, so it cannot answer {method}"
    if exchange is not None and not exchange.streamed:
        return f"the call is answered with one JSON body, which has no room for {method}"
    return None


def with_defaults(
    params: types.ElicitRequestParams | None, result: types.ElicitResult
) -> tuple[types.ElicitResult, list[str]]:
    """An accepted form answer with the schema's defaults for the fields left out (SEP-1034).

    The bridge is the upstream's client: a field the user did not fill takes the default the
    form offered, as a client that shows the form pre-filled would send it.
    """
    schema = getattr(params, "requested_schema", None)
    if result.action != "accept" or not isinstance(schema, dict):
        return result, []
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return result, []
    content = dict(result.content or {})
    filled = [
        name
        for name, spec in properties.items()
        if name not in content and isinstance(spec, dict) and "default" in spec
    ]
    for name in filled:
        content[name] = properties[name]["default"]
    return (result.model_copy(update={"content": content}) if filled else result), filled


def session_id_of(ctx: Ctx) -> str | None:
    """The session-protocol session id of the request, or None (2026-07-28, stdio).

    Read from the bridge's own note on the HTTP request (:func:`~.transport.stamp_session`),
    made by the session's transport and by the direct path, not from the SDK's private state.
    """
    return session_of_request(ctx.request)


def _event_type(method: str) -> str:
    return "mcp.upstream." + method.replace("/", ".")


__all__ = ["BackChannel", "session_id_of", "with_defaults"]
