"""Real bridge traffic exported: Parquet queried with DuckDB, and OCSF events, against the trail."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mcp_bridge.audit.export.formats import writer_factory
from mcp_bridge.audit.export.ocsf import to_ocsf
from mcp_bridge.audit.export.output import open_output
from mcp_bridge.audit.export.reader import Selection, read_rows
from mcp_bridge.audit.export.rows import ExportRow
from mcp_bridge.audit.storage.local.source import LocalSource

from .conftest import Bridge
from .harness import connect, events

pytestmark = pytest.mark.anyio


def trail_records(root: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(root.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


async def _traffic(bridge: Bridge) -> None:
    async with connect(bridge.url, bridge.auth(), name="export-client") as client:
        await client.list_tools()
        status = await client.call_tool("git__git_status", {"repo_path": str(bridge.repo)})
        assert not status.is_error
        await client.call_tool("notes__echo", {"text": "to the lake"})
    events(bridge.trail)  # background records reach the store


async def test_parquet_export_of_bridge_traffic_matches_the_trail_in_duckdb(
    bridge: Bridge, tmp_path: Path
) -> None:
    await _traffic(bridge)
    lake = tmp_path / "lake"
    factory, extension = writer_factory("parquet")
    output = open_output(factory, extension, f"{lake}/")
    result = read_rows(LocalSource(bridge.audit_dir), Selection(), output.write)
    assert result.ok, result.render_text()
    output.publish()
    records = trail_records(bridge.audit_dir)
    table = f"read_parquet('{lake}/*/*.parquet', hive_partitioning = true)"
    con = duckdb.connect()
    by_type = dict(con.execute(f"SELECT event_type, count(*) FROM {table} GROUP BY 1").fetchall())
    expected: dict[str, int] = {}
    for record in records:
        expected[record["eventType"]] = expected.get(record["eventType"], 0) + 1
    assert by_type == expected
    calls = con.execute(
        f"SELECT seq, hash, identity_subject, identity_roles, identity_auth_method, method, "
        f"tool, upstream, decision_outcome, duration_ms, arguments_digest, result_digest "
        f"FROM {table} WHERE event_type = 'mcp.tools.call' AND client_name = 'export-client' "
        "ORDER BY seq"
    ).fetchall()
    from_trail = [
        (
            r["seq"], r["hash"], r["payload"]["identity"]["subject"],
            r["payload"]["identity"]["roles"], r["payload"]["identity"]["authMethod"],
            r["payload"]["method"], r["payload"]["target"]["name"], r["payload"]["upstream"],
            r["payload"]["decision"]["outcome"], r["payload"]["durationMs"],
            r["payload"]["argumentsDigest"], r["payload"]["resultDigest"],
        )
        for r in records
        if r["eventType"] == "mcp.tools.call"
        and (r["payload"].get("client") or {}).get("name") == "export-client"
    ]  # fmt: skip
    assert calls == from_trail and len(calls) == 2
    assert {c[6] for c in calls} == {"git__git_status", "notes__echo"}


async def test_ocsf_events_of_bridge_traffic_put_the_mcp_fields_in_their_places(
    bridge: Bridge,
) -> None:
    await _traffic(bridge)
    rows: list[ExportRow] = []
    read_rows(LocalSource(bridge.audit_dir), Selection(), rows.append)
    calls = [
        r
        for r in rows
        if r.event_type == "mcp.tools.call" and r.payload["client"]["name"] == "export-client"
    ]
    status = to_ocsf(next(r for r in calls if r.payload["target"]["name"] == "git__git_status"))
    payload = next(r.payload for r in calls if r.payload["target"]["name"] == "git__git_status")
    assert (status["class_uid"], status["category_uid"]) == (6003, 6)
    assert status["activity_id"] == 2 and status["type_uid"] == 600302  # read-only tool: Read
    assert status["api"]["operation"] == "tools/call"
    assert status["api"]["service"]["name"] == "git"
    assert status["actor"]["user"]["uid"] == "ci"
    assert status["actor"].get("session", {}).get("uid") == payload["sessionId"]
    assert status["src_endpoint"]["name"] == "export-client"
    assert status["status_id"] == 1 and status["status"] == "Success"
    assert status["resources"] == [{"type": "tool", "name": "git__git_status", "uid": "git_status"}]
    assert status["message_context"]["ai_role_id"] == 3
    assert status["message_context"]["application"] == {"name": "export-client", "version": "9.9.9"}
    metadata = status["metadata"]
    assert metadata["profiles"] == ["ai_operation"]
    tags = {t["name"]: t["value"] for t in metadata["tags"]}
    row = next(r for r in calls if r.payload["target"]["name"] == "git__git_status")
    assert (metadata["sequence"], tags["mcp_bridge.hash"]) == (row.seq, row.hash)
    assert metadata["correlation_uid"] == payload["correlationId"]
    assert status["time"] // 1000 == int(datetime.fromisoformat(row.timestamp).timestamp())
