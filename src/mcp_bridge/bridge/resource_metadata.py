"""OAuth 2.0 Protected Resource Metadata (RFC 9728) and the 401 challenge that points at it.

When the bridge checks JWTs from an authorization server (``AUTH_JWKS_URL``), an OAuth-capable
client that gets a 401 reads ``resource_metadata`` from ``WWW-Authenticate``, fetches this
document and finds ``AUTH_ISSUER_URL`` there, as the MCP authorization spec asks. The resource
is ``AUTH_RESOURCE_URL`` (the bridge's public ``/mcp`` URL), or the URL the request came in on.
"""

from __future__ import annotations

from mcp.server.auth.routes import build_resource_metadata_url
from pydantic import AnyHttpUrl
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from .settings import BridgeSettings

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def publishes_metadata(settings: BridgeSettings) -> bool:
    return bool(settings.auth_jwks_url and settings.auth_issuer_url)


def resource_url(settings: BridgeSettings, scope: Scope) -> str:
    """The protected resource: ``AUTH_RESOURCE_URL``, else ``<scheme>://<host>/mcp`` as called."""
    if settings.auth_resource_url:
        return settings.auth_resource_url
    return str(Request(scope).base_url).rstrip("/") + "/mcp"


def challenge(settings: BridgeSettings, scope: Scope, token_presented: bool) -> str:
    """``WWW-Authenticate`` for a 401 (RFC 6750 §3; RFC 9728 §5.1 when metadata is published)."""
    parts = ['error="invalid_token"'] if token_presented else []
    if publishes_metadata(settings):
        metadata = build_resource_metadata_url(AnyHttpUrl(resource_url(settings, scope)))
        parts.append(f'resource_metadata="{metadata}"')
    return "Bearer " + ", ".join(parts) if parts else "Bearer"


def metadata_routes(settings: BridgeSettings) -> list[Route]:
    """The metadata document at the root well-known path and at the ``/mcp``-suffixed one."""
    if not publishes_metadata(settings):
        return []
    assert settings.auth_issuer_url is not None

    async def metadata(request: Request) -> Response:
        # Written out, not through pydantic's URL type, which would append "/" to the issuer
        # and break a client's exact comparison with the authorization server's own metadata.
        document = {
            "resource": resource_url(settings, request.scope),
            "authorization_servers": [settings.auth_issuer_url],
            "bearer_methods_supported": ["header"],
            "resource_name": "mcp-bridge",
        }
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})

    return [Route(path, metadata, methods=["GET"]) for path in (WELL_KNOWN, f"{WELL_KNOWN}/mcp")]


__all__ = ["WELL_KNOWN", "challenge", "metadata_routes", "publishes_metadata", "resource_url"]
