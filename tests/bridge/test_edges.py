"""Authentication, bad input, upstream crashes, redaction and /health against the real bridge."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import EmptyResult, Request
from prometheus_client.parser import text_string_to_metric_families

from mcp_bridge.bridge.errors import UPSTREAM_UNAVAILABLE

from .conftest import API_KEY, Bridge, Tokens
from .harness import connect, events, initialize_request, wait_for

INITIALIZE = initialize_request("raw")
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _post(bridge: Bridge, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{bridge.url}/mcp", content=body, headers={**MCP_HEADERS, **(headers or {})})


def _denials(bridge: Bridge, correlation_id: str) -> list[dict]:
    found = [e["payload"] for e in events(bridge.trail, "auth.denied")]
    return [p for p in found if p["correlationId"] == correlation_id]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("none", "missing bearer token"),
        ("expired", "token expired"),
        ("audience", "wrong audience"),
        ("signature", "bad signature"),
        ("api_key", "unknown API key"),
        ("dev_expired", "token expired"),
    ],
)
def test_bad_credentials_get_401_and_auth_denied(
    bridge: Bridge, tokens: Tokens, case: str, reason: str
) -> None:
    credential = {
        "none": None,
        "expired": tokens.jwt(exp=int(time.time()) - 3600),
        "audience": tokens.jwt(aud="someone-else"),
        "signature": tokens.jwt(_key=tokens.foreign_key),
        "api_key": "mcpb_not_a_known_key",
        "dev_expired": tokens.dev(exp=int(time.time()) - 3600),
    }[case]
    headers = {"X-Request-ID": f"deny-{case}"}
    if credential:
        headers["Authorization"] = f"Bearer {credential}"
    response = _post(bridge, json.dumps(INITIALIZE).encode(), headers)
    assert response.status_code == 401
    assert response.headers["x-request-id"] == f"deny-{case}"
    denied = _denials(bridge, f"deny-{case}")
    assert len(denied) == 1 and denied[0]["reason"] == reason
    trail_text = "".join(p.read_text() for p in bridge.audit_dir.rglob("*.jsonl"))
    if credential:
        assert credential not in trail_text


def test_valid_jwt_and_dev_token_are_accepted(bridge: Bridge, tokens: Tokens) -> None:
    for token in (tokens.jwt(), tokens.dev()):
        response = _post(
            bridge, json.dumps(INITIALIZE).encode(), {"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
    subjects = {
        (p["identity"] or {}).get("subject")
        for p in map(lambda e: e["payload"], events(bridge.trail, "mcp.initialize"))
    }
    assert {"alice", "dev-user"} <= subjects


def test_request_id_is_echoed_and_recorded(bridge: Bridge) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Request-ID": "req-42"}
    response = _post(bridge, json.dumps(INITIALIZE).encode(), headers)
    assert response.headers["x-request-id"] == "req-42"
    recorded = [e["payload"]["correlationId"] for e in events(bridge.trail, "mcp.initialize")]
    assert "req-42" in recorded
    generated = _post(
        bridge, json.dumps(INITIALIZE).encode(), {"Authorization": headers["Authorization"]}
    )
    assert len(generated.headers["x-request-id"]) == 32


def _rejections(bridge: Bridge, correlation_id: str) -> list[dict]:
    found = [e["payload"] for e in events(bridge.trail, "mcp.transport.rejected")]
    return [p for p in found if p["correlationId"] == correlation_id]


def test_malformed_json_is_a_parse_error_and_recorded(bridge: Bridge) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Request-ID": "bad-json"}
    response = _post(bridge, b"{not json", headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
    assert _rejections(bridge, "bad-json")[0]["reason"] == "malformed JSON"


def test_not_jsonrpc_is_rejected_and_recorded(bridge: Bridge) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Request-ID": "not-rpc"}
    response = _post(bridge, b'{"hello": "world"}', headers)
    assert response.status_code == 400
    assert _rejections(bridge, "not-rpc")


def test_oversized_body_gets_413_and_is_recorded(bridge: Bridge) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Request-ID": "too-big"}
    big = dict(INITIALIZE, params={**INITIALIZE["params"], "pad": "x" * 100_000})
    response = _post(bridge, json.dumps(big).encode(), headers)
    assert response.status_code == 413
    assert "BRIDGE_MAX_BODY_BYTES" in _rejections(bridge, "too-big")[0]["reason"]


@pytest.mark.anyio
async def test_unknown_method_and_unknown_tool_are_errors_and_recorded(bridge: Bridge) -> None:
    async with connect(bridge.url, bridge.auth(), mode="legacy") as client:
        with pytest.raises(MCPError) as unknown:
            await client.session.send_request(
                Request(method="no/such/method", params=None), EmptyResult
            )
        assert unknown.value.code == -32601
    async with connect(bridge.url, bridge.auth(), name="prober") as client:
        with pytest.raises(MCPError) as no_tool:
            await client.call_tool("git__does_not_exist", {})
        assert no_tool.value.code == -32602
    unknown_events = [e["payload"] for e in events(bridge.trail, "mcp.unknown_method")]
    assert any(p["method"] == "no/such/method" and p["errorCode"] == -32601 for p in unknown_events)
    calls = [e["payload"] for e in events(bridge.trail, "mcp.tools.call")]
    assert any(
        p["target"]["name"] == "git__does_not_exist" and p["errorCode"] == -32602 for p in calls
    )


@pytest.mark.anyio
async def test_upstream_crash_mid_call_is_reported_recorded_and_restarted(bridge: Bridge) -> None:
    def crashy() -> dict:
        return httpx.get(f"{bridge.url}/health").json()["upstreams"]["crashy"]

    async with connect(bridge.url, bridge.auth(), name="crasher") as client:
        first_pid = (await client.call_tool("crashy__pid", {})).content[0].text  # type: ignore[union-attr]
        restarts = crashy()["restarts"]
        with pytest.raises(MCPError) as crashed:
            await client.call_tool("crashy__crash", {})
        assert crashed.value.code == UPSTREAM_UNAVAILABLE
        # "ready" alone can still be the old connection, before the supervisor noticed the crash
        wait_for(lambda: (h := crashy())["restarts"] > restarts and h["state"] == "ready")
        second_pid = (await client.call_tool("crashy__pid", {})).content[0].text  # type: ignore[union-attr]
    assert second_pid != first_pid
    health = httpx.get(f"{bridge.url}/health").json()
    assert health["upstreams"]["crashy"]["restarts"] >= 1
    scraped = httpx.get(f"{bridge.url}/metrics", headers=bridge.auth()).text
    metrics = {
        (s.name, s.labels.get("upstream")): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    restarted = metrics[("mcp_bridge_upstream_restarts_total", "crashy")]
    assert restarted == health["upstreams"]["crashy"]["restarts"]
    assert metrics[("mcp_bridge_upstream_ready", "crashy")] == 1
    calls = [e["payload"] for e in events(bridge.trail, "mcp.tools.call")]
    crash = [p for p in calls if p["target"]["name"] == "crashy__crash"]
    assert crash and crash[0]["errorCode"] == UPSTREAM_UNAVAILABLE
    assert events(bridge.trail, "upstream.disconnected")


@pytest.mark.anyio
async def test_secret_arguments_never_reach_the_trail(bridge: Bridge) -> None:
    secret = "hunter2-super-secret-value"
    async with connect(bridge.url, bridge.auth(), name="redaction") as client:
        await client.call_tool(
            "notes__echo", {"text": "x" * 1000, "password": secret, "api_key": secret}
        )
    trail_text = "".join(p.read_text() for p in bridge.audit_dir.rglob("*.jsonl"))
    assert secret not in trail_text
    calls = [e["payload"] for e in events(bridge.trail, "mcp.tools.call")]
    echo = next(p for p in calls if p["client"] and p["client"]["name"] == "redaction")
    assert echo["arguments"]["password"] == "[REDACTED]"
    assert echo["arguments"]["text"]["length"] == 1000


def test_health_reports_audit_and_upstreams(bridge: Bridge) -> None:
    health = httpx.get(f"{bridge.url}/health").json()
    assert health["audit"]["backend"] == "local"
    assert health["audit"]["healthy"] is True
    assert isinstance(health["audit"]["lastDurableSeq"], int)
    assert set(health["upstreams"]) == {"git", "notes", "crashy", "library"}
    assert health["mode"] == "read-write"
