"""The gateway without its front door: recorder, upstream pool, audit middleware, MCP server.

Both front ends (streamable HTTP in ``app.py``, stdio in ``stdio_front.py``) assemble the same
parts here and run them with :func:`running`, so the audit and fail-closed rules, the lifecycle
records and the shutdown sequence are one implementation.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.lowlevel.server import Server

from mcp_bridge.audit import AuditTrail

from .auth import Identity
from .capture import Capture
from .middleware import AuditMiddleware
from .naming import Naming
from .outage import Outage
from .pool import UpstreamPool
from .recorder import Recorder
from .relay import Relay
from .server import SERVER_VERSION, build_server
from .settings import BridgeSettings
from .telemetry import Telemetry
from .upstream_config import UpstreamSpec

logger = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: BridgeSettings
    recorder: Recorder
    pool: UpstreamPool
    middleware: AuditMiddleware
    relay: Relay
    server: Server[Any]
    telemetry: Telemetry


def digest_key(settings: BridgeSettings) -> bytes:
    """``AUDIT_DIGEST_KEY``, or (outside production, checked at startup) a per-process key."""
    if settings.audit_digest_key is not None:
        return settings.audit_digest_key.get_secret_value().encode()
    logger.warning(
        "AUDIT_DIGEST_KEY is not set: using a random per-process key, so digests cannot be "
        "compared across restarts"
    )
    return secrets.token_bytes(32)


def assemble(
    settings: BridgeSettings,
    trail: AuditTrail,
    upstreams: list[UpstreamSpec],
    local_identity: Identity | None = None,
    session_is_open: Callable[[str], bool] = lambda _: True,
) -> Gateway:
    """The parts around an open trail; ``local_identity`` is the caller when there is no HTTP.

    ``session_is_open`` tells the relay whether a downstream session can still take
    notifications and server-to-client requests (the HTTP front end asks its session manager;
    the stdio front end has its one session for as long as it runs).
    """
    telemetry = Telemetry.from_settings(settings, served=local_identity is None)
    recorder = Recorder(
        trail,
        Capture(digest_key(settings), settings.audit_capture),
        Outage(limit=settings.bridge_outage_buffer_records),
        telemetry,
    )
    relay = Relay(
        recorder,
        session_is_open,
        Naming.for_upstreams(upstreams),
        held_timeout=settings.bridge_upstream_timeout_seconds,
    )
    pool = UpstreamPool(
        upstreams,
        timeout=settings.bridge_upstream_timeout_seconds,
        on_lifecycle=recorder.background,
        client_hooks=relay.client_hooks,
        observe=telemetry.upstream,
    )
    relay.on_tools_changed = pool.forget_tools
    relay.speaks_modern = pool.speaks_modern
    telemetry.watch(trail, pool, recorder.outage, "tcp" if local_identity is None else "pipe")
    middleware = AuditMiddleware(recorder, pool, local_identity, telemetry, relay.held)
    server = build_server(pool, middleware, relay)
    return Gateway(settings, recorder, pool, middleware, relay, server, telemetry)


@asynccontextmanager
async def running(gateway: Gateway, started: dict[str, Any]) -> AsyncIterator[None]:
    """Upstreams supervised and the trail's recovery running; ``bridge.started``/``stopped``."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(gateway.recorder.recover)
        gateway.pool.start(tg)
        gateway.relay.held.task_group = tg
        await gateway.pool.wait_settled(gateway.settings.bridge_upstream_start_wait_seconds)
        payload = {"version": SERVER_VERSION, **started, "upstreams": gateway.pool.health()}
        await gateway.recorder.background("bridge.started", payload)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await _record_stop(gateway)
                await anyio.to_thread.run_sync(gateway.telemetry.close)
            tg.cancel_scope.cancel()


async def _record_stop(gateway: Gateway) -> None:
    """``aborted`` for the calls still running (held ones too, which are then ended upstream),
    then ``bridge.stopped``, however the stop came.

    The stop record is made durable (bounded wait) so that it is on disk before the trail is
    closed; when the trail is down it is held like any other record and the loss is logged.
    """
    aborted = await gateway.middleware.abort_in_flight()
    await gateway.relay.held.stop()
    payload = {"upstreams": gateway.pool.health(), "abortedCalls": aborted}
    with anyio.move_on_after(10):
        try:
            await gateway.recorder.durable("bridge.stopped", payload)
        except Exception as exc:
            logger.error("bridge.stopped could not be recorded: %s", exc)
    gateway.recorder.outage.abandon()


__all__ = ["Gateway", "assemble", "digest_key", "running"]
