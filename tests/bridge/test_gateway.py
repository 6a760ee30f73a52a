"""The core path: official client → bridge → real mcp-server-git (stdio) and an HTTP upstream."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from mcp_bridge.audit import verify_audit_trail
from mcp_bridge.bridge.errors import AUDIT_UNAVAILABLE
from mcp_bridge.bridge.recorder import TOOL_CALL_INTENT

from .conftest import Bridge
from .harness import commit_count, connect, events, wait_until_recovered

pytestmark = pytest.mark.anyio


def _by_correlation(bridge: Bridge, event_type: str) -> list[dict]:
    return [e["payload"] for e in events(bridge.trail, event_type)]


async def test_tools_are_namespaced_and_annotations_pass_through(bridge: Bridge) -> None:
    async with connect(bridge.url, bridge.auth()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {"git__git_status", "git__git_commit", "notes__echo", "notes__add_note"} <= set(tools)
    assert tools["git__git_status"].annotations is not None
    assert tools["git__git_status"].annotations.read_only_hint is True
    assert tools["git__git_commit"].annotations is not None
    assert tools["git__git_commit"].annotations.read_only_hint is False


async def test_git_read_and_write_are_recorded_with_identity_and_digests(bridge: Bridge) -> None:
    (bridge.repo / "new.txt").write_text("hello\n")
    before = commit_count(bridge.repo)
    async with connect(bridge.url, bridge.auth(), name="core-client") as client:
        status = await client.call_tool("git__git_status", {"repo_path": str(bridge.repo)})
        assert not status.is_error
        assert "new.txt" in status.content[0].text  # type: ignore[union-attr]
        added = await client.call_tool(
            "git__git_add", {"repo_path": str(bridge.repo), "files": ["new.txt"]}
        )
        assert not added.is_error
        committed = await client.call_tool(
            "git__git_commit", {"repo_path": str(bridge.repo), "message": "via bridge"}
        )
        assert not committed.is_error
    assert commit_count(bridge.repo) == before + 1

    calls = [
        p for p in _by_correlation(bridge, "mcp.tools.call") if p["client"]["name"] == "core-client"
    ]
    by_tool = {p["target"]["name"]: p for p in calls}
    status_event = by_tool["git__git_status"]
    assert status_event["mutating"] is False
    assert "traceId" not in status_event  # tracing is off unless the OTEL_* variables ask
    assert status_event["upstream"] == "git"
    assert status_event["target"]["upstreamName"] == "git_status"
    assert status_event["identity"]["subject"] == "ci"
    assert status_event["identity"]["tokenId"] == "ci-bot"
    assert status_event["identity"]["authMethod"] == "api_key"
    assert status_event["identity"]["roles"] == ["writer"]
    assert status_event["client"]["version"] == "9.9.9"
    assert status_event["argumentsDigest"].startswith("hmac-sha256:")
    assert status_event["resultDigest"].startswith("hmac-sha256:")
    assert status_event["isError"] is False
    assert status_event["decision"]["outcome"] == "allowed"

    commit_event = by_tool["git__git_commit"]
    assert commit_event["mutating"] is True
    assert commit_event["arguments"]["message"] == "via bridge"
    intents = [
        p
        for p in _by_correlation(bridge, "mcp.tools.call.intent")
        if p["correlationId"] == commit_event["correlationId"]
    ]
    assert len(intents) == 1
    assert intents[0]["argumentsDigest"] == commit_event["argumentsDigest"]
    assert "git__git_add" in by_tool

    result = verify_audit_trail(bridge.audit_dir)
    assert result.ok, result.message


async def test_legacy_session_client_is_recorded_with_session_id(bridge: Bridge) -> None:
    async with connect(bridge.url, bridge.auth(), mode="legacy", name="legacy-client") as client:
        await client.call_tool("notes__echo", {"text": "hi"})
    inits = [p for p in _by_correlation(bridge, "mcp.initialize")]
    sessions = {p["sessionId"] for p in inits if p["client"]["name"] == "legacy-client"}
    assert len(sessions) == 1 and all(sessions)  # the handshake is recorded with its session
    calls = [
        p
        for p in _by_correlation(bridge, "mcp.tools.call")
        if p["client"] and p["client"]["name"] == "legacy-client"
    ]
    assert calls and {call["sessionId"] for call in calls} == sessions
    assert calls[0]["protocolVersion"].startswith("2025-")


async def test_http_upstream_works_through_the_bridge(bridge: Bridge) -> None:
    async with connect(bridge.url, bridge.auth()) as client:
        echoed = await client.call_tool("notes__echo", {"text": "over http"})
        added = await client.call_tool("notes__add_note", {"text": "n1"})
    assert echoed.content[0].text == "echo: over http"  # type: ignore[union-attr]
    assert not added.is_error


async def test_fail_closed_when_the_trail_cannot_persist(bridge: Bridge) -> None:
    (bridge.repo / "blocked.txt").write_text("x\n")
    before = commit_count(bridge.repo)
    args = {"repo_path": str(bridge.repo), "files": ["blocked.txt"]}
    async with connect(bridge.url, bridge.auth()) as client:
        bridge.store.broken = True
        try:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("git__git_add", args)
            assert refused.value.code == AUDIT_UNAVAILABLE
            assert "durable" in refused.value.message
            with pytest.raises(MCPError):
                await client.call_tool(
                    "git__git_commit", {"repo_path": str(bridge.repo), "message": "nope"}
                )
            status = await client.call_tool("git__git_status", {"repo_path": str(bridge.repo)})
            assert not status.is_error
        finally:
            bridge.store.broken = False
            wait_until_recovered(bridge.url)
        assert commit_count(bridge.repo) == before
        staged = await client.call_tool("git__git_diff_staged", {"repo_path": str(bridge.repo)})
        assert "blocked.txt" not in staged.content[0].text  # type: ignore[union-attr]
        recovered = await client.call_tool("git__git_add", args)
        assert not recovered.is_error


async def test_refusal_is_logged_recorded_and_explained_to_the_client(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the intent cannot be made durable: the refusal itself still reaches the trail."""
    bridge.store.failing_types = frozenset({TOOL_CALL_INTENT})
    try:
        async with connect(bridge.url, bridge.auth(), name="refused-client") as client:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("library__shelve", {"title": "Refused"})
    finally:
        bridge.store.failing_types = frozenset()
        wait_until_recovered(bridge.url)
    assert refused.value.code == AUDIT_UNAVAILABLE
    assert "could not make the intent of this mutating call durable" in refused.value.message
    assert "injected" in refused.value.message
    logged = [r.getMessage() for r in caplog.records if "refusing mutating call" in r.getMessage()]
    assert len(logged) == 1
    calls = [
        p
        for p in _by_correlation(bridge, "mcp.tools.call")
        if p["client"] and p["client"]["name"] == "refused-client"
    ]
    assert len(calls) == 1
    assert calls[0]["target"]["name"] == "library__shelve"
    assert calls[0]["mutating"] is True
    assert calls[0]["decision"]["outcome"] == "refused"
    assert calls[0]["decision"]["reason"] == refused.value.message.removeprefix(
        "refused by mcp-bridge: "
    )
    assert f"correlationId={calls[0]['correlationId']}, subject=ci" in logged[0]
    async with connect(bridge.url, bridge.auth()) as client:
        catalog = await client.read_resource("mcp-bridge://library/library://catalog")
    assert "Refused" not in catalog.contents[0].text  # type: ignore[union-attr]


async def test_fail_closed_when_the_real_store_refuses_writes(bridge: Bridge) -> None:
    """No injected fault: the audit files and folders are made immutable (``chattr +i``, which
    stops root too), so the real local store's writes fail with EPERM."""
    import subprocess

    (bridge.repo / "frozen.txt").write_text("x\n")
    before = commit_count(bridge.repo)
    args = {"repo_path": str(bridge.repo), "files": ["frozen.txt"]}
    async with connect(bridge.url, bridge.auth()) as client:
        await client.call_tool("git__git_status", {"repo_path": str(bridge.repo)})
        frozen = [bridge.audit_dir, *bridge.audit_dir.rglob("*.jsonl")]
        frozen += [p for p in bridge.audit_dir.rglob("*") if p.is_dir()]
        subprocess.run(["chattr", "+i", *map(str, frozen)], check=True)
        try:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("git__git_add", args)
            assert refused.value.code == AUDIT_UNAVAILABLE
            assert "Operation not permitted" in refused.value.message
            status = await client.call_tool("git__git_status", {"repo_path": str(bridge.repo)})
            assert not status.is_error
        finally:
            subprocess.run(["chattr", "-i", *map(str, frozen)], check=True)
            wait_until_recovered(bridge.url)
        assert commit_count(bridge.repo) == before
        staged = await client.call_tool("git__git_diff_staged", {"repo_path": str(bridge.repo)})
        assert "frozen.txt" not in staged.content[0].text  # type: ignore[union-attr]
        assert not (await client.call_tool("git__git_add", args)).is_error
    assert verify_audit_trail(bridge.audit_dir).ok
