"""``mcp-bridge check``, the ``--config/--host/--port`` flags and ``--help``, as typed.

``check`` must refuse whatever ``serve`` would refuse (and list every problem at once), so each
case here is a configuration that ``serve`` stops on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import run_module

GIT = str(Path(sys.executable).with_name("mcp-server-git"))


def _config(tmp: Path, servers: dict[str, object]) -> Path:
    path = tmp / "bridge.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def _env(cli_env: dict[str, str], tmp: Path, **extra: str) -> dict[str, str]:
    return {**cli_env, "AUDIT_STORAGE_PATH": str(tmp / "audit"), **extra}


def test_check_passes_a_config_that_serves(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = _config(tmp_path, {"git": {"command": GIT, "args": ["--repository", "."]}})
    done = run_module(
        "mcp_bridge", "check", "--config", str(config), env=_env(cli_env, tmp_path), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert f"✓ upstream git: {GIT}" in done.stdout
    assert "✓ metrics at GET /metrics (same authentication as /mcp)" in done.stdout
    assert "✓ tracing off (no OTEL_* asks)" in done.stdout
    assert "ready to serve" in done.stdout


def test_check_says_where_spans_go(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = _config(tmp_path, {"git": {"command": GIT, "args": ["--repository", "."]}})
    env = _env(
        cli_env, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318", BRIDGE_METRICS="0"
    )
    done = run_module("mcp_bridge", "check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "✓ metrics off (BRIDGE_METRICS=false)" in done.stdout
    assert "✓ tracing to http://collector:4318/v1/traces (OTLP/HTTP)" in done.stdout


def test_check_lists_every_problem_and_exits_2(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = _config(
        tmp_path,
        {"git": {"command": "no-such-mcp-server"}, "web": {"url": "ftp://example.invalid"}},
    )
    env = _env(cli_env, tmp_path, ENVIRONMENT="production", AUTH_API_KEYS_FILE="/nonexistent")
    done = run_module(
        "mcp_bridge", "check", "--config", str(config), "--host", "0.0.0.0", env=env, cwd=tmp_path
    )
    assert done.returncode == 2
    problems = [line for line in done.stderr.splitlines() if line.startswith("✗")]
    assert any("AUDIT_DIGEST_KEY is required in ENVIRONMENT=production" in p for p in problems)
    assert any("mcpServers.git.command 'no-such-mcp-server'" in p for p in problems)
    assert any("mcpServers.web.url 'ftp://example.invalid'" in p for p in problems)
    assert any(p.startswith("✗ AUTH_API_KEYS_FILE=/nonexistent is invalid") for p in problems)
    assert "Traceback" not in done.stderr
    serve = run_module("mcp_bridge", "serve", "--config", str(config), env=env, cwd=tmp_path)
    assert serve.returncode == 2  # the same configuration does not serve either


def test_flags_override_the_environment(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = _config(tmp_path, {"git": {"command": GIT}})
    env = _env(cli_env, tmp_path, BRIDGE_CONFIG="/nonexistent.json", PORT="8000")
    done = run_module(
        "mcp_bridge", "check", "--config", str(config), "--port", "0", env=env, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "PORT=0 is invalid" in done.stderr
    assert "nonexistent.json" not in done.stderr
    open_host = run_module(
        "mcp_bridge", "check", "--config", str(config), "--host", "0.0.0.0", env=env, cwd=tmp_path
    )
    assert "HOST=0.0.0.0 is not a loopback address" in open_host.stderr


def test_unwritable_audit_store_exits_3(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = _config(tmp_path, {"git": {"command": GIT}})
    (tmp_path / "file").write_text("not a directory")
    env = _env(cli_env, tmp_path, AUDIT_STORAGE_PATH=str(tmp_path / "file" / "audit"))
    done = run_module("mcp_bridge", "check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert f"✗ audit store {tmp_path / 'file' / 'audit'}" in done.stderr


def test_help_lists_the_environment_variables(cli_env: dict[str, str]) -> None:
    for args in (["--help"], ["serve", "--help"], ["check", "--help"]):
        shown = run_module("mcp_bridge", *args, env=cli_env)
        assert shown.returncode == 0
        for variable in ("BRIDGE_CONFIG", "BRIDGE_UPSTREAM_TIMEOUT_SECONDS", "AUTH_JWKS_URL"):
            assert variable in shown.stdout
        assert "AUDIT_STORAGE_PATH" in shown.stdout
