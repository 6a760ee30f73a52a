"""The audit middleware: every MCP request and notification the SDK dispatches is recorded here.

It runs inside the SDK's dispatch chain (``Server.middleware``), so it sees ``initialize``, unknown
methods, invalid params and handler failures alike, in both protocol generations. Mutating tool
calls are gated here: the intent must be durable before the call is forwarded (fail closed).

Read-only operations are recorded with ``durable=False``: they change nothing upstream, so a
crash that loses their last few records loses no evidence of a change, and they are not slowed
down by an fsync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import CLIENT_INFO_META_KEY
from pydantic import BaseModel

from mcp_bridge.audit.errors import AuditError

from .auth import ANONYMOUS, Identity
from .capture import Capture
from .errors import AUDIT_UNAVAILABLE, POLICY_DENIED, READ_ONLY_MODE, code_and_message, refused
from .exchange import Exchange, exchange_of
from .held import HeldCalls
from .pool import Target, UpstreamPool
from .recorder import TOOL_CALL_INTENT, Recorder, event_type_for
from .relay import session_id_of
from .telemetry import Telemetry

logger = logging.getLogger(__name__)

_WITH_ARGUMENTS = {"tools/call", "prompts/get"}


@dataclass(eq=False)
class Operation:
    """One MCP message being handled, and the payload fields known before it runs."""

    method: str
    is_request: bool
    target: Target | None
    payload: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: bool = False
    holds_slot: bool = False
    stopped: str | None = None
    """``cancelled`` or ``aborted`` once recorded so."""

    @property
    def mutating(self) -> bool:
        return self.method == "tools/call" and self.target is not None and self.target.mutating


class AuditMiddleware:
    """``ServerMiddleware`` recording each message and refusing unrecordable mutating calls.

    Every request gets exactly one outcome record while the bridge lives: its result or error,
    ``cancelled`` when the client cancels it (``notifications/cancelled`` or, in 2026-07-28, a
    dropped connection; the SDK then cancels the handler, which also sends the cancellation on
    to the upstream), or ``aborted`` when the bridge stops with it still running.
    """

    def __init__(
        self,
        recorder: Recorder,
        pool: UpstreamPool,
        local_identity: Identity | None = None,
        telemetry: Telemetry | None = None,
        held: HeldCalls | None = None,
    ) -> None:
        self._recorder = recorder
        self._pool = pool
        self._held = held or HeldCalls(0)
        """Held calls (``held.py``): one intent and one outcome per call, however many rounds."""
        self._telemetry = telemetry or Telemetry(None, None)
        self._local_identity = local_identity
        """The caller when there is no HTTP exchange (the stdio front end: the OS user)."""
        self._in_flight: set[Operation] = set()
        self._aborted = 0
        self.stopping = False

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        exchange = exchange_of(ctx.request)
        if exchange is not None:
            exchange.recorded = True
        op = await self._describe(ctx)
        params = _params(ctx)
        headers = getattr(ctx.request, "headers", None)
        with self._telemetry.request(op, params, headers) as watch:
            return watch.result(await self._handle(ctx, call_next, op, exchange))

    async def _handle(
        self,
        ctx: ServerRequestContext[Any, Any],
        call_next: CallNext,
        op: Operation,
        exchange: Exchange | None,
    ) -> HandlerResult:
        await self._enforce_policy(op, exchange.identity if exchange else self._local_identity)
        if not self._recorder.enabled:
            if op.mutating:
                raise refused(
                    READ_ONLY_MODE,
                    "the audit trail is disabled (AUDIT_ENABLED=false), so the bridge is "
                    "read-only and mutating tool calls are refused",
                )
            try:
                return await call_next(ctx)
            finally:
                self._held.take_started(ctx)
        params = _params(ctx)
        if op.method == "tools/call" and self._held.resumes(
            ctx, params.get("requestState"), params.get("inputResponses")
        ):
            # A retry of a held call: the call's intent and outcome are the first request's;
            # this request is recorded as the exchange whose answer it carries (answeredBy).
            try:
                return await call_next(ctx)
            finally:
                self._held.release(ctx)
        if op.mutating:
            await self._write_intent(op)
        elif op.is_request:
            await self._admit_during_outage(op)
        self._in_flight.add(op)
        try:
            result = await call_next(ctx)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._finish(op, None, None, "aborted" if self.stopping else "cancelled")
                self._end_started_held(ctx)
            raise
        except Exception as exc:
            self._held.take_started(ctx)
            await self._finish(op, None, exc)
            raise
        held = self._held.take_started(ctx)
        if held is None:
            await self._finish(op, result, None)
        elif held.done:
            await self._finish_held(op, held)
        else:
            held.on_end = lambda ended: self._finish_held(op, ended)
        return result

    def _end_started_held(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """The client cancelled the request that started a held call: end it upstream too."""
        held = self._held.take_started(ctx)
        if held is not None:
            self._held.cancel(held)

    async def _finish_held(self, op: Operation, held: Any) -> None:
        """A held call's one outcome, when its upstream call ended (``held.py``)."""
        op.payload["inputRounds"] = held.rounds
        if held.error is None and held.result is None:  # its scope was cancelled
            await self._finish(op, None, None, "aborted" if self.stopping else "cancelled")
        else:
            error = held.error if isinstance(held.error, Exception) else None
            await self._finish(op, held.result, error)

    def caller(self, ctx: ServerRequestContext[Any, Any]) -> Identity:
        """Who sent this request: the HTTP caller, or the local user of the stdio front end."""
        exchange = exchange_of(ctx.request)
        if exchange is not None:
            return exchange.identity
        return self._local_identity or ANONYMOUS

    async def abort_in_flight(self) -> int:
        """At shutdown: record ``aborted`` for every request still running.

        Returns how many were aborted since the stop began (a front end that cancels its
        handlers on a signal calls this first, and the stop record calls it again).
        """
        self.stopping = True
        running = list(self._in_flight)
        for op in running:
            await self._finish(op, None, None, "aborted")
        self._aborted += len(running)
        return self._aborted

    async def _enforce_policy(self, op: Operation, identity: Identity | None) -> None:
        """Refuse (and record, with the rule) what the ``access`` rules do not allow."""
        decision = self._pool.decide(op.target, op.method, identity or ANONYMOUS)
        if decision is None:
            return
        op.payload["policy"] = decision.as_payload()
        if decision.allowed:
            return
        reason = f"access policy: {decision.reason}"
        await self._recorder.background(
            event_type_for(op.method),
            {**op.payload, "decision": {**_refusal(reason), "rule": decision.rule}},
        )
        raise refused(POLICY_DENIED, f"{reason} (rule {decision.rule} in BRIDGE_CONFIG)")

    async def _admit_during_outage(self, op: Operation) -> None:
        """While the trail is down, serve a read-only request only if its record can be held."""
        outage = self._recorder.outage
        if outage.admit():
            op.holds_slot = outage.active
            return
        reason = (
            "the audit trail is down and the buffer of records waiting for it is full "
            f"(BRIDGE_OUTAGE_BUFFER_RECORDS={outage.limit}); requests are refused until the "
            "trail recovers"
        )
        await self._recorder.background(
            event_type_for(op.method), {**op.payload, "decision": _refusal(reason)}
        )
        raise refused(AUDIT_UNAVAILABLE, reason)

    async def _describe(self, ctx: ServerRequestContext[Any, Any]) -> Operation:
        params = _params(ctx)
        target = await self._target(ctx.method, params)
        exchange = exchange_of(ctx.request)
        payload: dict[str, Any] = {
            **(exchange.base_payload() if exchange else self._local_payload()),
            "method": ctx.method,
            "requestId": ctx.request_id,
            "sessionId": session_id_of(ctx),
            "protocolVersion": ctx.protocol_version,
            "client": _client_info(ctx, params),
            "upstream": target.upstream or None if target else None,
            "target": _target_payload(ctx.method, params, target),
            "mutating": (target.mutating if ctx.method == "tools/call" and target else None),
            "capture": self._recorder.capture.mode,
        }
        if ctx.method == "notifications/cancelled":
            payload["cancelledRequestId"] = params.get("requestId")
        subject = _arguments(ctx.method, params)
        payload["argumentsDigest"] = self._recorder.capture.digest(subject)
        if ctx.method in _WITH_ARGUMENTS:
            payload["arguments"] = self._recorder.capture.arguments(subject)
        return Operation(ctx.method, ctx.request_id is not None, target, payload)

    def _local_payload(self) -> dict[str, Any]:
        identity = self._local_identity.as_payload() if self._local_identity else None
        return {"correlationId": None, "identity": identity}

    async def _target(self, method: str, params: Mapping[str, Any]) -> Target | None:
        name = params.get("name")
        if method == "tools/call" and isinstance(name, str):
            return await self._pool.tool_target(name)
        if method == "prompts/get" and isinstance(name, str):
            return self._pool.prompt_target(name)
        uri = params.get("uri")
        if method == "resources/read" and isinstance(uri, str):
            return self._pool.resource_target(uri)
        return None

    async def _write_intent(self, op: Operation) -> None:
        """Make the intent durable or refuse the call; the upstream never sees a refused call.

        The refusal is reported three ways, because the trail that should hold it may be the
        thing that is broken: the JSON-RPC error tells the client why, the log line (with the
        correlation id and caller) survives a trail that cannot write at all, and the refusal is
        queued to the trail without waiting, so it is kept whenever the store can still append.
        """
        payload = {**op.payload, "decision": {"outcome": "pending", "reason": "mutating tool"}}
        try:
            await self._recorder.durable(TOOL_CALL_INTENT, payload)
        except AuditError as exc:
            reason = (
                "the audit trail could not make the intent of this mutating call durable "
                f"({exc}); mutating calls are refused until the trail recovers"
            )
            identity = op.payload.get("identity") or {}
            logger.error(
                "refusing mutating call %s (correlationId=%s, subject=%s): %s",
                (op.payload.get("target") or {}).get("name"),
                op.payload.get("correlationId"),
                identity.get("subject"),
                exc,
            )
            await self._recorder.background(
                event_type_for(op.method),
                {**op.payload, "decision": _refusal(reason)},
            )
            raise refused(AUDIT_UNAVAILABLE, reason) from exc

    async def _finish(
        self,
        op: Operation,
        result: HandlerResult,
        error: Exception | None,
        stopped: str | None = None,
    ) -> None:
        """Write the operation's outcome once (a cancelled call and shutdown may both try)."""
        if op.finished:
            return
        op.finished = True
        self._in_flight.discard(op)
        if stopped is None:
            payload = {**op.payload, **_outcome(result, error, self._recorder.capture)}
        else:
            payload = {**op.payload, "isError": None, "errorCode": None, "resultDigest": None}
            op.stopped = stopped
        payload["durationMs"] = round((time.monotonic() - op.started) * 1000, 3)
        payload["decision"] = _decision(op, error) if stopped is None else _stopped(op, stopped)
        # Outcomes are not awaited, a mutating call's neither: its intent was durable before
        # the upstream saw the call; the outcome joins the next group commit (held by the
        # outage buffer if that batch fails, flushed by a clean stop). After a crash an intent
        # without its outcome means "outcome unknown" (docs/mcp-bridge/bridge.md).
        try:
            await self._recorder.background(event_type_for(op.method), payload)
        finally:
            if op.holds_slot:
                self._recorder.outage.release()


_STOPPED_REASONS = {
    "cancelled": "cancelled by the client; the cancellation was sent on to the upstream",
    "aborted": "the bridge stopped while the call was running; its upstream outcome is unknown",
}


def _stopped(op: Operation, outcome: str) -> dict[str, str]:
    return {"outcome": outcome, "reason": _STOPPED_REASONS[outcome]}


def _refusal(reason: str) -> dict[str, str]:
    return {"outcome": "refused", "reason": reason}


def _decision(op: Operation, error: Exception | None) -> dict[str, str]:
    if op.mutating:
        reason = "mutating tool; intent recorded durably before forwarding"
    elif op.method == "tools/call":
        reason = "read-only tool"
    else:
        reason = "not a tool call"
    if isinstance(error, MCPError) and error.code in (AUDIT_UNAVAILABLE, READ_ONLY_MODE):
        return _refusal(error.message)
    return {"outcome": "allowed", "reason": reason}


def _outcome(result: HandlerResult, error: Exception | None, capture: Capture) -> dict[str, Any]:
    if error is None:
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        is_error = bool(result.get("isError")) if isinstance(result, dict) else False
        return {"isError": is_error, "errorCode": None, "resultDigest": capture.digest(result)}
    code, message = code_and_message(error)
    return {"isError": True, "errorCode": code, "errorMessage": message[:500], "resultDigest": None}


def _params(ctx: ServerRequestContext[Any, Any]) -> Mapping[str, Any]:
    return ctx.params if isinstance(ctx.params, Mapping) else {}


def _arguments(method: str, params: Mapping[str, Any]) -> Any:
    if method in _WITH_ARGUMENTS:
        return params.get("arguments") or {}
    return {k: v for k, v in params.items() if k != "_meta"}


def _target_payload(
    method: str, params: Mapping[str, Any], target: Target | None
) -> dict[str, Any] | None:
    if target is None:
        return None
    kind = {"tools/call": "tool", "prompts/get": "prompt", "resources/read": "resource"}[method]
    exposed = params.get("uri") if kind == "resource" else params.get("name")
    return {"kind": kind, "name": exposed, "upstreamName": target.name if target.upstream else None}


def _client_info(ctx: ServerRequestContext[Any, Any], params: Mapping[str, Any]) -> Any:
    """Client name/version from wherever the protocol in use carries them."""
    info: Any = None
    if ctx.method == "initialize":
        info = params.get("clientInfo")
    elif ctx.session.client_params is not None:
        known = ctx.session.client_params.client_info
        return {"name": known.name, "version": known.version}
    if info is None and isinstance(params.get("_meta"), Mapping):
        info = params["_meta"].get(CLIENT_INFO_META_KEY)
    if not isinstance(info, Mapping):
        return None
    return {"name": info.get("name"), "version": info.get("version")}


__all__ = ["AuditMiddleware", "Operation"]
