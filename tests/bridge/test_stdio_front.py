"""``mcp-bridge stdio`` driven by the official SDK's stdio client, as an MCP host launches it.

The bridge runs as a real subprocess in front of the ``library`` stdio server; the trail it wrote
is read back after the client closes the connection.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from mcp_bridge.audit import LocalAuditTrail
from mcp_bridge.bridge.errors import POLICY_DENIED, READ_ONLY_MODE

from .conftest import sample_spec
from .harness import initialize_request

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


def _launch(tmp: Path, access: dict[str, Any] | None = None, **env: str) -> StdioServerParameters:
    library = sample_spec("library")
    entry: dict[str, Any] = {"command": library.command, "args": list(library.args)}
    if access is not None:
        entry["access"] = access
    config = tmp / "bridge.json"
    config.write_text(json.dumps({"mcpServers": {"library": entry}}))
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_bridge", "stdio", "--config", str(config)],
        env={
            "PYTHONPATH": str(REPO / "src"),
            "AUDIT_STORAGE_PATH": str(tmp / "audit"),
            "AUDIT_DIGEST_KEY": "stdio-test-key",
            **env,
        },
        cwd=str(tmp),
    )


def _events(tmp: Path, event_type: str) -> list[dict[str, Any]]:
    trail = LocalAuditTrail(tmp / "audit")
    try:
        return [e["payload"] for e in trail.fetch_events(limit=1000, event_type=event_type)]
    finally:
        trail.close()


async def test_stdio_client_is_served_and_recorded_as_the_os_user(tmp_path: Path) -> None:
    async with Client(stdio_client(_launch(tmp_path))) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("library__shelve", {"title": "Stdio"})
        prompt = await client.get_prompt("library__review", {"book": "Dune"})
    assert "library__shelve" in tools
    assert result.content[0].text == "1 books"  # type: ignore[union-attr]
    assert "Dune" in prompt.messages[0].content.text  # type: ignore[union-attr]
    (intent,) = _events(tmp_path, "mcp.tools.call.intent")
    (call,) = _events(tmp_path, "mcp.tools.call")
    me = getpass.getuser()
    for record in (intent, call):
        assert record["identity"]["subject"] == me
        assert record["identity"]["authMethod"] == "os_user"
    assert intent["decision"]["outcome"] == "pending"
    assert call["decision"]["outcome"] == "allowed"
    (started,) = _events(tmp_path, "bridge.started")
    assert started["frontEnd"] == "stdio"
    assert len(_events(tmp_path, "bridge.stopped")) == 1


async def test_stdio_keeps_the_fail_closed_and_access_rules(tmp_path: Path) -> None:
    read_only = _launch(tmp_path, AUDIT_ENABLED="false")
    async with Client(stdio_client(read_only)) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("library__shelve", {"title": "Refused"})
    assert refused.value.code == READ_ONLY_MODE
    guarded = _launch(tmp_path, access={"deny": [{"subjects": [getpass.getuser()]}]})
    async with Client(stdio_client(guarded)) as client:
        with pytest.raises(MCPError) as denied:
            await client.get_prompt("library__review", {"book": "Dune"})
    assert denied.value.code == POLICY_DENIED
    (record,) = _events(tmp_path, "mcp.prompts.get")
    assert record["decision"]["rule"] == "mcpServers.library.access.deny[0]"
    assert os.path.isdir(tmp_path / "audit")


def _send(process: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_records_the_aborted_call_and_bridge_stopped(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """A real ``mcp-bridge stdio`` process with a call running gets the signal: it exits 0,
    the call's record says ``aborted`` and ``bridge.stopped`` counts it."""
    launch = _launch(tmp_path)
    marker = tmp_path / "waiting"
    process = subprocess.Popen(
        [launch.command, *launch.args],
        env={**os.environ, **(launch.env or {})},
        cwd=launch.cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _send(process, initialize_request("signalled"))
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["id"] == 1
        _send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        call = {"name": "library__wait", "arguments": {"seconds": 60, "marker": str(marker)}}
        _send(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call})
        deadline = time.monotonic() + 60
        while not Path(f"{marker}.started").exists():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert f"received {signum.name}: stopping" in stderr
    (stopped,) = _events(tmp_path, "bridge.stopped")
    assert stopped["abortedCalls"] == 1
    (waited,) = _events(tmp_path, "mcp.tools.call")
    assert waited["target"]["name"] == "library__wait"
    assert waited["decision"]["outcome"] == "aborted"


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_stdio_client_gets_its_logs_at_its_level(tmp_path: Path) -> None:
    """The stdio client's ``logging/setLevel`` reaches the 2026-07-28 ``library`` upstream as
    its calls' opt-in, and the call's log comes back to it."""
    logs: list[tuple[str | None, Any]] = []

    async def on_log(params: Any) -> None:
        logs.append((params.logger, params.data))

    launch = _launch(tmp_path)
    async with Client(stdio_client(launch), mode="legacy", logging_callback=on_log) as client:
        await client.set_logging_level("info")
        await client.call_tool("library__chatty", {"text": "over stdio"})
        with anyio.fail_after(20):
            while not logs:
                await anyio.sleep(0.02)
    assert logs == [("library", "chatty says over stdio")]
    (relayed,) = _events(tmp_path, "mcp.upstream.notifications.message")
    assert relayed["sessionIds"] == ["stdio"]
    assert relayed["decision"]["outcome"] == "forwarded"
