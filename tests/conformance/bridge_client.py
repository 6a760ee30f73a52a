"""The bridge as the *client* of the conformance suite's test servers.

``conformance client --command "python -m tests.conformance.bridge_client"`` starts a scenario's
test server and runs this with its URL as the last argument (and the scenario's name in
``MCP_CONFORMANCE_SCENARIO``). This starts a real bridge whose only upstream is that URL (names
unprefixed), and drives it with the official client as a user would: list the tools, call the one
the scenario offers. What the suite checks is what the bridge, as an MCP client, sent upstream.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp.types import ElicitRequestParams, ElicitResult

from mcp_bridge.audit import LocalAuditTrail
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.settings import BridgeSettings
from mcp_bridge.bridge.upstream_config import UpstreamSpec
from tests.bridge.harness import connect, serve_in_thread

CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "tools_call": ("add_numbers", {"a": 5, "b": 3}),
    "elicitation-sep1034-client-defaults": ("test_client_elicitation_defaults", {}),
    "sse-retry": ("test_reconnection", {}),
}


async def accept_with_defaults(context: Any, params: ElicitRequestParams) -> ElicitResult:
    """A user who accepts the form as offered (the defaults fill the omitted fields)."""
    return ElicitResult(action="accept", content={})


async def drive(bridge_url: str, scenario: str) -> None:
    async with connect(
        bridge_url,
        name="conformance-driver",
        mode="legacy",
        elicitation_callback=accept_with_defaults,
    ) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        name, arguments = CALLS.get(scenario, ("", {}))
        if name in tools:
            await client.call_tool(name, arguments)


def main(url: str) -> int:
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    with tempfile.TemporaryDirectory() as tmp:
        trail = LocalAuditTrail(Path(tmp) / "audit")
        settings = BridgeSettings(_env_file=None, bridge_upstream_start_wait_seconds=10)  # type: ignore[call-arg]
        upstream = UpstreamSpec(name="scenario", url=url, prefix=False)
        try:
            with serve_in_thread(create_app(settings, trail, [upstream])) as bridge_url:
                anyio.run(drive, bridge_url, scenario)
        finally:
            trail.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[-1]))
