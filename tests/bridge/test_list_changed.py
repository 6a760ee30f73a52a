"""An upstream's list-changed notifications reach the clients, and the bridge's catalog follows.

The ``asking`` bridge (conftest): the ``grow`` tool (re)defines ``grown`` and sends tools, prompts
and resources list-changed — ``asking`` (session protocol) on its session's standalone stream,
``lib`` (2026-07-28) on the listen stream the bridge holds open to it.
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest

from .conftest import Bridge
from .harness import connect, events

pytestmark = pytest.mark.anyio

_KINDS = (
    types.ToolListChangedNotification,
    types.PromptListChangedNotification,
    types.ResourceListChangedNotification,
)


@pytest.mark.parametrize("upstream", ["asking", "lib"])
async def test_list_changes_reach_every_session_and_reclassify_the_tool(
    asking: Bridge, upstream: str
) -> None:
    """``grown`` is read-only, then redefined without ``readOnlyHint``: after the relayed
    list-changed the bridge treats it as mutating (durable intent), not by its stale annotation."""
    seen: dict[str, list[str]] = {"grower": [], "watcher": []}

    def client(who: str) -> Any:
        async def on_message(message: Any) -> None:
            if isinstance(message, _KINDS):
                seen[who].append(message.method)

        return connect(
            asking.url, asking.auth(), mode="legacy", name=who, message_handler=on_message
        )

    async def lists_changed(times: int) -> None:
        with anyio.fail_after(20):
            while any(len(methods) < 3 * times for methods in seen.values()):
                await anyio.sleep(0.02)

    async with client("grower") as grower, client("watcher") as watcher:
        await watcher.list_tools()  # an open session the relay knows of
        await grower.call_tool(f"{upstream}__grow", {"read_only": True})
        await lists_changed(1)
        listed = {t.name: t for t in (await watcher.list_tools()).tools}
        assert listed[f"{upstream}__grown"].annotations.read_only_hint is True  # type: ignore[union-attr]
        await grower.call_tool(f"{upstream}__grown", {"text": "first"})
        await grower.call_tool(f"{upstream}__grow", {"read_only": False})
        await lists_changed(2)
        second = await grower.call_tool(f"{upstream}__grown", {"text": "second"})
    assert second.content[0].text == "grown: second"  # type: ignore[union-attr]
    assert sorted(seen["watcher"]) == sorted(
        [
            "notifications/tools/list_changed",
            "notifications/prompts/list_changed",
            "notifications/resources/list_changed",
        ]
        * 2
    )
    calls = [
        p["payload"]
        for p in events(asking.trail, "mcp.tools.call")
        if p["payload"]["target"]["name"] == f"{upstream}__grown"
    ]
    assert [c["mutating"] for c in calls] == [False, True]
    intents = events(asking.trail, "mcp.tools.call.intent")
    assert [
        i["payload"]["correlationId"]
        for i in intents
        if i["payload"]["target"]["name"] == f"{upstream}__grown"
    ] == [calls[1]["correlationId"]]
    relayed = [
        p["payload"]
        for p in events(asking.trail, "mcp.upstream.notifications.tools.list_changed")
        if p["payload"]["upstream"] == upstream
    ]
    assert len(relayed) == 2
    assert all(r["decision"]["outcome"] == "forwarded" for r in relayed)
    assert all(len(r["sessionIds"]) >= 2 for r in relayed)
