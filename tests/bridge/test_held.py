"""Held calls (``held.py``) when the 2026-07-28 client does not come back with its answer.

A bridge with a short upstream timeout in front of ``library`` spoken to in the session protocol,
so its ``muse`` tool asks the client mid-call and the bridge holds the call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from mcp_bridge.bridge.app import create_app

from .conftest import Bridge, bridge_settings, sample_spec
from .harness import connect, events, faulty_trail, serve_in_thread

pytestmark = pytest.mark.anyio

TIMEOUT = 4.0
"""Short, so the test waits little for the unanswered question; long enough for the upstream to
start on a loaded machine (it bounds `initialize` too)."""


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    tmp = tmp_path_factory.mktemp("held")
    trail, store = faulty_trail(tmp / "audit")
    upstream = dataclasses.replace(sample_spec("library"), protocol="session")
    settings = bridge_settings(tmp, bridge_upstream_timeout_seconds=TIMEOUT)
    with serve_in_thread(create_app(settings, trail, [upstream])) as url:
        yield Bridge(url, trail, store, tmp, tmp / "audit")
    trail.close()


def _exchanges(bridge: Bridge) -> list[dict[str, Any]]:
    return [e["payload"] for e in events(bridge.trail, "mcp.upstream.sampling.createMessage")]


async def test_an_unanswered_question_ends_the_held_call(held: Bridge) -> None:
    async def sample(ctx: Any, params: Any) -> types.CreateMessageResult:
        raise AssertionError("the round is driven by hand here")

    async with connect(
        held.url, held.auth(), mode="2026-07-28", name="gone", sampling_callback=sample
    ) as client:
        first = await client.session.call_tool(
            "library__muse", {"topic": "silence"}, allow_input_required=True
        )
        assert isinstance(first, types.InputRequiredResult)
        (question,) = (first.input_requests or {}).values()
        assert question.method == "sampling/createMessage"
        with anyio.fail_after(30):  # the held call ends: unanswered, or cut by the same timeout
            while not _exchanges(held):
                await anyio.sleep(0.05)
        answer = types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="late"), model="t"
        )
        with pytest.raises(MCPError) as late:
            await client.session.call_tool(
                "library__muse",
                {"topic": "silence"},
                input_responses={key: answer for key in first.input_requests or {}},
                request_state=first.request_state,
                allow_input_required=True,
            )
    assert late.value.code == INVALID_PARAMS
    assert "requestState names no held call" in late.value.message
    (exchange,) = _exchanges(held)
    assert exchange["via"] == "input-required"
    assert exchange["correlationId"] is not None
    # Whichever ended it first: the unanswered question or the upstream call's own timeout
    # (both BRIDGE_UPSTREAM_TIMEOUT_SECONDS), after which the upstream withdrew its request.
    if exchange["decision"]["outcome"] == "forwarded":
        assert exchange["isError"]
        assert "BRIDGE_UPSTREAM_TIMEOUT_SECONDS" in exchange["errorMessage"]
    else:
        assert exchange["decision"]["outcome"] == "cancelled"
        assert "withdrew" in exchange["decision"]["reason"]
