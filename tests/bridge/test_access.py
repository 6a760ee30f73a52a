"""Access rules (``access`` in BRIDGE_CONFIG) and the OAuth protected-resource metadata.

A real bridge in front of the ``library`` stdio server and the ``notes`` HTTP server, called by
the official client with two API keys (roles ``ops`` and ``dev``); every decision is read back
from the trail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from mcp_bridge.audit import AuditTrail
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.auth import Identity, hash_api_key
from mcp_bridge.bridge.errors import POLICY_DENIED
from mcp_bridge.bridge.policy import DEFAULT_RULE, decide, parse_access
from mcp_bridge.bridge.upstream_config import UpstreamSpec
from mcp_bridge.config import ConfigError

from .conftest import ISSUER, Bridge, bridge_settings, sample_spec
from .harness import connect, events, faulty_trail, serve_in_thread

OPS_KEY, DEV_KEY = "mcpb_ops_0123456789", "mcpb_dev_0123456789"
LIBRARY_ACCESS = {
    "allow": [{"roles": ["ops", "dev"]}],
    "tools": {"shelve": {"allow": [{"roles": ["ops"]}]}},
}
NOTES_ACCESS = {"deny": [{"subjects": ["intern"]}]}


@dataclass
class Guarded:
    url: str
    trail: AuditTrail


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, notes_url: str) -> Iterator[Guarded]:
    tmp = tmp_path_factory.mktemp("access")
    keys = tmp / "keys.json"
    entries = [
        {"id": "ops", "sha256": hash_api_key(OPS_KEY), "subject": "operator", "roles": ["ops"]},
        {"id": "dev", "sha256": hash_api_key(DEV_KEY), "subject": "intern", "roles": ["dev"]},
    ]
    keys.write_text(json.dumps({"keys": entries}))
    problems: list[str] = []
    library = sample_spec("library")
    upstreams = [
        UpstreamSpec(
            name="library",
            command=library.command,
            args=library.args,
            access=parse_access("mcpServers.library.access", LIBRARY_ACCESS, problems),
        ),
        UpstreamSpec(
            name="notes",
            url=notes_url,
            access=parse_access("mcpServers.notes.access", NOTES_ACCESS, problems),
        ),
    ]
    assert problems == []
    trail, _ = faulty_trail(tmp / "audit")
    settings = bridge_settings(tmp, auth_api_keys_file=keys)
    with serve_in_thread(create_app(settings, trail, upstreams)) as url:
        yield Guarded(url, trail)
    trail.close()


def _calls(guarded: Guarded, tool: str, event_type: str = "mcp.tools.call") -> list[Any]:
    found = [e["payload"] for e in events(guarded.trail, event_type)]
    return [p for p in found if (p.get("target") or {}).get("name") == tool]


def _key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.anyio
async def test_denied_call_is_refused_before_forwarding_and_recorded_with_the_rule(
    guarded: Guarded,
) -> None:
    async with connect(guarded.url, _key(DEV_KEY)) as client:
        with pytest.raises(MCPError) as denied:
            await client.call_tool("library__shelve", {"title": "Forbidden"})
        catalog = await client.read_resource("mcp-bridge://library/library://catalog")
    assert denied.value.code == POLICY_DENIED
    assert "mcpServers.library.access.tools.shelve.allow" in denied.value.message
    assert "Forbidden" not in catalog.contents[0].text  # type: ignore[union-attr]
    (record,) = _calls(guarded, "library__shelve")
    assert record["identity"]["subject"] == "intern"
    assert record["decision"]["outcome"] == "refused"
    assert record["decision"]["rule"] == "mcpServers.library.access.tools.shelve.allow"
    assert _calls(guarded, "library__shelve", "mcp.tools.call.intent") == []


@pytest.mark.anyio
async def test_allowed_calls_record_the_rule_that_allowed_them(guarded: Guarded) -> None:
    async with connect(guarded.url, _key(OPS_KEY)) as client:
        await client.call_tool("library__shelve", {"title": "Allowed"})
        await client.call_tool("notes__echo", {"text": "hi"})
    async with connect(guarded.url, _key(DEV_KEY)) as client:
        await client.get_prompt("library__review", {"book": "Dune"})
    shelved = [
        p for p in _calls(guarded, "library__shelve") if p["identity"]["subject"] == "operator"
    ]
    assert shelved[0]["policy"] == {
        "outcome": "allowed",
        "rule": "mcpServers.library.access.tools.shelve.allow[0]",
    }
    assert shelved[0]["decision"]["outcome"] == "allowed"
    (echo,) = _calls(guarded, "notes__echo")
    assert echo["policy"]["rule"] == DEFAULT_RULE
    prompts = [e["payload"] for e in events(guarded.trail, "mcp.prompts.get")]
    assert prompts[-1]["policy"]["rule"] == "mcpServers.library.access.allow[0]"


@pytest.mark.anyio
async def test_deny_by_subject_wins_over_the_default(guarded: Guarded) -> None:
    async with connect(guarded.url, _key(DEV_KEY)) as client:
        with pytest.raises(MCPError) as denied:
            await client.call_tool("notes__echo", {"text": "hi"})
    assert denied.value.code == POLICY_DENIED
    refused = [p for p in _calls(guarded, "notes__echo") if p["identity"]["subject"] == "intern"]
    assert refused[0]["decision"]["rule"] == "mcpServers.notes.access.deny[0]"


@pytest.mark.anyio
async def test_listings_show_only_what_the_caller_may_use(guarded: Guarded) -> None:
    """The intern (role dev) is denied notes and library's ``shelve``: neither is listed."""
    listed: dict[str, set[str]] = {}
    for key in (OPS_KEY, DEV_KEY):
        async with connect(guarded.url, _key(key)) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            prompts = {p.name for p in (await client.list_prompts()).prompts}
        listed[key] = tools | prompts
    assert {"library__shelve", "library__wait", "notes__echo", "notes__add_note"} <= listed[OPS_KEY]
    assert "library__wait" in listed[DEV_KEY] and "library__review" in listed[DEV_KEY]
    assert "library__shelve" not in listed[DEV_KEY]
    assert not {name for name in listed[DEV_KEY] if name.startswith("notes__")}
    records = {
        e["payload"]["identity"]["subject"]: e["payload"]
        for e in events(guarded.trail, "mcp.tools.list")
    }
    assert records["intern"]["errorCode"] is None and records["operator"]["errorCode"] is None
    assert records["intern"]["resultDigest"] != records["operator"]["resultDigest"]


def test_evaluation_order() -> None:
    problems: list[str] = []
    access = parse_access(
        "a",
        {
            "allow": [{"roles": ["*"]}],
            "deny": [{"roles": ["banned"]}],
            "tools": {"t": {"allow": [{"subjects": ["alice"]}]}},
        },
        problems,
    )
    assert problems == []
    alice = Identity("alice", "api_key", ("banned",))
    bob = Identity("bob", "api_key", ("dev",))
    assert decide(access, "t", alice).rule == "a.deny[0]"  # a deny anywhere wins
    assert decide(access, "t", bob).rule == "a.tools.t.allow"  # the tool's allow list decides
    assert not decide(access, "t", bob).allowed
    assert decide(access, "other", bob).rule == "a.allow[0]"
    open_access = parse_access("b", None, problems)
    assert decide(open_access, "t", bob).rule == DEFAULT_RULE


def test_malformed_access_rules_are_named(tmp_path: Path) -> None:
    from mcp_bridge.bridge.upstream_config import load_upstreams

    config = tmp_path / "bridge.json"
    bad = {"allow": [{"role": ["x"]}], "deny": "nobody", "tools": {"t": {"permit": []}}}
    config.write_text(json.dumps({"mcpServers": {"x": {"command": "x", "access": bad}}}))
    with pytest.raises(ConfigError) as refused:
        load_upstreams(config)
    text = "\n".join(refused.value.problems)
    assert "mcpServers.x.access.allow[0] must be an object with 'subjects'" in text
    assert "mcpServers.x.access.deny must be a list" in text
    assert "mcpServers.x.access.tools.t has unknown keys ['permit']" in text


def test_protected_resource_metadata_is_published_and_announced(bridge: Bridge) -> None:
    denied = httpx.post(f"{bridge.url}/mcp", json={}, headers={"Accept": "application/json"})
    assert denied.status_code == 401
    expected = f"{bridge.url}/.well-known/oauth-protected-resource/mcp"
    assert denied.headers["WWW-Authenticate"] == f'Bearer resource_metadata="{expected}"'
    for url in (expected, f"{bridge.url}/.well-known/oauth-protected-resource"):
        document = httpx.get(url)
        assert document.status_code == 200
        body = document.json()
        assert body["resource"] == f"{bridge.url}/mcp"
        assert body["authorization_servers"] == [ISSUER]
        assert body["bearer_methods_supported"] == ["header"]
    bad_token = httpx.post(f"{bridge.url}/mcp", json={}, headers={"Authorization": "Bearer x.y.z"})
    assert bad_token.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", ')


def test_no_metadata_without_jwks(guarded: Guarded) -> None:
    assert httpx.get(f"{guarded.url}/.well-known/oauth-protected-resource").status_code == 404
    denied = httpx.post(f"{guarded.url}/mcp", json={})
    assert denied.headers["WWW-Authenticate"] == "Bearer"
