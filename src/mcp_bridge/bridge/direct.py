"""The direct path for ``tools/call``: the common call answered without the SDK's session machinery.

Most traffic through the bridge is a ``tools/call`` POST on an established session-protocol
session, answered with one JSON body. The SDK's streamable-HTTP path for it (session lookup, the
request handed to the session's task group through memory streams, a new task per request, the
JSON-RPC message validated and re-serialised, the answer routed back by a second task) costs
about as much CPU as everything else the bridge does for a call. The gate hands such a call to
:meth:`DirectCalls.serve`, which runs the *same* middleware chain (the audit middleware with its
durable intent, fail-closed refusals, access rules and telemetry) and the *same* ``tools/call``
handler in the HTTP request's own task, and answers with the body the SDK would have sent.

Only the common case is taken; anything else goes to the SDK path unchanged, so every refusal
is the SDK's own: the call must carry no progress token and its client must not be one that
can be asked (sampling, elicitation or roots declared, or logs asked for: ``Exchange.streamed``);
the session must be open, owned by this request's credential and past its handshake (learnt by
:class:`Learner` from a message the SDK handled after the commit); the headers must pass the
SDK's Host/Origin/Content-Type checks and the body must be a plain JSON-RPC request. The direct
path owns its session state (``transport.BridgeSession``): it reads no private SDK field.

Behaviour kept from the SDK path (tested side by side in tests/bridge/test_direct.py): the
JSON-RPC errors (``MCPError`` codes, ``Invalid request parameters`` for bad params, code 0 for an
unexpected failure), the result shaped for the negotiated protocol version, a
``notifications/cancelled`` for the call (``REQUEST_CANCELLED`` answer, the call cancelled and
recorded ``cancelled``), a session ended while the call runs (500, recorded ``cancelled``), and
the session's idle timer held while the call runs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.session import ServerSession
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, REQUEST_CANCELLED
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.dispatcher import CallOptions, coerce_request_id
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.jsonrpc_dispatcher import (
    cancelled_request_id_from_params,
    handler_exception_to_error_data,
)
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    INTERNAL_ERROR,
    METHOD_NOT_FOUND,
    ErrorData,
    InitializeRequestParams,
    JSONRPCError,
    RequestId,
    RequestParams,
    RequestParamsMeta,
    server_notification_adapter,
)
from mcp_types import methods as spec_methods
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .exchange import Exchange, exchange_of
from .transport import BridgeSession, BridgeSessionManager, stamp_session

logger = logging.getLogger(__name__)

METHOD = "tools/call"
_REQUEST_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_JSON_ANSWER = TransportContext(kind="streamable-http", can_send_request=False)
_BODY: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


class JsonAnswerChannel:
    """The request-scoped channel of a call answered with one JSON body (a ``DispatchContext``).

    As on the SDK's JSON-response path, the body has room for the response alone: a request to
    the client raises ``NoBackChannelError`` and a notification related to the call is dropped.
    """

    transport = _JSON_ANSWER
    can_send_request = False
    message_metadata = None

    def __init__(self, request_id: RequestId) -> None:
        self.request_id = request_id
        self.cancel_requested = anyio.Event()

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        logger.debug("dropped %s of request %r: answered with JSON", method, self.request_id)

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """No progress token on the direct path: nothing to report to."""


class StandaloneVia:
    """The session's standalone channel (an ``Outbound``), reached through a ``ServerSession``
    the SDK built for this connection: notifications not related to a call (a log, list
    changes) reach the client's GET stream exactly as from the SDK path."""

    def __init__(self, session: ServerSession) -> None:
        self._session = session

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        message = {"method": method} | ({"params": params} if params is not None else {})
        await self._session.send_notification(server_notification_adapter.validate_python(message))

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        """The bridge sends requests to a client only on a call's own stream, never here."""
        raise NoBackChannelError(method)


@dataclass(frozen=True)
class _Learnt:
    """What a session's handshake settled, and the connection the direct path's contexts use
    (its standalone channel is the SDK connection's, through :class:`StandaloneVia`)."""

    protocol_version: str
    client_params: InitializeRequestParams
    connection: Connection
    lifespan_context: Any


class Learner:
    """``ServerMiddleware`` that learns each session's handshake from the SDK's own contexts.

    The first message the SDK handles after the ``initialize`` commit (usually
    ``notifications/initialized``) carries the negotiated version and the client's
    parameters; a new ``initialize`` on the session forgets them until the next message.
    """

    def __init__(self, manager: BridgeSessionManager) -> None:
        self._manager = manager
        self.learnt: dict[str, _Learnt] = {}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        exchange = exchange_of(ctx.request)
        if exchange is not None and not exchange.direct:
            self._learn(ctx)
        return await call_next(ctx)

    def _learn(self, ctx: ServerRequestContext[Any, Any]) -> None:
        headers = getattr(ctx.request, "headers", None)
        session_id = headers.get(MCP_SESSION_ID_HEADER) if headers is not None else None
        session = self._manager.open_session(session_id)
        if session is None:
            return
        params = ctx.session.client_params
        if ctx.method == "initialize" or params is None:
            self._forget(session)
            return
        known = self.learnt.get(session.session_id)
        if known is not None and known.client_params is params:
            return
        connection = Connection(
            StandaloneVia(ctx.session),
            protocol_version=ctx.protocol_version,
            session_id=session.session_id,
            client_params=params,
        )
        connection.initialized.set()
        if known is None:
            session.on_end.append(lambda: self._forget(session))
        learnt = _Learnt(ctx.protocol_version, params, connection, ctx.lifespan_context)
        self.learnt[session.session_id] = learnt

    def _forget(self, session: BridgeSession) -> None:
        self.learnt.pop(session.session_id, None)


@dataclass(eq=False)
class _Call:
    """A call in flight on the direct path (the SDK dispatcher's in-flight entry)."""

    channel: JsonAnswerChannel
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    session_ended: bool = False


class DirectCalls:
    """Serves the eligible ``tools/call`` POSTs; see the module docstring."""

    def __init__(
        self,
        server: Server[Any],
        manager: BridgeSessionManager,
        security: TransportSecuritySettings | None,
        *,
        enabled: bool = True,
    ) -> None:
        self._server = server
        self._manager = manager
        self._security = TransportSecurityMiddleware(security)
        self.learner = Learner(manager)
        self.enabled = (
            enabled
            and server.get_request_handler(METHOD) is not None
            and METHOD not in server.cache_hints
        )
        """Off with BRIDGE_DIRECT_CALLS=false, or when the server's shape needs the SDK path."""
        self.served = 0
        """Calls answered by the direct path (what tests and ``/health`` can tell it by)."""
        self._calls: dict[tuple[str, RequestId], _Call] = {}

    # -- the gate's entry points ---------------------------------------------------------------

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, exchange: Exchange, document: Any
    ) -> bool:
        """Answer the POST if it is a direct-path call (True); False: the SDK path takes it."""
        if not self.enabled or exchange.streamed or not _plain_call(document):
            return False
        headers = Headers(scope=scope)
        session = self._session_for(scope, headers)
        if session is None:
            return False
        learnt = self.learner.learnt.get(session.session_id)
        if learnt is None or not _json_content(headers):
            return False
        request = Request(scope, receive)
        if await self._security.validate_request(request, is_post=True) is not None:
            return False
        exchange.direct = True
        self.served += 1
        answer = await self._call(session, learnt, request, document)
        await answer(scope, receive, send)
        return True

    def cancelled(self, session_id: str | None, document: dict[str, Any], status: int) -> None:
        """A ``notifications/cancelled`` the SDK accepted (202) for this session: cancel the
        direct call it names, as the SDK's dispatcher does its own (peer-cancel "interrupt")."""
        params = document.get("params")
        request_id = cancelled_request_id_from_params(params if isinstance(params, dict) else None)
        if status != 202 or session_id is None or request_id is None:
            return
        call = self._calls.get((session_id, coerce_request_id(request_id)))
        if call is not None:
            call.channel.cancel_requested.set()
            call.scope.cancel()

    # -- one call ------------------------------------------------------------------------------

    def _session_for(self, scope: Scope, headers: Headers) -> BridgeSession | None:
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return None
        session = self._manager.open_session(headers.get(MCP_SESSION_ID_HEADER))
        user = scope.get("user")
        requestor = authorization_context(user) if isinstance(user, AuthenticatedUser) else None
        if session is None or requestor != session.owner:
            return None
        return session

    async def _call(
        self, session: BridgeSession, learnt: _Learnt, request: Request, document: dict[str, Any]
    ) -> Response:
        request_id: RequestId = document["id"]
        stamp_session(request.scope, session.session_id)
        call = _Call(JsonAnswerChannel(request_id))
        key = (session.session_id, coerce_request_id(request_id))
        self._calls[key] = call
        end = functools.partial(_session_ended, call)
        session.on_end.append(end)
        message: dict[str, Any] | JSONRPCError | None = None
        try:
            with session.transport.in_use(), call.scope:
                message = await self._run(learnt, call, request, document)
        finally:
            if self._calls.get(key) is call:
                del self._calls[key]
            if end in session.on_end:
                session.on_end.remove(end)
        if call.session_ended:
            return _terminated(session.session_id)
        if message is None or call.channel.cancel_requested.is_set():
            error = ErrorData(code=REQUEST_CANCELLED, message="Request cancelled")
            message = JSONRPCError(jsonrpc="2.0", id=request_id, error=error)
        return _json_response(request_id, message, session.session_id)

    async def _run(
        self, learnt: _Learnt, call: _Call, request: Request, document: dict[str, Any]
    ) -> dict[str, Any] | JSONRPCError:
        """The middleware chain and the handler, as the SDK's runner and dispatcher run them:
        the shaped result, or the error to answer with."""
        params: dict[str, Any] = document["params"]
        meta = _meta_of(params)
        version = learnt.protocol_version
        ctx: ServerRequestContext[Any, Any] = ServerRequestContext(
            session=ServerSession(call.channel, learnt.connection, request_meta=meta),
            lifespan_context=learnt.lifespan_context,
            protocol_version=version,
            method=METHOD,
            params=params,
            request_id=call.channel.request_id,
            meta=meta,
            request=request,
        )
        chain: CallNext = functools.partial(self._handle, version)
        for middleware in reversed(self._server.middleware):
            chain = functools.partial(middleware, call_next=chain)
        try:
            result = _dump(await chain(ctx))
        except Exception as exc:
            error = handler_exception_to_error_data(exc)
            if error is None:
                logger.exception("handler for %r raised", METHOD)
                error = ErrorData(code=0, message=str(exc))
            return JSONRPCError(jsonrpc="2.0", id=call.channel.request_id, error=error)
        return result

    async def _handle(self, version: str, ctx: ServerRequestContext[Any, Any]) -> HandlerResult:
        """The innermost link: surface validation, the handler, the result shaped for
        ``version`` (the SDK runner's steps for a handshake-era request)."""
        try:
            spec_methods.validate_client_request(ctx.method, version, ctx.params)
        except KeyError:
            raise _not_found(ctx.method) from None
        entry = self._server.get_request_handler(ctx.method)
        if entry is None:
            raise _not_found(ctx.method)
        typed = entry.params_type.model_validate(ctx.params or {}, by_name=False)
        result = await entry.handler(ctx, typed)
        if isinstance(result, ErrorData):
            raise MCPError.from_error_data(result)
        try:
            return spec_methods.serialize_server_result(ctx.method, version, _dump(result))
        except ValidationError:
            logger.exception("handler for %r returned an invalid result", ctx.method)
            raise MCPError(
                code=INTERNAL_ERROR, message="Handler returned an invalid result"
            ) from None


def _plain_call(document: Any) -> bool:
    """A JSON-RPC ``tools/call`` request with an id and params and nothing else."""
    if not isinstance(document, dict) or document.get("method") != METHOD:
        return False
    request_id = document.get("id")
    return (
        document.keys() <= _REQUEST_KEYS
        and document.get("jsonrpc") == "2.0"
        and type(request_id) in (int, str)
        and isinstance(document.get("params"), dict)
    )


def _json_content(headers: Headers) -> bool:
    content_type = headers.get("content-type", "")
    return content_type.partition(";")[0].strip().lower() == "application/json"


def _meta_of(params: Mapping[str, Any]) -> RequestParamsMeta | None:
    """The request's ``_meta`` as the SDK lifts it (None when absent or malformed)."""
    if "_meta" not in params:
        return None
    try:
        return RequestParams.model_validate(params, by_name=False).meta
    except ValidationError:
        return None


def _dump(result: HandlerResult) -> dict[str, Any]:
    if result is None:
        return {}
    if isinstance(result, ErrorData):
        raise MCPError.from_error_data(result)
    if isinstance(result, BaseModel):
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dict(result)


def _not_found(method: str) -> MCPError:
    return MCPError(code=METHOD_NOT_FOUND, message="Method not found", data=method)


def _session_ended(call: _Call) -> None:
    call.session_ended = True
    call.scope.cancel()


def response_body(request_id: RequestId, result: dict[str, Any]) -> bytes:
    """The bytes ``JSONRPCResponse(jsonrpc="2.0", id=..., result=...).model_dump_json(by_alias=True,
    exclude_unset=True)`` gives, without building and re-validating that model.

    ``result`` is already shaped for the negotiated version (``serialize_server_result``: a dict
    of JSON values), and ``JSONRPCResponse.result`` is ``dict[str, Any]``, so the SDK's model
    only copies it; pydantic's own serializer for ``dict[str, Any]`` writes the same keys in
    the same order with the same number and string encoding (tests/bridge/test_direct_body.py).
    """
    return _BODY.dump_json({"jsonrpc": "2.0", "id": request_id, "result": result})


def _json_response(
    request_id: RequestId, message: dict[str, Any] | JSONRPCError, session_id: str
) -> Response:
    """The answer to a call: its result (the common case, see :func:`response_body`) or the
    SDK's own error model, dumped as the SDK's JSON-response path dumps it."""
    if isinstance(message, JSONRPCError):
        return _respond(message, 200, session_id)
    return _respond(response_body(request_id, message), 200, session_id)


def _terminated(session_id: str) -> Response:
    """The SDK's answer to a JSON request whose session ended while it ran."""
    text = "Session terminated before the request completed"
    body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INTERNAL_ERROR, message=text))
    return _respond(body, 500, session_id)


def _respond(body: bytes | JSONRPCError, status: int, session_id: str) -> Response:
    if isinstance(body, JSONRPCError):
        body = body.model_dump_json(by_alias=True, exclude_unset=True).encode()
    headers = {"Content-Type": "application/json", MCP_SESSION_ID_HEADER: session_id}
    return Response(body, status_code=status, headers=headers)


__all__ = ["DirectCalls", "JsonAnswerChannel", "Learner", "StandaloneVia"]
