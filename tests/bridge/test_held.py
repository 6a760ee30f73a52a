"""Held calls (``held.py``): what the trail holds for one, however it ends.

A bridge with a short upstream timeout in front of ``library`` spoken to in the session protocol,
so its ``muse`` (read-only, one question) and ``ponder`` (mutating, two questions, progress after
each answer) tools ask the official client in 2026-07-28 mode mid-call and the bridge holds the
call; and a real ``mcp-bridge serve`` stopped by a signal while a call is held.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from mcp_bridge.audit import LocalAuditTrail
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.errors import UPSTREAM_TIMEOUT

from .conftest import Bridge, bridge_settings, sample_spec
from .harness import (
    connect,
    events,
    faulty_trail,
    serve_env,
    serve_in_thread,
    wait_until_healthy,
)

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
        earlier = len(_exchanges(held))  # of the other tests on this bridge
        first = await client.session.call_tool(
            "library__muse", {"topic": "silence"}, allow_input_required=True
        )
        assert isinstance(first, types.InputRequiredResult)
        (question,) = (first.input_requests or {}).values()
        assert question.method == "sampling/createMessage"
        with anyio.fail_after(30):  # the held call ends: unanswered, or cut by the same timeout
            while len(_exchanges(held)) == earlier:
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
    (exchange,) = _exchanges(held)[earlier:]
    assert exchange["via"] == "input-required" and exchange["answeredBy"] is None
    assert exchange["correlationId"] is not None
    # Whichever ended it first: the unanswered question or the upstream call's own timeout
    # (both BRIDGE_UPSTREAM_TIMEOUT_SECONDS), after which the upstream withdrew its request.
    if exchange["decision"]["outcome"] == "forwarded":
        assert exchange["isError"]
        assert "BRIDGE_UPSTREAM_TIMEOUT_SECONDS" in exchange["errorMessage"]
    else:
        assert exchange["decision"]["outcome"] == "cancelled"
        assert "withdrew" in exchange["decision"]["reason"]
    # The held call itself ends with one outcome: an error, after the one round it had; the
    # late retry, a request of its own that named no held call, has its own (refused) record.
    with anyio.fail_after(30):
        while len(outcomes := _records(held, "silence").get("mcp.tools.call", [])) < 2:
            await anyio.sleep(0.05)
    (outcome,) = [o for o in outcomes if o["correlationId"] == exchange["correlationId"]]
    assert outcome["decision"]["outcome"] == "allowed"
    assert outcome["isError"] is True and outcome["inputRounds"] == 1
    # The upstream call's timer started before the question's, so it is what ends the call.
    assert outcome["errorCode"] == UPSTREAM_TIMEOUT
    (refusal,) = [o for o in outcomes if o is not outcome]
    assert refusal["errorCode"] == INVALID_PARAMS and "inputRounds" not in refusal


def _records(bridge: Bridge, topic: str) -> dict[str, list[dict[str, Any]]]:
    """The trail's records of the calls about ``topic``, by event type."""
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events(bridge.trail):
        payload = event["payload"]
        if (payload.get("arguments") or {}).get("topic") == topic:
            found.setdefault(event["eventType"], []).append(payload)
    return found


async def test_a_held_mutating_call_has_one_intent_one_outcome_and_its_rounds(
    held: Bridge,
) -> None:
    answers = iter(["first", "second"])
    progress: list[str | None] = []

    async def sample(ctx: Any, params: Any) -> types.CreateMessageResult:
        text = types.TextContent(type="text", text=next(answers))
        return types.CreateMessageResult(role="assistant", content=text, model="t")

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with connect(held.url, held.auth(), mode="2026-07-28", sampling_callback=sample) as c:
        result = await c.call_tool(
            "library__ponder", {"topic": "rounds"}, progress_callback=on_progress
        )
    assert result.content[0].text == "pondered: first / second"  # type: ignore[union-attr]
    # The upstream reports progress after each answer, while the retry carrying it waits.
    assert progress == ["answer 1", "answer 2"]
    records = _records(held, "rounds")
    (intent,) = records["mcp.tools.call.intent"]
    (outcome,) = records["mcp.tools.call"]
    assert intent["decision"]["outcome"] == "pending"
    assert outcome["decision"]["outcome"] == "allowed"
    assert outcome["isError"] is False and outcome["inputRounds"] == 3
    assert outcome["correlationId"] == intent["correlationId"]
    assert outcome["requestId"] == intent["requestId"]
    exchanges = [
        e
        for e in _exchanges(held)
        if e["correlationId"] == intent["correlationId"] and e.get("answeredBy")
    ]
    assert [e["decision"]["outcome"] for e in exchanges] == ["forwarded", "forwarded"]
    retries = [e["answeredBy"] for e in exchanges]
    assert len({r["correlationId"] for r in retries} | {intent["correlationId"]}) == 3
    assert all(r["requestId"] != intent["requestId"] for r in retries)


async def test_a_held_call_the_upstream_fails_has_an_error_outcome(held: Bridge) -> None:
    async def sample(ctx: Any, params: Any) -> types.CreateMessageResult:
        text = types.TextContent(type="text", text="fine")
        return types.CreateMessageResult(role="assistant", content=text, model="t")

    async with connect(held.url, held.auth(), mode="2026-07-28", sampling_callback=sample) as c:
        result = await c.call_tool("library__ponder", {"topic": "doom", "fail": True})
    assert result.is_error
    records = _records(held, "doom")
    (intent,) = records["mcp.tools.call.intent"]
    (outcome,) = records["mcp.tools.call"]
    assert outcome["decision"]["outcome"] == "allowed"
    assert outcome["isError"] is True and outcome["inputRounds"] == 3
    assert outcome["correlationId"] == intent["correlationId"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
async def test_a_call_held_when_the_bridge_stops_is_recorded_aborted(
    tmp_path: Path, signum: int
) -> None:
    """``mcp-bridge serve`` stopped by a signal while a call waits for the client's answer."""
    library = sample_spec("library")
    upstream = {"command": library.command, "args": list(library.args), "protocol": "session"}
    env = serve_env(tmp_path, {"library": upstream})
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_bridge", "serve"], env=env, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        await anyio.to_thread.run_sync(wait_until_healthy, url, process)
        async with connect(url, mode="2026-07-28") as client:
            first = await client.session.call_tool(
                "library__ponder", {"topic": "halt"}, allow_input_required=True
            )
            assert isinstance(first, types.InputRequiredResult)
            process.send_signal(signum)
            _, stderr = await anyio.to_thread.run_sync(lambda: process.communicate(timeout=60))
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    with LocalAuditTrail(tmp_path / "audit") as trail:
        found = trail.fetch_events(limit=1000)
    intents = [e["payload"] for e in found if e["eventType"] == "mcp.tools.call.intent"]
    outcomes = [e["payload"] for e in found if e["eventType"] == "mcp.tools.call"]
    (intent,) = intents
    (outcome,) = outcomes
    assert outcome["decision"]["outcome"] == "aborted"
    assert outcome["correlationId"] == intent["correlationId"]
    assert outcome["requestId"] == intent["requestId"]
    # The question still pending was answered with an error, recorded before the stop record.
    kinds = [e["eventType"] for e in found]
    assert kinds[-2:] == ["mcp.upstream.sampling.createMessage", "bridge.stopped"]
    exchange = found[-2]["payload"]
    assert exchange["correlationId"] == intent["correlationId"]
    assert exchange["via"] == "input-required" and exchange["isError"] is True
    assert exchange["answeredBy"] is None
    assert "the bridge stopped before" in exchange["errorMessage"]
    assert found[-1]["payload"]["abortedCalls"] == 1


async def test_a_held_call_whose_client_cancels_is_ended_upstream_and_recorded(
    held: Bridge, tmp_path: Path
) -> None:
    """The client closes the first request's connection: the upstream call is cancelled too."""
    marker = str(tmp_path / "cancelled")
    args = {"title": "t", "seconds": 30, "marker": marker}
    modern = connect(held.url, held.auth(), mode="2026-07-28")
    async with modern as client, anyio.create_task_group() as tg:
        tg.start_soon(client.call_tool, "library__slow_shelve", args)
        with anyio.fail_after(20):
            while not Path(marker + ".started").exists():
                await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    with anyio.fail_after(20):  # the upstream's handler was cancelled (it writes the marker)
        while not Path(marker).exists():
            await anyio.sleep(0.05)
    found = [
        e
        for e in events(held.trail)
        if (e["payload"].get("arguments") or {}).get("marker") == marker
    ]
    assert [e["eventType"] for e in found] == ["mcp.tools.call.intent", "mcp.tools.call"]
    intent, outcome = (e["payload"] for e in found)
    assert outcome["decision"]["outcome"] == "cancelled"
    assert outcome["correlationId"] == intent["correlationId"]


async def test_a_retry_that_answers_nothing_is_recorded_as_a_call_of_its_own(
    held: Bridge,
) -> None:
    async def sample(ctx: Any, params: Any) -> types.CreateMessageResult:
        text = types.TextContent(type="text", text="ok")
        return types.CreateMessageResult(role="assistant", content=text, model="t")

    async with connect(held.url, held.auth(), mode="2026-07-28", sampling_callback=sample) as c:
        first = await c.session.call_tool(
            "library__ponder", {"topic": "empty"}, allow_input_required=True
        )
        assert isinstance(first, types.InputRequiredResult)
        again = await c.session.call_tool(
            "library__ponder",
            {"topic": "empty"},
            input_responses={},
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(again, types.InputRequiredResult)
        assert set(again.input_requests or {}) == set(first.input_requests or {})
        result = await c.call_tool(
            "library__ponder",
            {"topic": "empty"},
            input_responses={key: await sample(None, None) for key in again.input_requests or {}},
            request_state=first.request_state,
        )
    assert result.content[0].text == "pondered: ok / ok"  # type: ignore[union-attr]
    records = _records(held, "empty")
    intents, outcomes = records["mcp.tools.call.intent"], records["mcp.tools.call"]
    assert len(intents) == 2 and len(outcomes) == 2
    (call,) = [o for o in outcomes if "inputRounds" in o]
    (empty,) = [o for o in outcomes if "inputRounds" not in o]
    assert call["correlationId"] == intents[0]["correlationId"] and call["inputRounds"] == 4
    assert empty["correlationId"] == intents[1]["correlationId"]
    assert empty["decision"]["outcome"] == "allowed" and empty["isError"] is False
