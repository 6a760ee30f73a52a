"""Prompts and resources proxied from a stdio upstream (``library``), and how they are recorded."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from .conftest import Bridge
from .harness import connect, events

pytestmark = pytest.mark.anyio

CATALOG = "mcp-bridge://library/library://catalog"


def _payloads(bridge: Bridge, event_type: str, client: str) -> list[dict]:
    found = [e["payload"] for e in events(bridge.trail, event_type)]
    return [p for p in found if p["client"] and p["client"]["name"] == client]


async def test_prompt_is_listed_fetched_and_recorded_with_its_names(bridge: Bridge) -> None:
    async with connect(bridge.url, bridge.auth(), name="prompt-client") as client:
        listed = {p.name for p in (await client.list_prompts()).prompts}
        assert "library__review" in listed
        prompt = await client.get_prompt("library__review", {"book": "Dune"})
    assert prompt.messages[0].content.text == "Please review Dune."  # type: ignore[union-attr]

    [got] = _payloads(bridge, "mcp.prompts.get", "prompt-client")
    assert got["upstream"] == "library"
    assert got["target"] == {"kind": "prompt", "name": "library__review", "upstreamName": "review"}
    assert got["arguments"] == {"book": "Dune"}
    assert got["mutating"] is None
    assert got["isError"] is False
    assert got["resultDigest"].startswith("hmac-sha256:")
    assert got["decision"]["outcome"] == "allowed"


async def test_resource_is_listed_read_and_recorded_with_its_names(bridge: Bridge) -> None:
    async with connect(bridge.url, bridge.auth(), name="resource-client") as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        assert CATALOG in listed
        read = await client.read_resource(CATALOG)
    assert str(read.contents[0].uri) == CATALOG
    assert read.contents[0].text.startswith("catalog: ")  # type: ignore[union-attr]

    [got] = _payloads(bridge, "mcp.resources.read", "resource-client")
    assert got["upstream"] == "library"
    assert got["target"] == {
        "kind": "resource",
        "name": CATALOG,
        "upstreamName": "library://catalog",
    }
    assert got["isError"] is False
    assert got["resultDigest"].startswith("hmac-sha256:")


async def test_unknown_prompt_and_resource_are_invalid_params(bridge: Bridge) -> None:
    async with connect(bridge.url, bridge.auth(), name="unknown-client") as client:
        with pytest.raises(MCPError) as prompt:
            await client.get_prompt("nowhere__review", {})
        with pytest.raises(MCPError) as resource:
            await client.read_resource("mcp-bridge://nowhere/x://y")
    assert prompt.value.code == resource.value.code == -32602
    assert _payloads(bridge, "mcp.prompts.get", "unknown-client")[0]["errorCode"] == -32602
    assert _payloads(bridge, "mcp.resources.read", "unknown-client")[0]["errorCode"] == -32602
