"""Fixtures: one real bridge (git, library and a crashing server via stdio, notes via HTTP)."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_bridge.audit import AuditTrail
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.auth import hash_api_key
from mcp_bridge.bridge.settings import BridgeSettings
from mcp_bridge.bridge.upstream_config import UpstreamSpec

from .harness import FaultyStore, faulty_trail, make_repo, serve_in_thread
from .sample_servers import asking_server, notes_server

ISSUER = "https://issuer.test"
AUDIENCE = "mcp-bridge-tests"
DEV_SECRET = "dev-secret-for-tests-only-0123456789"
API_KEY = "mcpb_test_key_0123456789abcdef"
KEY_ID = "ci-bot"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Tokens:
    """Signs tokens with the keys the bridge's JWKS publishes (or a foreign one).

    ``_alg="ES256"`` signs with the published EC key (kid ``e1``) instead of RSA (kid ``k1``).
    """

    private_key: Any
    foreign_key: Any
    ec_key: Any

    def jwt(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "sub": "alice",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "exp": now + 600,
            "iat": now,
            "jti": "tok-1",
            "roles": ["operator"],
        }
        alg = overrides.pop("_alg", "RS256")
        default_key, kid = (self.ec_key, "e1") if alg == "ES256" else (self.private_key, "k1")
        key = overrides.pop("_key", default_key)
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}  # None: leave the claim out
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def dev(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"sub": "dev-user", "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER, **overrides}
        return jwt.encode(claims, DEV_SECRET, algorithm="HS256")


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
    )


@dataclass
class Jwks:
    """The JWKS endpoint and how often it was fetched (to check the bridge's cache)."""

    url: str
    fetches: list[float]


@pytest.fixture(scope="session")
def jwks(tokens: Tokens) -> Iterator[Jwks]:
    rsa_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(tokens.private_key.public_key(), as_dict=True)
    ec_jwk = jwt.algorithms.ECAlgorithm.to_jwk(tokens.ec_key.public_key(), as_dict=True)
    document = {
        "keys": [
            {**rsa_jwk, "kid": "k1", "use": "sig", "alg": "RS256"},
            {**ec_jwk, "kid": "e1", "use": "sig", "alg": "ES256"},
        ]
    }
    fetches: list[float] = []

    async def keys(_: Any) -> JSONResponse:
        fetches.append(time.monotonic())
        return JSONResponse(document)

    with serve_in_thread(Starlette(routes=[Route("/jwks.json", keys)])) as url:
        yield Jwks(f"{url}/jwks.json", fetches)


@pytest.fixture(scope="session")
def jwks_url(jwks: Jwks) -> str:
    return jwks.url


@pytest.fixture(scope="session")
def notes_url() -> Iterator[str]:
    with serve_in_thread(notes_server().streamable_http_app()) as url:
        yield f"{url}/mcp"


@dataclass
class Bridge:
    url: str
    trail: AuditTrail
    store: FaultyStore
    repo: Path
    audit_dir: Path

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}


def bridge_settings(tmp: Path, **overrides: Any) -> BridgeSettings:
    keys = tmp / "api-keys.json"
    entry = {"id": KEY_ID, "sha256": hash_api_key(API_KEY), "subject": "ci", "roles": ["writer"]}
    keys.write_text(json.dumps({"keys": [entry]}))
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "auth_api_keys_file": keys,
        "auth_dev_secret": DEV_SECRET,
        "auth_audience": AUDIENCE,
        "auth_issuer_url": ISSUER,
        "audit_digest_key": "digest-key-for-tests",
        "audit_capture": "redacted",
        "bridge_max_body_bytes": 64 * 1024,
        "bridge_upstream_timeout_seconds": 30,
        **overrides,
    }
    return BridgeSettings(_env_file=None, **values)  # type: ignore[call-arg]


def sample_spec(name: str) -> UpstreamSpec:
    """A stdio upstream from ``sample_servers.py`` (``crashy`` or ``library``)."""
    return UpstreamSpec(
        name=name,
        command=sys.executable,
        args=(str(Path(__file__).with_name("sample_servers.py")), name),
    )


def git_spec(repo: Path) -> UpstreamSpec:
    return UpstreamSpec(
        name="git",
        command=str(Path(sys.executable).with_name("mcp-server-git")),
        args=("--repository", str(repo)),
    )


@pytest.fixture(scope="session")
def bridge(
    tmp_path_factory: pytest.TempPathFactory, jwks_url: str, notes_url: str
) -> Iterator[Bridge]:
    tmp = tmp_path_factory.mktemp("bridge")
    repo = make_repo(tmp / "repo")
    trail, store = faulty_trail(tmp / "audit")
    settings = bridge_settings(tmp, auth_jwks_url=jwks_url)
    upstreams = [
        git_spec(repo),
        UpstreamSpec(name="notes", url=notes_url),
        sample_spec("crashy"),
        sample_spec("library"),
    ]
    with serve_in_thread(create_app(settings, trail, upstreams)) as url:
        yield Bridge(url, trail, store, repo, tmp / "audit")
    trail.close()


BUFFER = 3
"""The ``lone`` bridge's outage buffer, in records."""

UPSTREAM_TIMEOUT = 2.0
"""The ``lone`` bridge's upstream timeout: calls that report progress outlive it."""


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """A bridge per test module in front of the ``library`` stdio upstream alone."""
    tmp = tmp_path_factory.mktemp("lone")
    trail, store = faulty_trail(tmp / "audit")
    settings = bridge_settings(
        tmp,
        bridge_outage_buffer_records=BUFFER,
        bridge_upstream_timeout_seconds=UPSTREAM_TIMEOUT,
    )
    with serve_in_thread(create_app(settings, trail, [sample_spec("library")])) as url:
        yield Bridge(url, trail, store, tmp, tmp / "audit")
    trail.close()


@pytest.fixture(scope="module")
def asking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """A bridge per test module in front of upstreams that ask the client or log mid-call:
    ``asking`` (HTTP, session protocol), ``library`` as ``lib`` (stdio, 2026-07-28) and as
    ``libs`` (stdio, session protocol)."""
    tmp = tmp_path_factory.mktemp("asking")
    trail, store = faulty_trail(tmp / "audit")
    with serve_in_thread(asking_server().streamable_http_app()) as upstream_url:
        upstreams = [
            UpstreamSpec(name="asking", url=f"{upstream_url}/mcp", protocol="session"),
            dataclasses.replace(sample_spec("library"), name="lib"),
            dataclasses.replace(sample_spec("library"), name="libs", protocol="session"),
        ]
        settings = bridge_settings(tmp, bridge_upstream_start_wait_seconds=30)
        with serve_in_thread(create_app(settings, trail, upstreams)) as url:
            yield Bridge(url, trail, store, tmp, tmp / "audit")
    trail.close()
