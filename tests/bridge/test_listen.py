"""``subscriptions/listen``: a 2026-07-28 client's stream of change notifications.

The ``asking`` bridge (conftest): its HTTP upstream (session protocol) has ``asking://note``
(subscribable), ``touch`` (says the note changed, answers what it is subscribed to) and ``grow``
(sends the list-changed notifications).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from mcp.shared.subscriptions import ResourceUpdated, ToolsListChanged

from mcp_bridge.audit import LocalAuditTrail

from .conftest import Bridge, sample_spec
from .harness import connect, events, free_port

pytestmark = pytest.mark.anyio

NOTE = "mcp-bridge://asking/asking://note"


async def test_a_listen_stream_gets_list_changes_and_updates_of_its_resources(
    asking: Bridge,
) -> None:
    seen: list[Any] = []
    async with (
        connect(asking.url, asking.auth(), mode="2026-07-28", name="listener") as listener,
        connect(asking.url, asking.auth(), mode="legacy", name="toucher") as toucher,
    ):
        async with listener.listen(tools_list_changed=True, resource_subscriptions=[NOTE]) as sub:
            subscribed = await toucher.call_tool("asking__touch", {})
            await toucher.call_tool("asking__grow", {"read_only": True})
            with anyio.fail_after(20):
                async for event in sub:
                    seen.append(event)
                    if {type(e) for e in seen} == {ResourceUpdated, ToolsListChanged}:
                        break
        with anyio.fail_after(20):  # the stream ended: the bridge unsubscribes upstream
            while (await toucher.call_tool("asking__touch", {})).content[0].text:  # type: ignore[union-attr]
                await anyio.sleep(0.05)
    assert subscribed.content[0].text == "asking://note"  # type: ignore[union-attr]
    assert ResourceUpdated(uri=NOTE) in seen
    assert ToolsListChanged() in seen
    (listened,) = [
        e["payload"]
        for e in events(asking.trail, "mcp.subscriptions.listen")
        if (e["payload"]["client"] or {}).get("name") == "listener"
    ]
    assert listened["protocolVersion"] == "2026-07-28"
    assert listened["identity"]["subject"] == "ci"
    assert listened["decision"]["outcome"] in ("allowed", "cancelled")
    updated = events(asking.trail, "mcp.upstream.notifications.resources.updated")
    assert updated and updated[0]["payload"]["upstream"] == "asking"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_both_generations_are_offered_change_notifications(asking: Bridge, mode: str) -> None:
    """Sessions get them on their GET stream, 2026-07-28 clients (``auto`` discovers it) on
    listen streams."""
    async with connect(asking.url, asking.auth(), mode=mode) as client:
        capabilities = client.server_capabilities
        version = client.protocol_version
    assert version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert capabilities.tools is not None and capabilities.tools.list_changed
    assert capabilities.resources is not None and capabilities.resources.subscribe


async def test_a_stop_ends_open_listen_streams_gracefully(tmp_path: Path) -> None:
    """``mcp-bridge serve`` with a listen stream open gets SIGTERM: the stream is closed the
    graceful way (its result, not a drop), so it does not hold the stop; the process exits 0
    with the stream and ``bridge.stopped`` recorded."""
    library = sample_spec("library")
    config = tmp_path / "bridge.json"
    entry = {"command": library.command, "args": list(library.args)}
    config.write_text(json.dumps({"mcpServers": {"library": entry}}))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "AUTH_"))},
        "BRIDGE_CONFIG": str(config),
        "AUDIT_DIGEST_KEY": "digest-key-for-tests",
        "AUDIT_STORAGE_PATH": str(tmp_path / "audit"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_bridge", "serve"], env=env, cwd=tmp_path, stderr=subprocess.PIPE
    )
    try:
        with anyio.fail_after(60):
            while not await _healthy(url):
                assert process.poll() is None
                await anyio.sleep(0.1)
            async with (
                connect(url, mode="auto", name="stopped-listener") as client,
                client.listen(tools_list_changed=True) as sub,
            ):
                process.send_signal(signal.SIGTERM)
                async for _event in sub:  # ends when the bridge closes the stream
                    pass
            _, stderr = await anyio.to_thread.run_sync(process.communicate)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    trail = LocalAuditTrail(tmp_path / "audit")
    try:
        listened = [e["payload"] for e in trail.fetch_events(event_type="mcp.subscriptions.listen")]
        (stopped,) = [e["payload"] for e in trail.fetch_events(event_type="bridge.stopped")]
    finally:
        trail.close()
    assert [(p["client"]["name"], p["decision"]["outcome"]) for p in listened] == [
        ("stopped-listener", "allowed")
    ]
    assert stopped["abortedCalls"] == 0


async def _healthy(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{url}/health")).status_code == 200
    except httpx.TransportError:
        return False
