"""What the bridge answers before MCP handling: Accept, protocol version, credentials, codes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcp_bridge.bridge import errors
from mcp_bridge.bridge.auth import AuthDenied, Authenticator

from .conftest import API_KEY, AUDIENCE, ISSUER, Bridge, Tokens, bridge_settings
from .harness import events, initialize_request

MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Authorization": f"Bearer {API_KEY}",
}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}}


def _post(bridge: Bridge, body: dict[str, Any], **headers: str) -> httpx.Response:
    sent = {**MCP_HEADERS, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return httpx.post(f"{bridge.url}/mcp", content=json.dumps(body), headers=sent)


def _rejection(bridge: Bridge, correlation_id: str) -> dict[str, Any]:
    found = [e["payload"] for e in events(bridge.trail, "mcp.transport.rejected")]
    (payload,) = [p for p in found if p["correlationId"] == correlation_id]
    return payload


def test_accept_json_alone_gets_406_like_the_reference_server(bridge: Bridge) -> None:
    response = _post(
        bridge, initialize_request("json-only"), Accept="application/json", X_Request_ID="acc-1"
    )
    assert response.status_code == 406
    assert "text/event-stream" in response.json()["error"]["message"]
    rejected = _rejection(bridge, "acc-1")
    assert (rejected["status"], rejected["reason"]) == (406, "not-acceptable")


def test_unsupported_protocol_version_header_gets_unsupported_version_error(
    bridge: Bridge,
) -> None:
    response = _post(bridge, LIST_TOOLS, MCP_Protocol_Version="1999-01-01", X_Request_ID="pv-1")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022  # UNSUPPORTED_PROTOCOL_VERSION
    assert error["data"]["requested"] == "1999-01-01"
    assert "2025-11-25" in error["data"]["supported"]
    assert response.json()["id"] == 7
    rejected = _rejection(bridge, "pv-1")
    assert rejected["reason"] == "protocol-version-unsupported"
    assert rejected["detail"] == "MCP-Protocol-Version 1999-01-01"
    assert rejected["method"] == "tools/list"


def test_unauthorised_has_its_own_code(bridge: Bridge) -> None:
    response = _post(bridge, LIST_TOOLS, Authorization="Bearer nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == errors.UNAUTHORIZED


def test_bridge_error_codes_are_distinct() -> None:
    codes = [
        errors.UPSTREAM_UNAVAILABLE,
        errors.AUDIT_UNAVAILABLE,
        errors.READ_ONLY_MODE,
        errors.UPSTREAM_TIMEOUT,
        errors.UNAUTHORIZED,
        errors.POLICY_DENIED,
    ]
    assert len(set(codes)) == len(codes)
    assert all(-32099 <= code <= -32000 for code in codes)
    assert -32001 not in codes  # the SDK's own request timeout


@pytest.mark.parametrize("claim", ["sub", "exp"])
def test_missing_jwt_claim_is_named(bridge: Bridge, tokens: Tokens, claim: str) -> None:
    token = tokens.jwt(**{claim: None})
    response = _post(bridge, LIST_TOOLS, Authorization=f"Bearer {token}", X_Request_ID=claim)
    assert response.status_code == 401
    denied = [e["payload"] for e in events(bridge.trail, "auth.denied")]
    (payload,) = [p for p in denied if p["correlationId"] == claim]
    assert payload["reason"] == f"token lacks the required claim '{claim}'"


@pytest.mark.anyio
@pytest.mark.parametrize(("skew", "accepted"), [(60, True), (0, False)])
async def test_clock_skew_is_a_setting(
    tmp_path: Path, tokens: Tokens, jwks_url: str, skew: int, accepted: bool
) -> None:
    """A token that expired 20 s ago passes with AUTH_CLOCK_SKEW_SECONDS=60, not with 0."""
    settings = bridge_settings(tmp_path, auth_jwks_url=jwks_url, auth_clock_skew_seconds=skew)
    authenticator = Authenticator.from_settings(settings)
    token = tokens.jwt(exp=int(time.time()) - 20, aud=AUDIENCE, iss=ISSUER)
    if accepted:
        assert (await authenticator.authenticate(f"Bearer {token}")).subject == "alice"
    else:
        with pytest.raises(AuthDenied, match="token expired"):
            await authenticator.authenticate(f"Bearer {token}")
