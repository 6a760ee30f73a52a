"""``subscriptions/listen``: a 2026-07-28 client's stream of change notifications.

The ``asking`` bridge (conftest): its HTTP upstream (session protocol) has ``asking://note``
(subscribable), ``touch`` (says the note changed, answers what it is subscribed to) and ``grow``
(sends the list-changed notifications).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.shared.subscriptions import ResourceUpdated, ToolsListChanged

from .conftest import Bridge
from .harness import connect, events

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
