"""``"prefix": false``: a single upstream's names exposed unchanged; refused with several."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_bridge.bridge.naming import Naming
from mcp_bridge.bridge.upstream_config import UpstreamSpec, load_upstreams
from mcp_bridge.config import ConfigError


def _load(tmp: Path, servers: dict[str, object]) -> list[UpstreamSpec]:
    path = tmp / "bridge.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return load_upstreams(path)


def test_single_unprefixed_upstream_keeps_its_names(tmp_path: Path) -> None:
    naming = Naming.for_upstreams(_load(tmp_path, {"only": {"command": "x", "prefix": False}}))
    assert naming.expose("only", "git_status") == "git_status"
    assert naming.split("git_status") == ("only", "git_status")
    assert naming.expose_uri("only", "test://static-text") == "test://static-text"
    assert naming.split_uri("test://static-text") == ("only", "test://static-text")


def test_prefixed_by_default(tmp_path: Path) -> None:
    naming = Naming.for_upstreams(_load(tmp_path, {"only": {"command": "x"}}))
    assert naming.expose("only", "t") == "only__t"
    assert naming.split_uri("mcp-bridge://only/test://a") == ("only", "test://a")


def test_unprefixed_with_several_upstreams_is_refused(tmp_path: Path) -> None:
    servers = {"a": {"command": "x", "prefix": False}, "b": {"command": "y"}}
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, servers)
    assert "mcpServers.a.prefix is false, which needs a to be the only upstream" in str(
        refused.value
    )
    with pytest.raises(ConfigError, match=r"mcpServers\.a\.prefix must be true or false"):
        _load(tmp_path, {"a": {"command": "x", "prefix": "no"}})
