"""MCP beyond request/response through the bridge: progress, and JSON or SSE answers.

The official client in both protocol generations against the ``lone`` bridge (``library``
upstream, upstream timeout ``UPSTREAM_TIMEOUT``).
"""

from __future__ import annotations

from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError

from mcp_bridge.bridge import errors

from .conftest import API_KEY, UPSTREAM_TIMEOUT, Bridge
from .harness import connect, events, initialize_request

pytestmark = pytest.mark.anyio

MODES = ["legacy", "2026-07-28"]


@pytest.mark.parametrize("mode", MODES)
async def test_progress_reaches_the_client_and_keeps_a_long_call_alive(
    lone: Bridge, mode: str
) -> None:
    """The call lasts longer than the upstream timeout; its progress keeps it going."""
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    seconds = UPSTREAM_TIMEOUT + 1
    async with connect(lone.url, lone.auth(), mode=mode) as client:
        result = await client.call_tool(
            "library__wait", {"seconds": seconds}, progress_callback=progress
        )
    assert result.content[0].text == "waited"  # type: ignore[union-attr]
    steps = round(seconds * 10)
    assert seen == [(n, steps, f"step {n}") for n in range(1, steps + 1)]


@pytest.mark.parametrize("mode", MODES)
async def test_a_silent_upstream_still_times_out(lone: Bridge, mode: str) -> None:
    async with connect(lone.url, lone.auth(), mode=mode) as client:
        with pytest.raises(MCPError) as timed_out:
            await client.call_tool("library__stall", {"seconds": UPSTREAM_TIMEOUT + 3})
    assert timed_out.value.code == errors.UPSTREAM_TIMEOUT
    assert "BRIDGE_UPSTREAM_TIMEOUT_SECONDS" in timed_out.value.message


def _session(bridge: Bridge) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    opened = httpx.post(f"{bridge.url}/mcp", json=initialize_request("raw"), headers=headers)
    return {**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"]}


def _call(meta: dict[str, Any]) -> dict[str, Any]:
    params = {"name": "library__wait", "arguments": {"seconds": 0.2}, "_meta": meta}
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}


def test_session_calls_stream_only_when_they_asked_for_progress(lone: Bridge) -> None:
    headers = _session(lone)
    plain = httpx.post(f"{lone.url}/mcp", json=_call({}), headers=headers, timeout=30)
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json()["result"]["content"][0]["text"] == "waited"
    streamed = httpx.post(
        f"{lone.url}/mcp", json=_call({"progressToken": "tok-1"}), headers=headers, timeout=30
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.text.count('"progressToken":"tok-1"') == 2
    assert '"text":"waited"' in streamed.text


def test_a_session_that_asked_for_logs_gets_its_calls_streamed(lone: Bridge) -> None:
    """After ``logging/setLevel`` a call can carry the upstream's logs, so it is streamed."""
    headers = _session(lone)
    before = httpx.post(f"{lone.url}/mcp", json=_call({}), headers=headers, timeout=30)
    level = {"jsonrpc": "2.0", "id": 8, "method": "logging/setLevel", "params": {"level": "info"}}
    assert httpx.post(f"{lone.url}/mcp", json=level, headers=headers).status_code == 200
    after = httpx.post(f"{lone.url}/mcp", json=_call({}), headers=headers, timeout=30)
    assert before.headers["content-type"].startswith("application/json")
    assert after.headers["content-type"].startswith("text/event-stream")
    assert '"text":"waited"' in after.text
    (asked,) = [
        e["payload"]
        for e in events(lone.trail, "mcp.logging.setLevel")
        if e["payload"]["sessionId"] == headers["Mcp-Session-Id"]
    ]
    assert asked["errorCode"] is None


async def _sample(ctx: ClientRequestContext, params: Any) -> types.CreateMessageResult:
    answer = types.TextContent(type="text", text=f"sampled {params.messages[0].content.text}")
    return types.CreateMessageResult(role="assistant", content=answer, model="t")


@pytest.mark.parametrize("mode", MODES)
async def test_sampling_reaches_the_client_in_both_protocols(lone: Bridge, mode: str) -> None:
    """The upstream speaks 2026-07-28 and asks with an InputRequiredResult: a 2026-07-28 client
    gets it passed through and retries with its answer; a session client is asked mid-call."""
    async with connect(
        lone.url, lone.auth(), mode=mode, name=f"muse-{mode}", sampling_callback=_sample
    ) as client:
        result = await client.call_tool("library__muse", {"topic": "tea"})
    assert result.content[0].text == "mused: sampled a line about tea"  # type: ignore[union-attr]
    calls = [
        e["payload"]
        for e in events(lone.trail, "mcp.tools.call")
        if (e["payload"]["client"] or {}).get("name") == f"muse-{mode}"
    ]
    asked = [
        e["payload"]
        for e in events(lone.trail, "mcp.upstream.sampling.createMessage")
        if e["payload"]["correlationId"] in {c["correlationId"] for c in calls}
    ]
    if mode == "legacy":
        assert len(calls) == 1 and len(asked) == 1
        assert asked[0]["decision"]["outcome"] == "forwarded"
    else:
        assert len(calls) == 2 and not asked


def test_structured_content_is_passed_through_unchecked_from_a_session_upstream(
    asking: Bridge,
) -> None:
    """``library__tally`` breaks its own output schema. From a session-protocol upstream the
    bridge forwards the result as is (checking it is the end client's job); the official client
    it uses for a 2026-07-28 upstream checks it, so that call is answered with an error."""
    headers = _session(asking)
    call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "libs__tally"}}
    session = httpx.post(f"{asking.url}/mcp", json=call, headers=headers, timeout=30).json()
    assert session["result"]["structuredContent"] == {"books": "many"}
    assert session["result"].get("isError") is not True
    call["params"] = {"name": "lib__tally"}
    modern = httpx.post(f"{asking.url}/mcp", json=call, headers=headers, timeout=30).json()
    assert "Invalid structured content returned by tool tally" in modern["error"]["message"]
