"""Nothing that crosses the bridge escapes the trail: cancellation, shutdown, outages, refusals.

Driven by the official client in both protocol generations against the ``lone`` bridge.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from mcp.shared.exceptions import MCPError

from mcp_bridge.audit import LocalAuditTrail
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.errors import AUDIT_UNAVAILABLE
from mcp_bridge.bridge.serving import STOP_SIGNALS, BridgeServer

from .conftest import API_KEY, BUFFER, Bridge, Tokens, bridge_settings, sample_spec
from .harness import (
    connect,
    events,
    faulty_trail,
    free_port,
    initialize_request,
    serve_env,
    serve_until_healthy_then_signal,
    wait_until_recovered,
)

pytestmark = pytest.mark.anyio


def _calls(bridge: Bridge, tool: str, event_type: str = "mcp.tools.call") -> list[dict[str, Any]]:
    found = [e["payload"] for e in events(bridge.trail, event_type)]
    return [p for p in found if (p.get("target") or {}).get("name") == tool]


async def _outcomes(bridge: Bridge, tool: str, marker: Path) -> list[dict[str, Any]]:
    """The call's outcome records, once written (the upstream may stop before that)."""
    with anyio.fail_after(20):
        while True:
            found = [p for p in _calls(bridge, tool) if p["arguments"]["marker"] == str(marker)]
            if found:
                return found
            await anyio.sleep(0.05)


async def _wait_for_file(path: Path) -> None:
    with anyio.fail_after(20):
        while not path.exists():
            await anyio.sleep(0.05)


async def _cancel_after_start(bridge: Bridge, mode: str, tool: str, args: dict[str, Any]) -> None:
    """Start the call, wait until the upstream works on it, cancel it, wait until it stopped."""
    async with connect(bridge.url, bridge.auth(), mode=mode) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, tool, args)
            await _wait_for_file(Path(args["marker"] + ".started"))
            tg.cancel_scope.cancel()
        await _wait_for_file(Path(args["marker"]))


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_cancelled_read_only_call_is_recorded_and_reaches_the_upstream(
    lone: Bridge, tmp_path: Path, mode: str
) -> None:
    marker = tmp_path / f"wait-{mode}"
    await _cancel_after_start(lone, mode, "library__wait", {"seconds": 30, "marker": str(marker)})
    await _wait_for_file(marker)
    mine = await _outcomes(lone, "library__wait", marker)
    assert len(mine) == 1
    assert mine[0]["decision"]["outcome"] == "cancelled"
    assert mine[0]["requestId"] is not None
    if mode == "legacy":
        notes = events(lone.trail, "mcp.notifications.cancelled")
        assert mine[0]["requestId"] in [n["payload"]["cancelledRequestId"] for n in notes]


async def test_cancelled_mutating_call_has_intent_and_cancelled_outcome(
    lone: Bridge, tmp_path: Path
) -> None:
    marker = tmp_path / "shelve"
    args = {"title": "Never shelved", "seconds": 30, "marker": str(marker)}
    await _cancel_after_start(lone, "legacy", "library__slow_shelve", args)
    intents = [
        p
        for p in _calls(lone, "library__slow_shelve", "mcp.tools.call.intent")
        if p["arguments"]["marker"] == str(marker)
    ]
    outcomes = await _outcomes(lone, "library__slow_shelve", marker)
    assert len(intents) == 1 and len(outcomes) == 1
    assert outcomes[0]["decision"]["outcome"] == "cancelled"
    assert outcomes[0]["requestId"] == intents[0]["requestId"]
    async with connect(lone.url, lone.auth()) as client:
        catalog = await client.read_resource("mcp-bridge://library/library://catalog")
    assert "Never shelved" not in catalog.contents[0].text  # type: ignore[union-attr]


def _health(bridge: Bridge) -> dict[str, Any]:
    return httpx.get(f"{bridge.url}/health").json()  # type: ignore[no-any-return]


async def test_read_only_calls_in_an_outage_are_recorded_late_or_refused(lone: Bridge) -> None:
    async with connect(lone.url, lone.auth(), name="outage-client") as client:
        await client.call_tool("library__wait", {"seconds": 0.1})
        lone.store.broken = True
        try:
            served = 0
            with pytest.raises(MCPError) as refused:
                for _ in range(BUFFER + 5):
                    await client.call_tool("library__wait", {"seconds": 0.01, "marker": ""})
                    served += 1
            assert refused.value.code == AUDIT_UNAVAILABLE
            assert "BRIDGE_OUTAGE_BUFFER_RECORDS=3" in refused.value.message
            assert 0 < served <= BUFFER
            assert _health(lone)["audit"]["outage"]["active"] is True
        finally:
            lone.store.broken = False
        await anyio.to_thread.run_sync(wait_until_recovered, lone.url)
    delayed = [
        p
        for p in _calls(lone, "library__wait")
        if p.get("delayed") and (p["client"] or {}).get("name") == "outage-client"
    ]
    assert len(delayed) >= served
    assert all(p["observedAt"] for p in delayed)
    outage = events(lone.trail, "trail.outage")[-1]["payload"]
    assert outage["refused"] >= 1 and outage["delayed"] >= served
    assert outage["startedAt"] < outage["endedAt"]


def _post(bridge: Bridge, body: dict[str, Any], **headers: str) -> httpx.Response:
    base = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    return httpx.post(f"{bridge.url}/mcp", json=body, headers={**base, **headers}, timeout=30)


def _rejection(bridge: Bridge, correlation_id: str) -> dict[str, Any]:
    found = [e["payload"] for e in events(bridge.trail, "mcp.transport.rejected")]
    return next(p for p in found if p["correlationId"] == correlation_id)


async def test_refusals_before_mcp_have_distinct_reasons(lone: Bridge, tokens: Tokens) -> None:
    opened = _post(lone, initialize_request("owner"), Authorization=f"Bearer {API_KEY}")
    session = opened.headers["mcp-session-id"]
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    cases = {
        "other-user": {"Authorization": f"Bearer {tokens.dev()}", "Mcp-Session-Id": session},
        "unknown": {"Authorization": f"Bearer {API_KEY}", "Mcp-Session-Id": "f" * 32},
        "bad-origin": {"Authorization": f"Bearer {API_KEY}", "Origin": "http://evil.example"},
    }
    for name, headers in cases.items():
        assert _post(lone, ping, **headers, **{"X-Request-ID": name}).status_code >= 400
    deleted = httpx.delete(
        f"{lone.url}/mcp",
        headers={"Authorization": f"Bearer {API_KEY}", "Mcp-Session-Id": session},
    )
    assert deleted.status_code < 400
    expired = {"Authorization": f"Bearer {API_KEY}", "Mcp-Session-Id": session}
    assert _post(lone, ping, **expired, **{"X-Request-ID": "expired"}).status_code == 404
    assert _rejection(lone, "other-user")["reason"] == "session-owned-by-another-principal"
    assert _rejection(lone, "unknown")["reason"] == "session-unknown"
    assert _rejection(lone, "expired")["reason"] == "session-expired"
    origin = _rejection(lone, "bad-origin")
    assert origin["reason"] == "origin-not-allowed"
    assert origin["origin"] == "http://evil.example"
    assert origin["detail"] == "Invalid Origin header"


async def test_calls_in_flight_at_shutdown_are_recorded_aborted(tmp_path: Path) -> None:
    trail, store = faulty_trail(tmp_path / "audit")
    app = create_app(bridge_settings(tmp_path), trail, [sample_spec("library")])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    bridge = Bridge(f"http://127.0.0.1:{port}", trail, store, tmp_path, tmp_path / "audit")
    marker = str(tmp_path / "stop")
    try:
        with anyio.fail_after(60):
            while not server.started:
                await anyio.sleep(0.05)
        async with connect(bridge.url, bridge.auth()) as client, anyio.create_task_group() as tg:
            args = {"title": "t", "seconds": 30, "marker": marker}
            tg.start_soon(_expect_failure, client.call_tool("library__slow_shelve", args))
            await _wait_for_file(Path(marker + ".started"))
            server.should_exit = server.force_exit = True
            await anyio.to_thread.run_sync(thread.join, 30)
    finally:
        server.should_exit = server.force_exit = True
        thread.join(timeout=30)
    stopped = events(trail, "bridge.stopped")
    assert stopped and stopped[-1]["payload"]["abortedCalls"] == 1
    aborted = _calls(bridge, "library__slow_shelve")
    assert [p["decision"]["outcome"] for p in aborted] == ["aborted"]
    assert len(_calls(bridge, "library__slow_shelve", "mcp.tools.call.intent")) == 1
    trail.close()


async def _expect_failure(call: Awaitable[Any]) -> None:
    with pytest.raises(Exception):  # noqa: B017 - any failure: the bridge went away
        await call


def _stopped_count(bridge: Bridge) -> int:
    return len(bridge.trail.fetch_events(limit=10, event_type="bridge.stopped"))


def test_every_stop_signal_is_a_clean_stop() -> None:
    """SIGINT, SIGTERM and SIGHUP all reach uvicorn's graceful shutdown (tested live below)."""
    server = BridgeServer(uvicorn.Config(app=None))
    with server.capture_signals():
        handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    assert set(handlers) == {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    assert all(handler == server.handle_exit for handler in handlers.values())


def test_sighup_leaves_a_bridge_stopped_record(tmp_path: Path) -> None:
    signum = signal.SIGHUP
    library = sample_spec("library")
    servers = {"library": {"command": library.command, "args": list(library.args)}}
    env = serve_env(tmp_path, servers)
    returncode, stderr = serve_until_healthy_then_signal(env, tmp_path, signum)
    assert returncode == 0, stderr
    with LocalAuditTrail(tmp_path / "audit") as trail:
        assert [e["eventType"] for e in trail.fetch_events(limit=5)][-1] == "bridge.stopped"
