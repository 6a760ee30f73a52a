"""AUDIT_ENABLED=false (read-only bridge), digest capture, and startup refusals."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

from mcp_bridge.audit import LocalAuditTrail
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.capture import Capture, redact
from mcp_bridge.bridge.errors import READ_ONLY_MODE
from mcp_bridge.bridge.settings import load_bridge_settings, startup_problems
from mcp_bridge.bridge.upstream_config import UpstreamSpec, load_upstreams
from mcp_bridge.config import AppConfig, ConfigError

from .conftest import bridge_settings, git_spec
from .harness import commit_count, connect, make_repo, serve_in_thread

pytestmark = pytest.mark.anyio


async def test_audit_disabled_bridge_is_read_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "f.txt").write_text("x\n")
    trail = LocalAuditTrail(tmp_path / "audit", enabled=False)
    settings = bridge_settings(tmp_path)
    headers = {"Authorization": "Bearer mcpb_test_key_0123456789abcdef"}
    with serve_in_thread(create_app(settings, trail, [git_spec(repo)])) as url:
        async with connect(url, headers) as client:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("git__git_add", {"repo_path": str(repo), "files": ["f.txt"]})
            assert refused.value.code == READ_ONLY_MODE
            with pytest.raises(MCPError):
                await client.call_tool("git__git_commit", {"repo_path": str(repo), "message": "m"})
            status = await client.call_tool("git__git_status", {"repo_path": str(repo)})
            assert not status.is_error
        metrics = httpx.get(f"{url}/metrics", headers=headers).text
    assert commit_count(repo) == 1
    samples = [s for f in text_string_to_metric_families(metrics) for s in f.samples]
    requests = [s for s in samples if s.name == "mcp_bridge_requests_total"]
    refusals = [s for s in requests if s.labels["reason"] == "read_only_mode"]
    assert sum(s.value for s in refusals) == 2  # counted, though no record could be written
    assert [s.value for s in samples if s.name == "mcp_bridge_audit_enabled"] == [0.0]
    assert not list((tmp_path / "audit").rglob("*.jsonl"))
    trail.close()


async def test_digest_mode_keeps_no_arguments(tmp_path: Path, notes_url: str) -> None:
    secret = "digest-mode-secret-value"
    trail = LocalAuditTrail(tmp_path / "audit")
    settings = bridge_settings(tmp_path, audit_capture="digest")
    headers = {"Authorization": "Bearer mcpb_test_key_0123456789abcdef"}
    with serve_in_thread(
        create_app(settings, trail, [UpstreamSpec("notes", url=notes_url)])
    ) as url:
        async with connect(url, headers) as client:
            await client.call_tool("notes__echo", {"text": secret, "password": secret})
    trail.close()
    text = "".join(p.read_text() for p in (tmp_path / "audit").rglob("*.jsonl"))
    assert "mcp.tools.call" in text
    assert secret not in text


def test_redaction_masks_secret_keys_and_truncates() -> None:
    value = {"Authorization": "Bearer x", "nested": {"client_secret": "s", "ok": "y" * 300}}
    redacted = redact(value)
    assert redacted["Authorization"] == "[REDACTED]"
    assert redacted["nested"]["client_secret"] == "[REDACTED]"
    assert redacted["nested"]["ok"]["length"] == 300


def test_digest_is_keyed_and_order_independent() -> None:
    one, other = Capture(b"k1", "digest"), Capture(b"k2", "digest")
    assert one.digest({"a": 1, "b": 2}) == one.digest({"b": 2, "a": 1})
    assert one.digest({"a": 1}) != other.digest({"a": 1})


def test_dev_secret_is_refused_in_production() -> None:
    settings = load_bridge_settings(_env_file=None, auth_dev_secret="s" * 32)
    problems = startup_problems(settings, AppConfig(_env_file=None, environment="production"))
    assert any("AUTH_DEV_SECRET" in p for p in problems)
    assert not startup_problems(settings, AppConfig(_env_file=None, environment="development"))


def test_no_auth_refuses_non_loopback_host() -> None:
    settings = load_bridge_settings(_env_file=None, host="0.0.0.0")
    problems = startup_problems(settings, AppConfig(_env_file=None))
    assert any("HOST=0.0.0.0" in p for p in problems)


def test_bad_capture_mode_names_the_variable() -> None:
    with pytest.raises(ConfigError) as error:
        load_bridge_settings(_env_file=None, audit_capture="everything")
    assert "AUDIT_CAPTURE=everything" in str(error.value)
    assert "digest, redacted, full" in str(error.value)


def test_bad_access_log_setting_names_the_variable() -> None:
    assert load_bridge_settings(_env_file=None).bridge_access_log is False  # off by default
    with pytest.raises(ConfigError) as error:
        load_bridge_settings(_env_file=None, bridge_access_log="sometimes")
    assert "BRIDGE_ACCESS_LOG=sometimes" in str(error.value)
    assert "true or false" in str(error.value)


def test_config_file_problems_are_reported(tmp_path: Path) -> None:
    config = tmp_path / "bridge.json"
    config.write_text(json.dumps({"mcpServers": {"bad_name": {"command": "x", "url": "y"}}}))
    with pytest.raises(ConfigError) as error:
        load_upstreams(config)
    assert "bad_name" in str(error.value)
    assert "exactly one of" in str(error.value)


def test_upstream_protocol_is_auto_or_session(tmp_path: Path) -> None:
    config = tmp_path / "bridge.json"
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "x", "protocol": "session"}}}))
    assert [spec.protocol for spec in load_upstreams(config)] == ["session"]
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "x"}}}))
    assert [spec.protocol for spec in load_upstreams(config)] == ["auto"]
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "x", "protocol": "2025"}}}))
    with pytest.raises(ConfigError) as error:
        load_upstreams(config)
    assert "mcpServers.a.protocol must be one of 'auto', 'session', not '2025'" in str(error.value)
