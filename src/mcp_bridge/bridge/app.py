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
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.witness.attest import attestation_health

from .auth import Authenticator
from .gate import Gate
from .gateway import assemble, digest_key, running
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
    manager = BridgeSessionManager(
        app=gateway.server,
        max_request_body_size=settings.bridge_max_body_bytes,
        security_settings=_LOOPBACK_SECURITY if is_loopback(settings.host) else None,
    )
    gate = Gate(
        StreamableHTTPASGIApp(manager),
        authenticator or Authenticator.from_settings(settings),
        recorder,
        settings.bridge_max_body_bytes,
        SessionBook(manager.session_is_open),
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        _warn_about_mode(settings, trail)
        async with manager.run(), running(gateway, _started_payload(settings)):
            yield

    async def health(_: Request) -> JSONResponse:
        body = health_report(trail, pool, recorder.outage)
        return JSONResponse(body, status_code=200 if body["status"] != "failing" else 503)

    return Starlette(
        routes=[
            Route("/mcp", gate),
            Route("/health", health, methods=["GET"]),
            *metadata_routes(settings),
        ],
        lifespan=lifespan,
    )


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
