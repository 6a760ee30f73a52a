"""An upstream's requests and logs reach the client whose call caused them, with several running.

The ``asking`` bridge (conftest), three upstreams that ask the client while a tool runs:

* ``asking`` — streamable HTTP, session protocol: sends its sampling requests and logs on the
  call's own response stream (routed by the call's context);
* ``lib`` — stdio, 2026-07-28: asks with an ``InputRequiredResult``, resolved in the calling task
  (routed by the call's context);
* ``libs`` — the same server over stdio in the session protocol: nothing on the wire relates a
  request to a call, so it is routed only when one call is running, and refused otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError

from .conftest import Bridge
from .harness import connect, events

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def _payloads(bridge: Bridge, event_type: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in events(bridge.trail, event_type)]


def _calls_of(bridge: Bridge, client: str, tool: str) -> list[dict[str, Any]]:
    return [
        p
        for p in _payloads(bridge, "mcp.tools.call")
        if (p["client"] or {}).get("name") == client and p["target"]["name"] == tool
    ]


def _call_of(bridge: Bridge, client: str, tool: str) -> dict[str, Any]:
    (call,) = _calls_of(bridge, client, tool)
    return call


@pytest.mark.parametrize("upstream", ["asking", "lib"])
async def test_concurrent_calls_each_get_their_own_sampling_request(
    asking: Bridge, upstream: str
) -> None:
    """Both calls are asked before either answers, so both are in flight when routed."""
    both_asked = anyio.Event()
    asked: list[str] = []

    def sampler(who: str) -> Any:
        async def sample(ctx: ClientRequestContext, params: Any) -> types.CreateMessageResult:
            asked.append(who)
            if len(asked) == 2:
                both_asked.set()
            with anyio.fail_after(20):
                await both_asked.wait()
            text = f"{who} on {params.messages[0].content.text}"
            return types.CreateMessageResult(
                role="assistant", content=types.TextContent(type="text", text=text), model="t"
            )

        return sample

    results: dict[str, str] = {}

    async def call(who: str, topic: str) -> None:
        async with connect(
            asking.url,
            asking.auth(),
            mode="legacy",
            name=f"{who}-{upstream}",
            sampling_callback=sampler(who),
        ) as client:
            results[who] = _text(await client.call_tool(f"{upstream}__muse", {"topic": topic}))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, "ann", "tea")
        tg.start_soon(call, "bob", "coffee")
    assert results == {
        "ann": "mused: ann on a line about tea",
        "bob": "mused: bob on a line about coffee",
    }
    exchanges = {
        p["correlationId"]: p for p in _payloads(asking, "mcp.upstream.sampling.createMessage")
    }
    for who in ("ann", "bob"):
        call_record = _call_of(asking, f"{who}-{upstream}", f"{upstream}__muse")
        exchange = exchanges[call_record["correlationId"]]
        assert exchange["upstream"] == upstream
        assert exchange["routing"] == "call-context"
        assert exchange["decision"]["outcome"] == "forwarded"
        assert exchange["sessionId"] == call_record["sessionId"]
        assert exchange["requestId"] == call_record["requestId"]
        assert exchange["identity"]["subject"] == "ci"


async def test_on_stdio_a_request_with_several_calls_running_is_refused(
    asking: Bridge, tmp_path: Path
) -> None:
    """``libs`` cannot say which call asked: one running call gets it, two get a refusal."""
    sampled: list[str] = []

    async def sample(ctx: ClientRequestContext, params: Any) -> types.CreateMessageResult:
        sampled.append(params.messages[0].content.text)
        content = types.TextContent(type="text", text="only one")
        return types.CreateMessageResult(role="assistant", content=content, model="t")

    marker = tmp_path / "busy"
    async with (
        connect(asking.url, asking.auth(), mode="legacy", name="busy") as busy,
        connect(
            asking.url, asking.auth(), mode="legacy", name="asker", sampling_callback=sample
        ) as asker,
    ):
        alone = await asker.call_tool("libs__muse", {"topic": "solitude"})
        async with anyio.create_task_group() as tg:
            wait = {"seconds": 3, "marker": str(marker)}
            tg.start_soon(busy.call_tool, "libs__wait", wait)
            with anyio.fail_after(20):
                while not Path(f"{marker}.started").exists():
                    await anyio.sleep(0.02)
            with pytest.raises(MCPError) as crowded:
                await asker.call_tool("libs__muse", {"topic": "company"})
    assert _text(alone) == "mused: only one"
    assert "2 client calls are running on upstream 'libs'" in crowded.value.message
    assert sampled == ["a line about solitude"]
    records = [
        p
        for p in _payloads(asking, "mcp.upstream.sampling.createMessage")
        if p["upstream"] == "libs"
    ]
    assert [(r["decision"]["outcome"], r["routing"]) for r in records] == [
        ("forwarded", "only-call"),
        ("refused", None),
    ]
    assert "2 client calls are running on upstream 'libs'" in records[1]["decision"]["reason"]
    assert records[1]["correlationId"] is None
    first, second = _calls_of(asking, "asker", "libs__muse")
    assert records[0]["correlationId"] == first["correlationId"]
    assert second["errorCode"] is not None


async def test_a_calls_logs_reach_its_own_client_only(asking: Bridge) -> None:
    logs: dict[str, list[Any]] = {"ann": [], "bob": []}

    def listener(who: str) -> Any:
        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            logs[who].append((params.logger, params.data))

        client = connect(
            asking.url, asking.auth(), mode="legacy", name=f"log-{who}", logging_callback=on_log
        )
        return client

    async with listener("ann") as ann, listener("bob") as bob:
        await ann.set_logging_level("info")
        await bob.set_logging_level("info")
        said = await ann.call_tool("asking__chatty", {"text": "hi"})
        assert logs["ann"] == [
            ("asking", "chatty says hi")
        ]  # on the call's stream, before it ended
    assert _text(said) == "said hi"
    assert logs["bob"] == []
    call = _call_of(asking, "log-ann", "asking__chatty")
    (relayed,) = [
        p
        for p in _payloads(asking, "mcp.upstream.notifications.message")
        if p.get("correlationId") == call["correlationId"]
    ]
    assert relayed["sessionIds"] == [call["sessionId"]]
    assert relayed["requestId"] == call["requestId"]
    assert relayed["decision"]["outcome"] == "forwarded"


async def test_a_session_level_reaches_a_2026_upstream_as_the_requests_opt_in(
    asking: Bridge,
) -> None:
    """``lib`` speaks 2026-07-28 (no ``logging/setLevel``): the bridge stamps the session's
    level on the call, so the upstream logs; the log goes to the one call that opted in, not to
    another session that also asked for logs."""
    logs: dict[str, list[Any]] = {"ann": [], "bob": []}

    def listener(who: str) -> Any:
        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            logs[who].append((params.logger, params.data))

        return connect(
            asking.url, asking.auth(), mode="legacy", name=f"modern-{who}", logging_callback=on_log
        )

    async with listener("ann") as ann, listener("bob") as bob:
        await ann.set_logging_level("info")
        await bob.set_logging_level("info")
        await ann.call_tool("lib__chatty", {"text": "across"})
        with anyio.fail_after(20):
            while not logs["ann"]:
                await anyio.sleep(0.02)
    assert logs == {"ann": [("lib", "chatty says across")], "bob": []}
    call = _call_of(asking, "modern-ann", "lib__chatty")
    relayed = [
        p for p in _payloads(asking, "mcp.upstream.notifications.message") if p["upstream"] == "lib"
    ]
    assert [(r["sessionIds"], r["routing"]) for r in relayed] == [
        ([call["sessionId"]], "only-call")
    ]
    assert relayed[0]["correlationId"] == call["correlationId"]
    assert relayed[0]["decision"]["outcome"] == "forwarded"
