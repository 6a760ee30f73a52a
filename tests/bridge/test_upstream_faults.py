"""Upstreams that are slow, dead, unreachable or want OAuth, and how the bridge introduces itself.

Each case runs a real bridge in front of real servers (stdio processes, streamable-HTTP apps on
loopback); nothing is mocked.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_bridge import __version__
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.errors import UPSTREAM_TIMEOUT, UPSTREAM_UNAVAILABLE
from mcp_bridge.bridge.upstream_config import UpstreamSpec

from .conftest import bridge_settings
from .harness import connect, events, faulty_trail, free_port, recording, serve_in_thread, wait_for
from .sample_servers import slow_server

pytestmark = pytest.mark.anyio


@contextmanager
def small_bridge(tmp: Path, upstreams: list[UpstreamSpec], **settings: Any) -> Iterator[Any]:
    """A bridge (no auth, loopback) in front of ``upstreams``; yields ``(url, trail)``."""
    trail, _ = faulty_trail(tmp / "audit")
    values = {"auth_api_keys_file": None, "auth_dev_secret": None, **settings}
    app = create_app(bridge_settings(tmp, **values), trail, upstreams)
    try:
        with serve_in_thread(app) as url:
            yield url, trail
    finally:
        trail.close()


def upstream_health(url: str, name: str) -> dict[str, Any]:
    upstreams: dict[str, Any] = httpx.get(f"{url}/health").json()["upstreams"]
    return dict(upstreams[name])


def python_upstream(name: str, code: str) -> UpstreamSpec:
    return UpstreamSpec(name=name, command=sys.executable, args=("-c", code))


@pytest.fixture(scope="module")
def slow_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []
    with serve_in_thread(recording(slow_server().streamable_http_app(), bodies)) as url:
        yield f"{url}/mcp", bodies


async def test_http_upstream_call_longer_than_five_seconds_succeeds(
    tmp_path: Path, slow_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = slow_url
    with small_bridge(tmp_path, [UpstreamSpec(name="slow", url=url)]) as (bridge_url, _):
        async with connect(bridge_url) as client:
            result = await client.call_tool("slow__wait", {"seconds": 6})
        assert result.is_error is not True
        assert upstream_health(bridge_url, "slow")["restarts"] == 0
    introductions = [_client_info(body) for body in bodies]
    assert {"name": "mcp-bridge", "version": __version__} in introductions


def _client_info(body: dict[str, Any]) -> dict[str, Any] | None:
    """``clientInfo`` as either protocol generation carries it (initialize or ``_meta``)."""
    params = body.get("params") or {}
    info = params.get("clientInfo") or (params.get("_meta") or {}).get(
        "io.modelcontextprotocol/clientInfo"
    )
    return {"name": info["name"], "version": info["version"]} if info else None


async def test_upstream_timeout_has_its_own_code_and_names_the_setting(
    tmp_path: Path, slow_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, _ = slow_url
    spec = UpstreamSpec(name="slow", url=url)
    with small_bridge(tmp_path, [spec], bridge_upstream_timeout_seconds=1) as (bridge_url, trail):
        async with connect(bridge_url) as client:
            with pytest.raises(MCPError) as timed_out:
                await client.call_tool("slow__wait", {"seconds": 3})
        assert timed_out.value.code == UPSTREAM_TIMEOUT
        assert "BRIDGE_UPSTREAM_TIMEOUT_SECONDS=1" in timed_out.value.message
        calls = [e["payload"] for e in events(trail, "mcp.tools.call")]
        assert calls[-1]["errorCode"] == UPSTREAM_TIMEOUT


async def test_upstream_that_exits_at_once_is_reported_with_exit_code_and_stderr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = python_upstream(
        "dead", "import sys; print('config file /etc/x missing', file=sys.stderr); sys.exit(7)"
    )
    caplog.set_level(logging.INFO)
    with small_bridge(tmp_path, [dead], bridge_upstream_start_wait_seconds=60) as (url, trail):
        wait_for(lambda: upstream_health(url, "dead")["exitCode"] == 7)
        health = upstream_health(url, "dead")
        assert health["state"] in {"failed", "restarting"}
        assert "config file /etc/x missing" in health["stderrTail"]
        assert "exited with code 7" in health["lastError"]
        assert "ExceptionGroup" not in health["lastError"]
        async with connect(url) as client:
            with pytest.raises(MCPError) as unavailable:
                await client.call_tool("dead__anything", {})
        assert unavailable.value.code == UPSTREAM_UNAVAILABLE
        assert "exited with code 7" in unavailable.value.message
        disconnected = [e["payload"] for e in events(trail, "upstream.disconnected")]
        assert any("exited with code 7" in (p["error"] or "") for p in disconnected)
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("mcp_bridge")]
    assert any("dead" in m and "exited with code 7" in m for m in logged)
    assert any("config file /etc/x missing" in m for m in logged)
    assert not any("ExceptionGroup" in m for m in logged)


async def test_unreachable_http_upstream_is_named_without_exception_group(
    tmp_path: Path,
) -> None:
    closed = UpstreamSpec(name="gone", url=f"http://127.0.0.1:{free_port()}/mcp")
    with small_bridge(tmp_path, [closed], bridge_upstream_start_wait_seconds=60) as (url, _):
        health = upstream_health(url, "gone")
        assert health["state"] == "failed"
        assert "ConnectError" in health["lastError"]
        assert "ExceptionGroup" not in health["lastError"]
        assert httpx.get(f"{url}/health").json()["status"] == "degraded"


async def test_slow_upstream_does_not_hold_the_port_closed(tmp_path: Path) -> None:
    """With BRIDGE_UPSTREAM_START_WAIT_SECONDS=0 the bridge serves while the upstream starts."""
    mute = python_upstream("mute", "import time; time.sleep(120)")
    with small_bridge(tmp_path, [mute], bridge_upstream_start_wait_seconds=0) as (url, _):
        assert upstream_health(url, "mute")["state"] == "starting"
        async with connect(url) as client:
            assert (await client.list_tools()).tools == []


async def test_upstream_answering_401_fails_clearly_and_is_not_retried(tmp_path: Path) -> None:
    challenge = 'Bearer resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource"'
    attempts: list[str] = []

    async def deny(request: Any) -> JSONResponse:
        attempts.append(request.method)
        return JSONResponse(
            {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": challenge}
        )

    oauth_only = Starlette(routes=[Route("/mcp", deny, methods=["GET", "POST", "DELETE"])])
    with serve_in_thread(oauth_only) as upstream_url:
        spec = UpstreamSpec(name="oauth", url=f"{upstream_url}/mcp")
        with small_bridge(tmp_path, [spec]) as (url, _):
            health = upstream_health(url, "oauth")
            assert health["state"] == "refused"
            assert "HTTP 401" in health["lastError"]
            assert "headers.Authorization" in health["lastError"]
            seen = len(attempts)
            async with connect(url) as client:
                with pytest.raises(MCPError) as refused:
                    await client.call_tool("oauth__x", {})
            assert refused.value.code == UPSTREAM_UNAVAILABLE
            assert "HTTP 401" in refused.value.message
            assert upstream_health(url, "oauth")["restarts"] == 1
            assert len(attempts) == seen
