"""The bridge on the S3 store: S3 frozen (SIGSTOP) → mutating calls refused, reads answered,
and after S3 thaws, mutating calls pass and the bucket verifies. No injected fault."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

from mcp_bridge.audit import verify_audit_trail
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.errors import AUDIT_UNAVAILABLE

from ..bridge.conftest import API_KEY, bridge_settings, git_spec
from ..bridge.harness import commit_count, connect, make_repo, serve_in_thread
from .seaweed import SeaweedServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_bridge_refuses_mutating_calls_while_s3_is_frozen(
    open_trail, bucket: str, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "during-outage.txt").write_text("x\n")
    trail = open_trail(lambda: datetime.now(UTC))
    app = create_app(bridge_settings(tmp_path), trail, [git_spec(repo)])
    args = {"repo_path": str(repo), "files": ["during-outage.txt"]}
    auth = {"Authorization": f"Bearer {API_KEY}"}
    with serve_in_thread(app) as url:
        async with connect(url, auth) as client:
            before = commit_count(repo)
            seaweed.pause()
            try:
                with pytest.raises(MCPError) as refused:
                    await client.call_tool("git__git_add", args)
                assert refused.value.code == AUDIT_UNAVAILABLE
                assert "spool" in refused.value.message
                status = await client.call_tool("git__git_status", {"repo_path": str(repo)})
                assert not status.is_error
                frozen = _scrape(url, auth)
                assert frozen["mcp_bridge_audit_spool_records"] >= 1  # the refused call's intent
                assert frozen["mcp_bridge_audit_healthy"] == 0
            finally:
                seaweed.resume()
                seaweed.wait_ready(60)  # leave a server that takes writes for the next tests
            assert commit_count(repo) == before
            staged = await client.call_tool("git__git_diff_staged", {"repo_path": str(repo)})
            assert "during-outage.txt" not in staged.content[0].text  # type: ignore[union-attr]
            assert not (await client.call_tool("git__git_add", args)).is_error
            thawed = _scrape(url, auth)
            assert thawed["mcp_bridge_audit_spool_records"] == 0  # shipped before the new intent
            assert thawed["mcp_bridge_audit_healthy"] == 1
    result = verify_audit_trail(f"s3://{bucket}/audit")
    assert result.ok, result.render_text()
    decisions = [
        e["payload"].get("decision", {}).get("outcome")
        for e in trail.fetch_events(200, "mcp.tools.call")
    ]
    assert "refused" in decisions and "allowed" in decisions


def _scrape(url: str, auth: dict[str, str]) -> dict[str, float]:
    """The unlabelled samples of ``/metrics``, parsed by prometheus-client."""
    text = httpx.get(f"{url}/metrics", headers=auth).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }
