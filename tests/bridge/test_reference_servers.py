"""The npm reference servers behind the bridge, driven by the official Python client.

One bridge for the module: ``everything`` (server-everything), ``memory`` (server-memory) and
``files`` (server-filesystem), all over stdio.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from mcp_bridge.bridge.app import create_app

from .conftest import API_KEY, Bridge, bridge_settings
from .harness import connect, events, faulty_trail, serve_in_thread
from .npm_peers import NPM_DIR, server_spec

pytestmark = pytest.mark.anyio

MODES = ["legacy", "2026-07-28"]


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    tmp = tmp_path_factory.mktemp("peers")
    shared = tmp / "shared"
    shared.mkdir()
    (shared / "hello.txt").write_text("hello from the filesystem server\n")
    memory = server_spec("memory", "mcp-server-memory")
    upstreams = [
        server_spec("everything", "mcp-server-everything", "stdio"),
        dataclasses.replace(memory, env={"MEMORY_FILE_PATH": str(tmp / "memory.jsonl")}),
        server_spec("files", "mcp-server-filesystem", str(shared)),
    ]
    trail, store = faulty_trail(tmp / "audit")
    settings = bridge_settings(tmp, bridge_upstream_start_wait_seconds=60)
    app = create_app(settings, trail, upstreams)
    with serve_in_thread(app) as url:
        yield Bridge(url, trail, store, shared, tmp / "audit")
    trail.close()


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


@pytest.mark.parametrize("mode", MODES)
async def test_progress_of_a_long_tool(peers: Bridge, mode: str) -> None:
    seen: list[float] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append(done)

    async with connect(peers.url, peers.auth(), mode=mode) as client:
        result = await client.call_tool(
            "everything__trigger-long-running-operation",
            {"duration": 1, "steps": 4},
            progress_callback=progress,
        )
    assert "completed" in _text(result).lower()
    assert seen == [1, 2, 3, 4]


async def _sample(ctx: ClientRequestContext, params: Any) -> types.CreateMessageResult:
    asked = params.messages[0].content.text
    answer = types.TextContent(type="text", text=f"sampled: {asked}")
    return types.CreateMessageResult(role="assistant", content=answer, model="t")


async def _elicit(ctx: ClientRequestContext, params: Any) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"name": "Ada", "check": True})


async def _roots(ctx: ClientRequestContext) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[types.Root(uri="file:///srv/project", name="project")])


async def test_sampling_elicitation_and_roots_round_trips(peers: Bridge) -> None:
    callbacks = {
        "sampling_callback": _sample,
        "elicitation_callback": _elicit,
        "list_roots_callback": _roots,
    }
    async with connect(peers.url, peers.auth(), mode="legacy", **callbacks) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"everything__trigger-sampling-request", "everything__get-roots-list"} <= names
        sampled = await client.call_tool(
            "everything__trigger-sampling-request", {"prompt": "a haiku"}
        )
        elicited = await client.call_tool("everything__trigger-elicitation-request", {})
        rooted = await client.call_tool("everything__get-roots-list", {})
    assert "sampled: " in _text(sampled) and "a haiku" in _text(sampled)
    assert "Ada" in _text(elicited)
    assert "file:///srv/project" in _text(rooted)
    recorded = {
        e["eventType"]: e["payload"]
        for e in events(peers.trail)
        if e["eventType"].startswith("mcp.upstream.")
        and e["payload"]["decision"]["outcome"] == "forwarded"
    }
    assert {
        "mcp.upstream.sampling.createMessage",
        "mcp.upstream.elicitation.create",
        "mcp.upstream.roots.list",
    } <= set(recorded)
    assert recorded["mcp.upstream.sampling.createMessage"]["upstream"] == "everything"
    assert recorded["mcp.upstream.sampling.createMessage"]["resultDigest"].startswith("hmac")


async def test_a_2026_client_is_asked_with_input_required_rounds(peers: Bridge) -> None:
    """server-everything speaks the session protocol and asks mid-call; a 2026-07-28 client has
    no back channel, so the bridge holds the upstream call and asks with InputRequiredResult."""
    callbacks = {"sampling_callback": _sample, "elicitation_callback": _elicit}
    async with connect(
        peers.url, peers.auth(), mode="2026-07-28", name="modern-asked", **callbacks
    ) as client:
        sampled = await client.call_tool("everything__trigger-sampling-request", {"prompt": "held"})
        elicited = await client.call_tool("everything__trigger-elicitation-request", {})
    assert "sampled: " in _text(sampled) and "held" in _text(sampled)
    assert "Ada" in _text(elicited)
    calls = [
        e["payload"]
        for e in events(peers.trail, "mcp.tools.call")
        if (e["payload"]["client"] or {}).get("name") == "modern-asked"
    ]
    # One outcome per call (not per round), from the first request, after its two rounds.
    assert [(c["target"]["name"], c["inputRounds"]) for c in calls] == [
        ("everything__trigger-sampling-request", 2),
        ("everything__trigger-elicitation-request", 2),
    ]
    asked = {
        e["eventType"]: e["payload"]
        for e in events(peers.trail)
        if e["eventType"]
        in ("mcp.upstream.sampling.createMessage", "mcp.upstream.elicitation.create")
        and e["payload"]["correlationId"] in {c["correlationId"] for c in calls}
    }
    for event_type, call in (
        ("mcp.upstream.sampling.createMessage", calls[0]),
        ("mcp.upstream.elicitation.create", calls[1]),
    ):
        assert asked[event_type]["via"] == "input-required"
        assert asked[event_type]["decision"]["outcome"] == "forwarded"
        assert asked[event_type]["correlationId"] == call["correlationId"]
        # The retry that carried the answer is a request of its own, named here.
        assert asked[event_type]["answeredBy"]["correlationId"] != call["correlationId"]
        assert asked[event_type]["answeredBy"]["requestId"] != call["requestId"]


@pytest.mark.parametrize("mode", MODES)
async def test_resource_links_can_be_read_back(peers: Bridge, mode: str) -> None:
    async with connect(peers.url, peers.auth(), mode=mode) as client:
        result = await client.call_tool("everything__get-resource-links", {"count": 2})
        links = [c for c in result.content if isinstance(c, types.ResourceLink)]
        assert len(links) == 2
        assert all(str(link.uri).startswith("mcp-bridge://everything/demo://") for link in links)
        read = await client.read_resource(str(links[0].uri))
        assert str(read.contents[0].uri) == str(links[0].uri)
        embedded = await client.call_tool(
            "everything__get-resource-reference", {"resourceType": "Text", "resourceId": 1}
        )
    resources = [c for c in embedded.content if isinstance(c, types.EmbeddedResource)]
    assert str(resources[0].resource.uri).startswith("mcp-bridge://everything/demo://")


@pytest.mark.parametrize("mode", MODES)
async def test_completions(peers: Bridge, mode: str) -> None:
    async with connect(peers.url, peers.auth(), mode=mode) as client:
        completed = await client.complete(
            types.PromptReference(type="ref/prompt", name="everything__completable-prompt"),
            {"name": "department", "value": "Eng"},
        )
    assert "Engineering" in completed.completion.values


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_logging_and_subscriptions_reach_the_session(peers: Bridge) -> None:
    logs: list[types.LoggingMessageNotificationParams] = []
    updates: list[str] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    uri = "mcp-bridge://everything/demo://resource/static/document/architecture.md"
    async with connect(
        peers.url, peers.auth(), mode="legacy", logging_callback=on_log, message_handler=on_message
    ) as client:
        await client.set_logging_level("debug")
        await client.subscribe_resource(uri)
        await client.call_tool("everything__toggle-simulated-logging", {})
        await client.call_tool("everything__toggle-subscriber-updates", {})
        with anyio.fail_after(30):
            while not (logs and updates):
                await anyio.sleep(0.05)
        await client.call_tool("everything__toggle-simulated-logging", {})
        await client.call_tool("everything__toggle-subscriber-updates", {})
        await client.unsubscribe_resource(uri)
    assert logs[0].logger is not None and logs[0].logger.startswith("everything")
    assert updates[0] == uri
    relayed = events(peers.trail, "mcp.upstream.notifications.resources.updated")
    assert relayed and relayed[-1]["payload"]["decision"]["outcome"] == "forwarded"


async def test_tasks_are_refused_clearly(peers: Bridge) -> None:
    async with connect(peers.url, peers.auth(), mode="legacy") as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert listed["everything__simulate-research-query"].execution is None
        with pytest.raises(MCPError) as refused:
            await client.call_tool("everything__simulate-research-query", {"topic": "x"})
    assert refused.value.code == INVALID_PARAMS
    assert "does not support tasks" in refused.value.message


async def test_memory_and_filesystem_servers(peers: Bridge) -> None:
    async with connect(peers.url, peers.auth()) as client:
        entity = {"name": "bridge", "entityType": "software", "observations": ["audited"]}
        created = await client.call_tool("memory__create_entities", {"entities": [entity]})
        graph = await client.call_tool("memory__read_graph", {})
        read = await client.call_tool(
            "files__read_text_file", {"path": str(peers.repo / "hello.txt")}
        )
    assert not created.is_error and "audited" in _text(graph)
    assert "hello from the filesystem server" in _text(read)
    intents = events(peers.trail, "mcp.tools.call.intent")
    assert any(p["payload"]["target"]["name"] == "memory__create_entities" for p in intents)


def test_typescript_sdk_client(peers: Bridge) -> None:
    """``tests/npm/ts_client.mjs``: progress with resetTimeoutOnProgress, sampling, elicitation,
    links; the exchanges are recorded under the TypeScript client's calls."""
    script = NPM_DIR / "ts_client.mjs"
    done = subprocess.run(
        [str(shutil.which("node")), str(script), f"{peers.url}/mcp", API_KEY],
        cwd=NPM_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["protocolVersion"] == "2025-11-25"
    assert "everything__trigger-sampling-request" in summary["tools"]
    assert summary["progress"] == [1, 2, 3, 4, 5, 6]
    assert "completed" in summary["long"].lower()
    assert "ts sampled: " in summary["sampling"]
    assert "Grace" in summary["elicitation"]
    ts_calls = {
        e["payload"]["correlationId"]
        for e in events(peers.trail, "mcp.tools.call")
        if (e["payload"]["client"] or {}).get("name") == "ts-sdk-test"
    }
    asked = {
        e["eventType"]: e["payload"]
        for e in events(peers.trail)
        if e["eventType"].startswith("mcp.upstream.")
        and e["payload"].get("correlationId") in ts_calls
        and e["payload"]["decision"]["outcome"] == "forwarded"
    }
    assert asked["mcp.upstream.sampling.createMessage"]["routing"] == "only-call"
    assert asked["mcp.upstream.elicitation.create"]["routing"] == "only-call"
    assert asked["mcp.upstream.elicitation.create"]["upstream"] == "everything"
    assert summary["link"].startswith("mcp-bridge://everything/")
    assert summary["read"] == summary["link"]
