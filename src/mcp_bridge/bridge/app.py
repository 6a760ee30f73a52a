"""The Starlette application: ``/mcp`` (gate → SDK streamable HTTP) and ``/health``.

The app's lifespan starts the SDK session manager and one supervisor task per upstream; the audit
trail is owned by the caller (it outlives the app and is closed by whoever opened it).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.witness.attest import attestation_health

from .auth import AuthDenied, Authenticator
from .direct import DirectCalls
from .exchange import Exchange, correlation_id_from
from .gate import REQUEST_ID_HEADER, Gate, deny
from .gateway import assemble, digest_key, running
from .metrics import CONTENT_TYPE, BridgeMetrics
from .outage import Outage
from .pool import UpstreamPool
from .refusals import SessionBook
from .resource_metadata import metadata_routes
from .server import SERVER_VERSION
from .settings import BridgeSettings, is_loopback
from .transport import BridgeSessionManager
from .upstream_config import UpstreamSpec

logger = logging.getLogger(__name__)

_LOOPBACK_SECURITY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)


def create_app(
    settings: BridgeSettings,
    trail: AuditTrail,
    upstreams: list[UpstreamSpec],
    *,
    authenticator: Authenticator | None = None,
) -> Starlette:
    """Assemble the gateway around an open audit trail and the configured upstreams."""
    gateway = assemble(
        settings, trail, upstreams, session_is_open=lambda sid: manager.session_is_open(sid)
    )
    recorder, pool = gateway.recorder, gateway.pool
    authenticator = authenticator or Authenticator.from_settings(settings)
    security = _LOOPBACK_SECURITY if is_loopback(settings.host) else None
    manager = BridgeSessionManager(
        app=gateway.server,
        max_request_body_size=settings.bridge_max_body_bytes,
        security_settings=security,
    )
    direct = DirectCalls(gateway.server, manager, security, enabled=settings.bridge_direct_calls)
    gateway.server.middleware.append(direct.learner)
    gate = Gate(
        StreamableHTTPASGIApp(manager),
        authenticator,
        recorder,
        settings.bridge_max_body_bytes,
        SessionBook(manager.session_is_open),
        direct,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        _warn_about_mode(settings, trail)
        async with manager.run(), running(gateway, _started_payload(settings)):
            yield

    async def health(_: Request) -> JSONResponse:
        body = health_report(trail, pool, recorder.outage)
        return JSONResponse(body, status_code=200 if body["status"] != "failing" else 503)

    routes = [Route("/mcp", gate), Route("/health", health, methods=["GET"])]
    if gateway.telemetry.metrics is not None:
        endpoint = MetricsEndpoint(gateway.telemetry.metrics, authenticator, recorder)
        routes.append(Route("/metrics", endpoint, methods=["GET"]))
    app = Starlette(routes=[*routes, *metadata_routes(settings)], lifespan=lifespan)
    app.state.telemetry = gateway.telemetry
    app.state.direct = direct
    app.state.close_streams = gateway.relay.listen_streams.close
    """Ends the open ``subscriptions/listen`` streams gracefully (``serving.run``'s on_stop)."""
    return app


class MetricsEndpoint:
    """``GET /metrics``: the Prometheus text format, behind the same authentication as ``/mcp``
    (any valid credential; without ``AUTH_*`` the bridge listens on loopback only). A refused
    scrape is answered 401 and recorded as ``auth.denied`` like any other."""

    def __init__(self, metrics: BridgeMetrics, authenticator: Authenticator, recorder: Any) -> None:
        self._metrics = metrics
        self._auth = authenticator
        self._recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            await self._auth.authenticate(request.headers.get("authorization"))
        except AuthDenied as denied:
            correlation_id = correlation_id_from(request.headers.get(REQUEST_ID_HEADER))
            exchange = Exchange(correlation_id, http_method=request.method)
            await deny(scope, receive, send, self._auth, self._recorder, exchange, denied.reason)
            return
        response = Response(self._metrics.exposition(), media_type=CONTENT_TYPE)
        await response(scope, receive, send)


def health_report(
    trail: AuditTrail, pool: UpstreamPool, outage: Outage | None = None
) -> dict[str, Any]:
    """``failing`` when the trail cannot persist; ``degraded`` when an upstream is not ready."""
    upstreams = pool.health()
    if trail.enabled and (not trail.healthy or (outage is not None and outage.active)):
        status = "failing"
    elif any(u["state"] != "ready" for u in upstreams.values()):
        status = "degraded"
    else:
        status = "ok"
    return {
        "status": status,
        "version": SERVER_VERSION,
        "mode": "read-write" if trail.enabled else "read-only",
        "audit": {
            "backend": trail.backend,
            "enabled": trail.enabled,
            "healthy": trail.healthy,
            "lastDurableSeq": trail.last_durable_seq,
            "lastError": trail.last_error,
            "spooled": trail.spooled_records,
            "outage": outage.status() if outage is not None else None,
            "attestations": attestation_health(trail),
        },
        "upstreams": upstreams,
    }


def _started_payload(settings: BridgeSettings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "capture": settings.audit_capture,
        "authConfigured": settings.auth_configured,
    }


def _warn_about_mode(settings: BridgeSettings, trail: AuditTrail) -> None:
    if not trail.enabled:
        logger.warning(
            "!!! AUDIT_ENABLED=false: the audit trail is OFF. The bridge runs READ-ONLY: every "
            "mutating tool call is refused; read-only calls pass UNRECORDED. !!!"
        )
    if not settings.auth_configured:
        logger.warning(
            "no authentication configured (AUTH_JWKS_URL / AUTH_API_KEYS_FILE / AUTH_DEV_SECRET): "
            "serving on loopback %s only; every caller is recorded as 'anonymous'",
            settings.host,
        )


__all__ = ["create_app", "digest_key", "health_report"]
