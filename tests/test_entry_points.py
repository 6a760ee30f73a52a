"""One entry point for the audit commands, and the version, as an operator types them."""

from __future__ import annotations

import pytest

from mcp_bridge import __version__
from mcp_bridge.audit.commands import COMMANDS
from mcp_bridge.audit.commands import run as run_command

from .conftest import Log, run_module


def test_audit_entry_point_lists_every_command(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    listing = run_module("mcp_bridge.audit", "--help", env=cli_env)
    assert listing.returncode == 0, listing.stderr
    helped = run_module("mcp_bridge.audit", COMMANDS[0].name, "--help", env=cli_env)
    assert helped.returncode == 0 and "usage:" in helped.stdout, helped.stderr
    for command in COMMANDS:  # every command's own --help, in process (one import each)
        assert command.name in listing.stdout
        with pytest.raises(SystemExit) as exited:
            run_command([command.name, "--help"])
        assert exited.value.code == 0, command.name
        assert "usage:" in capsys.readouterr().out, command.name


def test_unknown_or_missing_command_is_usage_error(cli_env: dict[str, str]) -> None:
    unknown = run_module("mcp_bridge.audit", "frobnicate", env=cli_env)
    assert unknown.returncode == 2
    assert "unknown command 'frobnicate'" in unknown.stderr
    assert run_module("mcp_bridge.audit", env=cli_env).returncode == 2


def test_same_command_through_all_three_paths(log3: Log, cli_env: dict[str, str]) -> None:
    direct = run_module("mcp_bridge.audit.verify", str(log3.root), "--json", env=cli_env)
    grouped = run_module("mcp_bridge.audit", "verify", str(log3.root), "--json", env=cli_env)
    bridge = run_module("mcp_bridge", "audit", "verify", str(log3.root), "--json", env=cli_env)
    assert direct.returncode == grouped.returncode == bridge.returncode == 0
    assert '"checkedEvents": 30' in direct.stdout
    assert '"checkedEvents": 30' in grouped.stdout
    assert '"checkedEvents": 30' in bridge.stdout


def test_version(cli_env: dict[str, str]) -> None:
    shown = run_module("mcp_bridge", "--version", env=cli_env)
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"mcp-bridge {__version__}"
    assert __version__ != "0+unknown"
