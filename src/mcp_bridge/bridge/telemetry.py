"""The hooks the gateway calls for metrics and traces, in one place.

The middleware, the relay and the recorder each make one call here per request, upstream call or
audit record; what is off costs a ``None`` check. :class:`Telemetry` is built once from the
settings (``BRIDGE_METRICS``, the ``OTEL_*`` variables) by :func:`~.gateway.assemble`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from mcp.shared.exceptions import MCPError
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from mcp_bridge.audit import AuditTrail

from .errors import AUDIT_UNAVAILABLE, POLICY_DENIED, READ_ONLY_MODE, code_and_message
from .metrics import BridgeMetrics
from .outage import Outage
from .pool import Target, UpstreamPool
from .recorder import AUTH_DENIED, UNKNOWN_METHOD, event_type_for
from .settings import BridgeSettings
from .tracing import Tracing, caller_trace, end_span

if TYPE_CHECKING:
    from .middleware import Operation

_T = TypeVar("_T")

REFUSALS = {
    POLICY_DENIED: "policy_denied",
    AUDIT_UNAVAILABLE: "audit_unavailable",
    READ_ONLY_MODE: "read_only_mode",
}
"""Bridge error codes that mean "refused", and the ``reason`` label each gets."""

_URI_METHODS = ("resources/read", "resources/subscribe", "resources/unsubscribe")
_TARGET_ATTRIBUTE = {"tools/call": "gen_ai.tool.name", "prompts/get": "gen_ai.prompt.name"}


@dataclass
class RequestWatch:
    """One MCP request being watched: its span (if traced) and what its outcome was."""

    span: Span | None
    outcome: str = "allowed"
    reason: str = ""
    message: str | None = None

    def result(self, result: _T) -> _T:
        """Note a handler result (``isError`` results count as errors); return it unchanged."""
        is_error = getattr(result, "is_error", None)
        if is_error is None and isinstance(result, Mapping):
            is_error = result.get("isError")
        if is_error:
            self.outcome, self.reason = "error", "tool_error"
        return result

    def failed(self, error: BaseException, stopped: str | None) -> None:
        if isinstance(error, anyio.get_cancelled_exc_class()):
            self.outcome = stopped or "cancelled"
            return
        if isinstance(error, MCPError) and error.code in REFUSALS:
            self.outcome, self.reason, self.message = "refused", REFUSALS[error.code], error.message
            return
        code, self.message = code_and_message(error)
        self.outcome, self.reason = "error", str(code)


class Telemetry:
    """Metrics (unless ``BRIDGE_METRICS=false``) and traces (when ``OTEL_*`` say so)."""

    def __init__(self, metrics: BridgeMetrics | None, tracing: Tracing | None) -> None:
        self.metrics = metrics
        self.tracing = tracing
        self._pool: UpstreamPool | None = None
        self._transport = "tcp"

    @classmethod
    def from_settings(cls, settings: BridgeSettings, *, served: bool = True) -> Telemetry:
        """``served=False``: no ``/metrics`` to serve them (the stdio front end), so no metrics."""
        metrics = BridgeMetrics() if settings.bridge_metrics and served else None
        return cls(metrics, Tracing.from_settings(settings))

    def watch(self, trail: AuditTrail, pool: UpstreamPool, outage: Outage, transport: str) -> None:
        """Attach to the gateway's parts (``transport``: ``tcp`` for HTTP, ``pipe`` for stdio)."""
        self._pool = pool
        self._transport = transport
        if self.metrics is not None:
            self.metrics.watch(trail, pool, outage)

    def close(self) -> None:
        if self.tracing is not None:
            self.tracing.close()

    # -- MCP requests ---------------------------------------------------------------------------

    @contextmanager
    def request(
        self, op: Operation, params: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> Iterator[RequestWatch]:
        """Around the handling of ``op``: its server span (current while it runs) and, at the
        end, its count and latency. The trace ids go into ``op.payload`` for the audit record:
        the server span's, or with tracing off the caller's own (``params._meta`` or the HTTP
        ``traceparent``), so the caller's trace still leads to the record."""
        caller = caller_trace(params.get("_meta"), headers)
        if caller is not None:
            op.payload["traceId"] = trace.format_trace_id(caller.trace_id)
            op.payload["callerSpanId"] = trace.format_span_id(caller.span_id)
        if self.metrics is None and self.tracing is None:
            yield RequestWatch(None)
            return
        watch = RequestWatch(self._server_span(op, params, headers))
        try:
            if watch.span is None:
                yield watch
            else:
                with trace.use_span(
                    watch.span,
                    end_on_exit=False,
                    record_exception=False,
                    set_status_on_exception=False,
                ):
                    yield watch
        except BaseException as exc:
            watch.failed(exc, op.stopped)
            raise
        finally:
            self._request_done(op, watch)

    def _server_span(
        self, op: Operation, params: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> Span | None:
        if self.tracing is None:
            return None
        payload = op.payload
        target = payload.get("target") or {}
        attributes: dict[str, Any] = {
            "mcp.method.name": op.method,
            "network.transport": self._transport,
            "mcp_bridge.correlation_id": payload.get("correlationId"),
            "mcp_bridge.upstream": payload.get("upstream"),
            "mcp.session.id": payload.get("sessionId"),
            "mcp.protocol.version": payload.get("protocolVersion"),
        }
        if payload.get("requestId") is not None:
            attributes["jsonrpc.request.id"] = str(payload["requestId"])
        name = op.method
        if op.method in _TARGET_ATTRIBUTE and target.get("name"):
            attributes[_TARGET_ATTRIBUTE[op.method]] = target["name"]
            name = f"{op.method} {target['name']}"
        if op.method == "tools/call":
            attributes["gen_ai.operation.name"] = "execute_tool"
        if op.method == "resources/read" and isinstance(params.get("uri"), str):
            attributes["mcp.resource.uri"] = params["uri"]
        present = {k: v for k, v in attributes.items() if v is not None}
        span = self.tracing.server_span(name, present, params.get("_meta"), headers)
        context = span.get_span_context()
        payload["traceId"] = trace.format_trace_id(context.trace_id)
        payload["spanId"] = trace.format_span_id(context.span_id)
        return span

    def _request_done(self, op: Operation, watch: RequestWatch) -> None:
        if watch.outcome == "allowed" and op.stopped:
            watch.outcome = op.stopped
        if watch.span is not None:
            watch.span.set_attribute("mcp_bridge.outcome", watch.outcome)
            error_type = None
            if watch.outcome == "refused":
                watch.span.set_attribute("mcp_bridge.refusal", watch.reason)
                error_type = watch.reason
            elif watch.outcome != "allowed":
                error_type = watch.reason or watch.outcome
            if watch.reason.lstrip("-").isdigit():
                watch.span.set_attribute("rpc.response.status_code", watch.reason)
            end_span(watch.span, error_type, watch.message)
        if self.metrics is not None:
            self.metrics.request_done(
                op.method if event_type_for(op.method) != UNKNOWN_METHOD else "unknown",
                op.target.upstream if op.target is not None else "",
                self._tool_label(op),
                watch.outcome,
                watch.reason,
                time.monotonic() - op.started,
            )

    def _tool_label(self, op: Operation) -> str:
        """The upstream's tool name if the upstream listed it (never a client-chosen string)."""
        if op.method != "tools/call" or op.target is None or not op.target.upstream:
            return ""
        exposed = (op.payload.get("target") or {}).get("name")
        listed = (
            self._pool is not None
            and isinstance(exposed, str)
            and self._pool.tool_input_schema(exposed) is not None
        )
        return op.target.name if listed else "unlisted"

    def rejected(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """An HTTP request refused before it became an MCP message (``auth.denied``,
        ``mcp.transport.rejected``). Authentication failures count under one reason: their
        texts can name keys and token details."""
        if self.metrics is not None:
            reason = "unauthorized" if event_type == AUTH_DENIED else str(payload.get("reason"))
            self.metrics.rejected.labels(event_type, reason).inc()

    # -- upstream calls -------------------------------------------------------------------------

    @contextmanager
    def upstream(self, target: Target, method: str) -> Iterator[dict[str, Any] | None]:
        """Around every request sent to an upstream (the pool's observer: calls, listings,
        completions, subscriptions, log levels): its latency and ``CLIENT`` span. Yields the
        ``_meta`` to send upstream (the span's trace context), or ``None`` when not traced."""
        if self.metrics is None and self.tracing is None:
            yield None
            return
        started = time.monotonic()
        span = self._upstream_span(target, method)
        error: str | None = None
        try:
            if span is None or self.tracing is None:
                yield None
            else:
                with trace.use_span(
                    span, end_on_exit=False, record_exception=False, set_status_on_exception=False
                ):
                    yield self.tracing.outgoing_meta(span)
        except BaseException as exc:
            error = type(exc).__name__
            if isinstance(exc, MCPError):
                error = str(exc.code)
            raise
        finally:
            if span is not None:
                end_span(span, error)
            if self.metrics is not None:
                seconds = self.metrics.child(self.metrics.upstream_seconds, target.upstream, method)
                seconds.observe(time.monotonic() - started)

    def _upstream_span(self, target: Target, method: str) -> Span | None:
        if self.tracing is None:
            return None
        upstream = self._pool.upstreams.get(target.upstream) if self._pool else None
        attributes: dict[str, Any] = {
            "mcp.method.name": method,
            "mcp_bridge.upstream": target.upstream,
            "network.transport": "pipe" if upstream and upstream.spec.command else "tcp",
        }
        name = method
        if method in _TARGET_ATTRIBUTE:
            attributes[_TARGET_ATTRIBUTE[method]] = target.name
            name = f"{method} {target.name}"
        if method == "tools/call":
            attributes["gen_ai.operation.name"] = "execute_tool"
        if method in _URI_METHODS and target.name:
            attributes["mcp.resource.uri"] = target.name
        return self.tracing.child_span(name, SpanKind.CLIENT, attributes)

    # -- audit records ------------------------------------------------------------------------

    def audit_started(self, event_type: str, durable: bool) -> AuditWatch | None:
        """A record handed to the trail; ``None`` when neither metrics nor traces are on."""
        if self.metrics is None and self.tracing is None:
            return None
        span = None
        if self.tracing is not None:
            span = self.tracing.child_span(
                "audit append",
                SpanKind.INTERNAL,
                {"mcp_bridge.audit.event_type": event_type, "mcp_bridge.audit.durable": durable},
            )
        return AuditWatch(self, span, durable, time.monotonic())


@dataclass
class AuditWatch:
    """One audit record on its way to durability."""

    telemetry: Telemetry
    span: Span | None
    durable: bool
    started: float

    def done(self, seq: int | None, error: BaseException | None) -> None:
        metrics = self.telemetry.metrics
        if metrics is not None:
            seconds = metrics.child(metrics.audit_append_seconds, str(self.durable).lower())
            seconds.observe(time.monotonic() - self.started)
        if self.span is not None:
            if seq is not None:
                self.span.set_attribute("mcp_bridge.audit.seq", seq)
            end_span(self.span, type(error).__name__ if error else None, str(error or "") or None)


__all__ = ["REFUSALS", "AuditWatch", "RequestWatch", "Telemetry"]
