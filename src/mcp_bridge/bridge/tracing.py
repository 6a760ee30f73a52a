"""OpenTelemetry tracing of the bridge, per the OpenTelemetry MCP semantic conventions.

Off unless configured by the standard variables (``OTEL_TRACES_EXPORTER=otlp``, or an
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``OTEL_SDK_DISABLED``
wins). When on, each app owns its ``TracerProvider`` (the global one is never set), exporting
OTLP/HTTP in batches; the SDK itself reads the other ``OTEL_*`` variables (headers, timeout,
sampler, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*``).

Spans: one ``SERVER`` span per MCP request or notification, named ``{mcp.method.name}
{target}`` (the tool or prompt name; the method alone otherwise), whose parent is the W3C trace
context in ``params._meta`` (``traceparent``/``tracestate``), else the HTTP ``traceparent``
header (linked when both are present and differ); a ``CLIENT`` child for each request sent to
an upstream meanwhile (the pool's observer), whose context goes to the upstream in
``params._meta``; an ``INTERNAL`` child per
audit record written during the request. Arguments and results never go into spans. The trace
and span ids go into the audit record (``traceId``, ``spanId``; the caller's ``traceId`` and
``callerSpanId`` even with tracing off), and the span carries the record's ``correlationId``,
so each leads to the other. docs/mcp-bridge/observability.md.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mcp_bridge import __version__

from .settings import BridgeSettings

TRACEPARENT = "traceparent"
DEFAULT_TRACES_ENDPOINT = "http://localhost:4318/v1/traces"
SHUTDOWN_SECONDS = 5.0
"""On a clean stop, how long buffered spans may take to export (an unreachable collector
must not hold the stop up for the SDK's default 30 s)."""

logger = logging.getLogger(__name__)


def traces_endpoint(settings: BridgeSettings) -> str | None:
    """Where spans go, or ``None`` when tracing is off (the standard variables' rules)."""
    if settings.otel_sdk_disabled or settings.otel_traces_exporter == "none":
        return None
    if settings.otel_exporter_otlp_traces_endpoint:
        return settings.otel_exporter_otlp_traces_endpoint
    if settings.otel_exporter_otlp_endpoint:
        return settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    return DEFAULT_TRACES_ENDPOINT if settings.otel_traces_exporter == "otlp" else None


class Tracing:
    """The app's tracer and W3C trace-context propagator."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("mcp_bridge", __version__)

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> Tracing | None:
        endpoint = traces_endpoint(settings)
        if endpoint is None:
            return None
        provider = TracerProvider(resource=_resource(), shutdown_on_exit=False)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        return cls(provider)

    def server_span(
        self,
        name: str,
        attributes: Mapping[str, Any],
        meta: Any,
        headers: Mapping[str, str] | None,
    ) -> Span:
        """Start the request's span under the caller's trace context (``_meta``, else HTTP)."""
        from_meta = _extract(meta)
        from_http = _extract(headers)
        parent = from_meta or from_http
        links = []
        if from_meta is not None and from_http is not None:
            http_context = trace.get_current_span(from_http).get_span_context()
            meta_context = trace.get_current_span(from_meta).get_span_context()
            if http_context.trace_id != meta_context.trace_id:
                links.append(Link(http_context))
        return self.tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=dict(attributes), links=links
        )

    def child_span(self, name: str, kind: SpanKind, attributes: Mapping[str, Any]) -> Span | None:
        """A span under the current one, or ``None`` outside a traced request."""
        if not trace.get_current_span().is_recording():
            return None
        return self.tracer.start_span(name, kind=kind, attributes=dict(attributes))

    def outgoing_meta(self, span: Span) -> dict[str, str]:
        """``traceparent``/``tracestate`` for the ``_meta`` of the request sent upstream."""
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(span))
        return carrier

    def close(self) -> None:
        """Export what is buffered and stop the exporter, waiting at most
        :data:`SHUTDOWN_SECONDS` (the SDK's shutdown has no shorter bound of its own)."""
        stopping = threading.Thread(
            target=self.provider.shutdown, name="otel-shutdown", daemon=True
        )
        stopping.start()
        stopping.join(SHUTDOWN_SECONDS)
        if stopping.is_alive():
            logger.warning(
                "OpenTelemetry: spans not exported within %gs of the stop are dropped "
                "(is the collector at OTEL_EXPORTER_OTLP_ENDPOINT reachable?)",
                SHUTDOWN_SECONDS,
            )


def _extract(carrier: Any) -> Context | None:
    """The W3C trace context in ``carrier`` (``_meta`` or HTTP headers), if it holds a valid one
    (a malformed ``traceparent`` is ignored, as the W3C rules ask)."""
    if not isinstance(carrier, Mapping) or not carrier.get(TRACEPARENT):
        return None
    context = TraceContextTextMapPropagator().extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def caller_trace(meta: Any, headers: Mapping[str, str] | None) -> SpanContext | None:
    """The caller's trace context: ``params._meta``'s, else the HTTP ``traceparent``'s (the
    parent a server span would get), whether or not the bridge itself traces."""
    context = _extract(meta) or _extract(headers)
    return None if context is None else trace.get_current_span(context).get_span_context()


async def mirror_trace_headers(request: Any) -> None:
    """httpx request hook of an HTTP upstream's client: a JSON-RPC message whose ``_meta``
    carries W3C trace context gets it as HTTP headers too, for tracers at the HTTP level.

    The upstream connection is shared and its requests are sent from the transport's own task,
    so the context cannot come from the caller; it comes from the message itself. Messages
    without ``traceparent`` (tracing off) cost one substring search.
    """
    body = request.content
    if request.method != "POST" or b'"traceparent"' not in body:
        return
    try:
        params = json.loads(body).get("params") or {}
        meta = params.get("_meta") or {}
    except (ValueError, AttributeError):
        return
    for key in (TRACEPARENT, "tracestate"):
        if isinstance(meta.get(key), str):
            request.headers[key] = meta[key]


def _resource() -> Resource:
    """The SDK's resource (it reads ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``),
    named ``mcp-bridge`` when those name no service (attributes given to ``Resource.create``
    would override them, so the name is merged only in place of the SDK's placeholder)."""
    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "mcp-bridge"}))
    return resource


def end_span(span: Span, error_type: str | None, message: str | None = None) -> None:
    """End ``span``; with ``error_type`` it is an error (``error.type``, status ERROR)."""
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, message))
    span.end()


__all__ = ["Tracing", "caller_trace", "end_span", "mirror_trace_headers", "traces_endpoint"]
