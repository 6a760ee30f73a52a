"""``mcp-bridge serve``: read the configuration once, open the trail, serve until stopped."""

from __future__ import annotations

import argparse
import logging
import sys

from mcp_bridge import __version__
from mcp_bridge.audit import AuditError, open_audit_trail
from mcp_bridge.audit.commands import run as run_audit_command
from mcp_bridge.config import AppConfig, ConfigError, load_config

from . import serving
from .app import create_app
from .settings import BridgeSettings, load_bridge_settings, startup_problems
from .upstream_config import load_upstreams

logger = logging.getLogger(__name__)


def serve(settings: BridgeSettings, config: AppConfig) -> int:
    """Serve until interrupted; refuse to start on an unsafe configuration."""
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
        app = create_app(settings, trail, upstreams)
        serving.run(app, host=settings.host, port=settings.port)
    finally:
        trail.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "audit":
        return run_audit_command(args[1:], prog="mcp-bridge audit")
    parser = argparse.ArgumentParser(prog="mcp-bridge", description="Audited MCP gateway.")
    parser.add_argument("--version", action="version", version=f"mcp-bridge {__version__}")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve MCP over streamable HTTP at /mcp (default)")
    commands.add_parser("audit", help="audit commands (verify, jobs, incident, ...)")
    parser.parse_args(args)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return serve(load_bridge_settings(), load_config())
    except (ConfigError, AuditError) as exc:
        print(f"mcp-bridge: {exc.render()}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))


__all__ = ["main", "serve"]
