"""The ``mcp-bridge`` command: ``serve`` (default), ``check``, ``stdio`` and ``audit …``.

Settings come from the environment (and ``.env``); ``--config``, ``--host`` and ``--port``
override ``BRIDGE_CONFIG``, ``HOST`` and ``PORT`` for one run. ``--help`` lists every variable.

The server stack (the MCP SDK, Starlette, uvicorn, OpenTelemetry) is imported by the command
that runs it, not at start: ``--help``, ``check`` and ``audit …`` do not pay a second of
imports for a server they never start.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import BaseModel

from mcp_bridge import __version__
from mcp_bridge.audit import AuditError, AuditTrail, open_audit_trail
from mcp_bridge.audit.commands import run as run_audit_command
from mcp_bridge.config import AppConfig, ConfigError, load_config

from .settings import BridgeSettings, load_bridge_settings, startup_problems
from .upstream_config import UpstreamSpec, load_upstreams

logger = logging.getLogger(__name__)

COMMANDS = {
    "serve": "serve MCP over streamable HTTP at /mcp (the default)",
    "check": "validate settings, upstreams, authentication and the audit store; do not serve "
    "(exit 0 ready, 2 configuration problems listed, 3 audit store unreachable)",
    "stdio": "serve one client over stdin/stdout, identified as the local OS user",
    "audit": "audit commands (verify, jobs, incident, ...); see `mcp-bridge audit --help`",
}


def serve(settings: BridgeSettings, config: AppConfig) -> int:
    """Serve HTTP until interrupted; refuse to start on an unsafe configuration."""

    from . import serving
    from .app import create_app

    def http(trail: AuditTrail, upstreams: list[UpstreamSpec]) -> None:
        app = create_app(settings, trail, upstreams)
        serving.run(
            app,
            host=settings.host,
            port=settings.port,
            access_log=settings.bridge_access_log,
            on_stop=app.state.close_streams,
        )

    return _with_trail(settings, config, http)


def stdio(settings: BridgeSettings, config: AppConfig) -> int:
    """Serve one stdio client; the same refusals as ``serve``, logs on stderr."""

    from .stdio_front import serve_stdio

    def on_stdio(trail: AuditTrail, upstreams: list[UpstreamSpec]) -> None:
        anyio.run(serve_stdio, settings, trail, upstreams)

    return _with_trail(settings, config, on_stdio)


def _with_trail(
    settings: BridgeSettings,
    config: AppConfig,
    front_end: Callable[[AuditTrail, list[UpstreamSpec]], None],
) -> int:
    """Check the startup rules, load the upstreams, open the trail, run, close the trail."""
    problems = startup_problems(settings, config)
    if problems:
        raise ConfigError(problems)
    if config.unsigned_in_production:
        logger.warning(
            "AUDIT_SIGNING_KEY is not set in ENVIRONMENT=production: no signed checkpoints, so "
            "removed or appended audit records cannot be detected (docs/mcp-bridge/audit-trail.md)"
        )
    upstreams = load_upstreams(settings.bridge_config)
    trail = open_audit_trail(config)
    try:
        front_end(trail, upstreams)
    finally:
        trail.close()
    return 0


def environment_help() -> str:
    """Every environment variable with its default, for ``--help``."""
    lines = ["environment variables (flags override them; docs/mcp-bridge/bridge.md):"]
    for model in (BridgeSettings, AppConfig):
        lines += [f"  {name.upper():38} {_default(model, name)}" for name in model.model_fields]
    return "\n".join(lines)


def _default(model: type[BaseModel], name: str) -> str:
    value = model.model_fields[name].default
    return "(unset)" if value is None else f"default {value}"


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="mcp-bridge",
        description="Audited MCP gateway.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    main_parser.add_argument("--version", action="version", version=f"mcp-bridge {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="upstream file (overrides BRIDGE_CONFIG)")
    common.add_argument("--host", help="listen address (overrides HOST)")
    common.add_argument("--port", type=int, help="listen port (overrides PORT)")
    commands = main_parser.add_subparsers(dest="command", metavar="{serve,check,stdio,audit}")
    for name, text in COMMANDS.items():
        commands.add_parser(
            name,
            help=text,
            description=text,
            parents=[] if name == "audit" else [common],
            epilog=None if name == "audit" else environment_help(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    return main_parser


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given, as settings overrides."""
    given = {"bridge_config": args.config, "host": args.host, "port": args.port}
    return {name: value for name, value in given.items() if value is not None}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "audit":
        return run_audit_command(args[1:], prog="mcp-bridge audit")
    if not args or (args[0] not in COMMANDS and args[0] not in ("-h", "--help", "--version")):
        args = ["serve", *args]
    parsed = parser().parse_args(args)
    if parsed.command == "check":
        from .check import check

        found = check(overrides(parsed))
        print(found.render(), file=sys.stdout if found.exit_code == 0 else sys.stderr)
        return found.exit_code
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings, config = load_bridge_settings(**overrides(parsed)), load_config()
        if parsed.command == "stdio":
            return stdio(settings, config)
        return serve(settings, config)
    except (ConfigError, AuditError) as exc:
        print(f"mcp-bridge: {exc.render()}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))


__all__ = ["environment_help", "main", "serve", "stdio"]
