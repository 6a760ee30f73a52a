"""JWKS-verified bearer tokens: ES256 as well as RS256, and the key-set cache."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jwt.jwk_set_cache
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mcp_bridge.bridge.auth import AuthDenied, Authenticator

from .conftest import Bridge, Jwks, Tokens, bridge_settings
from .harness import events, initialize_request

pytestmark = pytest.mark.anyio

INITIALIZE = initialize_request("es256-client")


def test_es256_token_is_accepted_via_jwks_and_recorded(bridge: Bridge, tokens: Tokens) -> None:
    token = tokens.jwt(_alg="ES256", sub="erin", jti="es-1")
    response = httpx.post(
        f"{bridge.url}/mcp",
        content=json.dumps(INITIALIZE).encode(),
        headers={
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        },
    )
    assert response.status_code == 200, response.text
    inits = [e["payload"] for e in events(bridge.trail, "mcp.initialize")]
    identity = next(p["identity"] for p in inits if p["identity"]["tokenId"] == "es-1")
    assert identity["subject"] == "erin"
    assert identity["authMethod"] == "jwt"
    assert identity["issuer"] == "https://issuer.test"


class _Clock:
    """Stands in for ``time`` in PyJWT's key-set cache, so expiry needs no sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


async def test_jwks_is_fetched_once_per_cache_lifetime(
    tmp_path: Path, jwks: Jwks, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    monkeypatch.setattr(jwt.jwk_set_cache, "time", clock)
    settings = bridge_settings(tmp_path, auth_jwks_url=jwks.url, auth_jwks_cache_seconds=300)
    auth = Authenticator.from_settings(settings)
    before = len(jwks.fetches)

    for alg in ("RS256", "ES256", "RS256"):
        identity = await auth.authenticate(f"Bearer {tokens.jwt(_alg=alg)}")
        assert identity.subject == "alice"
    assert len(jwks.fetches) == before + 1

    clock.offset = 301.0
    await auth.authenticate(f"Bearer {tokens.jwt(_alg='ES256')}")
    assert len(jwks.fetches) == before + 2


async def test_es256_token_signed_by_an_unpublished_key_is_denied(
    tmp_path: Path, jwks: Jwks, tokens: Tokens
) -> None:
    settings = bridge_settings(tmp_path, auth_jwks_url=jwks.url)
    auth = Authenticator.from_settings(settings)
    forged = tokens.jwt(_alg="ES256", _key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(AuthDenied) as denied:
        await auth.authenticate(f"Bearer {forged}")
    assert denied.value.reason == "bad signature"
