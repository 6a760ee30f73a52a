"""``mcp-bridge stdio``: the gateway for clients that only launch stdio servers.

One client (whoever started the process) speaks MCP on stdin/stdout; it is identified as the local
OS user (``authMethod: os_user``), since a process that can start this command already acts as
that user. Everything behind the front door is the HTTP gateway's (``gateway.py``): the same
audit records, fail-closed rules for mutating calls, access rules and lifecycle records. Logs go
to stderr; SIGINT, SIGTERM and SIGHUP stop it cleanly (``bridge.stopped`` is recorded).
"""

from __future__ import annotations

import getpass
import logging
import signal

import anyio
from mcp.server.stdio import stdio_server

from mcp_bridge.audit import AuditTrail

from .auth import Identity
from .gateway import Gateway, assemble, running
from .settings import BridgeSettings
from .upstream_config import UpstreamSpec

logger = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def local_identity() -> Identity:
    """The OS user running the process: the only one who can have started it."""
    return Identity(subject=getpass.getuser(), auth_method="os_user")


async def serve_stdio(
    settings: BridgeSettings, trail: AuditTrail, upstreams: list[UpstreamSpec]
) -> None:
    """Serve one client on stdin/stdout until it closes them or a stop signal arrives."""
    identity = local_identity()
    gateway = assemble(settings, trail, upstreams, local_identity=identity)
    started = {"frontEnd": "stdio", "identity": identity.as_payload()}
    async with running(gateway, started), anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, gateway, tg.cancel_scope)
        async with stdio_server() as (read_stream, write_stream):
            logger.info("serving MCP on stdio for %s", identity.subject)
            options = gateway.server.create_initialization_options()
            await gateway.server.run(read_stream, write_stream, options)
        tg.cancel_scope.cancel()


async def _stop_on_signal(gateway: Gateway, scope: anyio.CancelScope) -> None:
    """On a stop signal, record the running calls ``aborted`` (not ``cancelled``: no client
    cancelled them), then end the server; ``bridge.stopped`` follows with their count."""
    with anyio.open_signal_receiver(*_STOP_SIGNALS) as signals:
        async for received in signals:
            logger.info("received %s: stopping", signal.Signals(received).name)
            await gateway.middleware.abort_in_flight()
            scope.cancel()
            return


__all__ = ["local_identity", "serve_stdio"]
