"""The HTTP gate in front of the SDK's ``/mcp`` endpoint.

Before the SDK sees a request the gate assigns the correlation id (``X-Request-ID``, echoed on the
response), authenticates the caller (401 + ``auth.denied`` otherwise) and enforces the body limit.
Anything the SDK then refuses before it became an MCP message (malformed JSON, unknown session,
…) never reaches the audit middleware, so the gate records it as ``mcp.transport.rejected``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER, unsupported_protocol_version_rejection
from mcp_types import INVALID_REQUEST
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, KNOWN_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import AuthDenied, Authenticator, Identity
from .errors import UNAUTHORIZED
from .exchange import Exchange, attach, correlation_id_from
from .recorder import AUTH_DENIED, SESSION_DELETED, TRANSPORT_REJECTED, Recorder, event_type_for
from .refusals import (
    NOT_ACCEPTABLE,
    PROTOCOL_VERSION_UNSUPPORTED,
    SessionBook,
    error_text,
    reason_for,
)
from .resource_metadata import challenge
from .transport import answer_with

if TYPE_CHECKING:
    from .direct import DirectCalls

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"


_CLIENT_FEATURES = ("sampling", "elicitation", "roots")
_MAY_ASK_THE_CLIENT = frozenset({"tools/call", "prompts/get", "resources/read"})


class BodyTooLarge(Exception):
    pass


@dataclass
class Peek:
    """What the gate could tell about a POST body without handling it."""

    method: str | None = None
    is_notification: bool = False
    problem: str | None = None
    wants_progress: bool = False
    request_id: str | int | None = None
    back_channel: bool = False
    """An ``initialize`` whose client declared sampling, elicitation or roots."""
    document: Any = None
    """The parsed body (for the direct path, which does not parse it again)."""


@dataclass
class Refusal:
    """An HTTP-level refusal: status, JSON-RPC error, reason code and detail for the trail."""

    status: int
    code: int
    message: str
    reason: str
    detail: str
    data: Any = None


def peek(body: bytes) -> Peek:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return Peek(problem="malformed JSON")
    if not isinstance(document, dict) or document.get("jsonrpc") != "2.0":
        return Peek(problem="not a JSON-RPC 2.0 message object")
    method = document.get("method")
    if method is not None and not isinstance(method, str):
        return Peek(problem="JSON-RPC method is not a string")
    params = document.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    request_id = document.get("id")
    capabilities = params.get("capabilities") if isinstance(params, dict) else None
    return Peek(
        document=document,
        method=method,
        is_notification=method is not None and "id" not in document,
        wants_progress=isinstance(meta, dict) and meta.get("progressToken") is not None,
        request_id=request_id if isinstance(request_id, str | int) else None,
        back_channel=method == "initialize"
        and isinstance(capabilities, dict)
        and any(capabilities.get(k) is not None for k in _CLIENT_FEATURES),
    )


def check_post(scope: Scope, seen: Peek) -> Refusal | None:
    """What the spec's reference server refuses before JSON-RPC handling, answered the same way.

    A POST must accept both ``application/json`` and ``text/event-stream`` (406 otherwise, even
    though this bridge answers JSON), and a ``MCP-Protocol-Version`` header must name a revision
    the bridge speaks (400 with ``UNSUPPORTED_PROTOCOL_VERSION`` otherwise; ``initialize``
    negotiates in its body, so its header is not checked).
    """
    request = Request(scope)
    has_json, has_sse = check_accept_headers(request)
    if not (has_json and has_sse):
        message = "Not Acceptable: Client must accept both application/json and text/event-stream"
        return Refusal(406, INVALID_REQUEST, message, NOT_ACCEPTABLE, message)
    requested = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
    if requested is None or requested in KNOWN_PROTOCOL_VERSIONS or seen.method == "initialize":
        return None
    rejection = unsupported_protocol_version_rejection(requested, KNOWN_PROTOCOL_VERSIONS)
    assert rejection is not None
    return Refusal(
        400,
        rejection.code,
        f"Unsupported protocol version: {requested}",
        PROTOCOL_VERSION_UNSUPPORTED,
        f"MCP-Protocol-Version {requested[:40]}",
        rejection.data,
    )


class Gate:
    """ASGI wrapper around the SDK endpoint; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        recorder: Recorder,
        max_body: int,
        sessions: SessionBook | None = None,
        direct: DirectCalls | None = None,
    ) -> None:
        self._app = app
        self._direct = direct
        self._auth = authenticator
        self._recorder = recorder
        self._max_body = max_body
        self._sessions = sessions or SessionBook(lambda _: False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        exchange = Exchange(
            correlation_id_from(headers.get(REQUEST_ID_HEADER)), http_method=scope["method"]
        )
        answer = _Answer()
        send = _tagged_send(send, exchange.correlation_id, answer)
        try:
            exchange.identity = await self._auth.authenticate(headers.get("authorization"))
        except AuthDenied as denied:
            await deny(scope, receive, send, self._auth, self._recorder, exchange, denied.reason)
            return
        attach(scope, exchange)
        _bind_principal(scope, exchange.identity)
        seen = Peek()
        if scope["method"] == "POST":
            try:
                body = await _read_body(receive, self._max_body, headers)
            except BodyTooLarge:
                await self._reject_too_large(scope, receive, send, exchange)
                return
            seen = peek(body)
            refusal = check_post(scope, seen)
            if refusal is not None:
                await self._refuse(scope, receive, send, exchange, refusal, seen)
                return
            receive = _replay(body, receive)
            exchange.streamed = (
                seen.wants_progress
                or _is_modern(headers)
                or (
                    seen.method in _MAY_ASK_THE_CLIENT
                    and self._sessions.can_be_asked(headers.get("mcp-session-id"))
                )
            )
            answer_with(json=not exchange.streamed)
        try:
            if not await self._served_directly(scope, receive, send, exchange, seen):
                await self._app(scope, receive, send)
        except Exception as exc:
            await self._failed(exchange, seen, answer, exc)
            raise
        if self._direct is not None and seen.method == "notifications/cancelled":
            self._direct.cancelled(headers.get("mcp-session-id"), seen.document, answer.status)
        if answer.session_id:
            self._sessions.saw(answer.session_id, _streams_calls(seen, answer))
        await self._after(exchange, headers, seen, answer)

    async def _served_directly(
        self, scope: Scope, receive: Receive, send: Send, exchange: Exchange, seen: Peek
    ) -> bool:
        """A ``tools/call`` the direct path answers (``direct.py``); False: the SDK's turn."""
        if self._direct is None or seen.method != "tools/call" or seen.problem is not None:
            return False
        return await self._direct.serve(scope, receive, send, exchange, seen.document)

    async def _after(
        self, exchange: Exchange, headers: Headers, seen: Peek, answer: _Answer
    ) -> None:
        if exchange.recorded:
            return
        status = answer.status
        payload = {**exchange.base_payload(), "httpMethod": exchange.http_method, "status": status}
        if exchange.http_method == "DELETE" and status < 400:
            payload["sessionId"] = headers.get("mcp-session-id")
            await self._recorder.background(SESSION_DELETED, payload)
        elif seen.problem is not None or status >= 400:
            detail = error_text(bytes(answer.body))
            session_id = headers.get("mcp-session-id")
            reason = seen.problem or reason_for(status, detail, session_id, self._sessions)
            payload |= {"method": seen.method, "reason": reason, "detail": detail}
            payload["sessionId"] = session_id
            payload["origin"] = headers.get("origin")
            await self._recorder.background(TRANSPORT_REJECTED, payload)
        elif seen.is_notification and seen.method and _is_modern(headers):
            payload |= {"method": seen.method, "decision": {"outcome": "acknowledged"}}
            await self._recorder.background(event_type_for(seen.method), payload)

    async def _failed(
        self, exchange: Exchange, seen: Peek, answer: _Answer, exc: Exception
    ) -> None:
        """The SDK failed on the request (e.g. its session closed while it was being handled)."""
        if exchange.recorded:
            return
        payload = {
            **exchange.base_payload(),
            "httpMethod": exchange.http_method,
            "status": answer.status,
            "method": seen.method,
            "reason": "bridge-error",
            "detail": f"{type(exc).__name__}: {exc}"[:300],
        }
        await self._recorder.background(TRANSPORT_REJECTED, payload)

    async def _reject_too_large(
        self, scope: Scope, receive: Receive, send: Send, exchange: Exchange
    ) -> None:
        reason = f"request body exceeds BRIDGE_MAX_BODY_BYTES={self._max_body}"
        refusal = Refusal(413, INVALID_REQUEST, reason, reason, reason)
        await self._refuse(scope, receive, send, exchange, refusal, Peek())

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        exchange: Exchange,
        refusal: Refusal,
        seen: Peek,
    ) -> None:
        payload = {
            **exchange.base_payload(),
            "httpMethod": exchange.http_method,
            "method": seen.method,
            "status": refusal.status,
            "reason": refusal.reason,
            "detail": refusal.detail,
        }
        await self._recorder.background(TRANSPORT_REJECTED, payload)
        response = _jsonrpc_error(
            refusal.status, refusal.code, refusal.message, refusal.data, seen.request_id
        )
        await response(scope, receive, send)


async def deny(
    scope: Scope,
    receive: Receive,
    send: Send,
    auth: Authenticator,
    recorder: Recorder,
    exchange: Exchange,
    reason: str,
) -> None:
    """Answer 401 with the ``WWW-Authenticate`` challenge and record ``auth.denied``."""
    headers = Headers(scope=scope)
    scheme = (headers.get("authorization") or "").partition(" ")[0].lower() or None
    client = scope.get("client")
    await recorder.background(
        AUTH_DENIED,
        {
            "correlationId": exchange.correlation_id,
            "reason": reason,
            "authScheme": scheme,
            "httpMethod": exchange.http_method,
            "path": scope.get("path"),
            "remoteAddr": client[0] if client else None,
            "decision": {"outcome": "refused", "reason": reason},
        },
    )
    response = _jsonrpc_error(401, UNAUTHORIZED, f"unauthorized: {reason}")
    response.headers["WWW-Authenticate"] = challenge(
        auth.settings, scope, token_presented=scheme is not None
    )
    await response(scope, receive, send)


def _jsonrpc_error(
    status: int, code: int, message: str, data: Any = None, request_id: str | int | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    body = {"jsonrpc": "2.0", "id": request_id, "error": error}
    return JSONResponse(body, status_code=status)


def _streams_calls(seen: Peek, answer: _Answer) -> bool | None:
    """Whether this exchange makes its session's later calls streamed (None: no change).

    A session's calls are streamed once its client declared sampling, elicitation or roots
    (they may be asked during a call) or asked for logs with ``logging/setLevel`` (a call's
    logs ride its stream).
    """
    if seen.method == "initialize":
        return seen.back_channel
    if seen.method == "logging/setLevel" and answer.status < 400:
        return True
    return None


def _is_modern(headers: Headers) -> bool:
    version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
    return version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS


def _bind_principal(scope: MutableMapping[str, Any], identity: Identity) -> None:
    """Expose the caller to the SDK so a session only accepts the credential that opened it."""
    if identity.auth_method == "none":
        return
    token = AccessToken(
        token=identity.token_id or identity.subject,
        client_id=identity.subject,
        scopes=list(identity.roles),
        subject=identity.subject,
        claims={"iss": identity.issuer} if identity.issuer else None,
    )
    scope["user"] = AuthenticatedUser(token)


@dataclass
class _Answer:
    """What the gate remembers of the response: status, session id, start of an error body."""

    status: int = 0
    session_id: str | None = None
    body: bytearray = field(default_factory=bytearray)


_ERROR_BODY_KEPT = 2048


def _tagged_send(send: Send, correlation_id: str, answer: _Answer) -> Send:
    """Echo the correlation id on the response and remember what was answered."""

    async def tagged(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = int(message["status"])
            headers = []
            for key, value in message.get("headers", []):
                if key.lower() == b"mcp-session-id":
                    answer.session_id = value.decode("latin-1")
                if key.lower() != b"x-request-id":
                    headers.append((key, value))
            headers.append((b"x-request-id", correlation_id.encode()))
            message = {**message, "headers": headers}
        elif message["type"] == "http.response.body" and answer.status >= 400:
            room = _ERROR_BODY_KEPT - len(answer.body)
            answer.body += message.get("body", b"")[: max(room, 0)]
        await send(message)

    return tagged


async def _read_body(receive: Receive, limit: int, headers: Headers) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the already-read body once, then defers to the real one."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


__all__ = ["REQUEST_ID_HEADER", "Gate", "Peek", "deny", "peek"]
