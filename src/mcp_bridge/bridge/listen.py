"""``subscriptions/listen`` (2026-07-28): the stream that carries a client's change notifications.

A 2026-07-28 client has no session; it asks for list-changed notifications and resource updates
by holding a ``subscriptions/listen`` request open, and the events arrive on its response
stream. The SDK's :class:`ListenHandler` serves the stream (acknowledgement first, filtering,
bounded backlog); the relay publishes to its bus what the upstreams send (``relay.py``:
list-changed from any upstream, resource updates with the URI in the bridge's scheme).

For each resource URI in the stream's filter the bridge subscribes upstream
(``resources/subscribe``, once per resource however many watch it) while the stream is open,
and unsubscribes when the last watcher leaves. A URI the bridge cannot subscribe to (unknown,
or its upstream has no subscriptions or speaks 2026-07-28) is acknowledged, as the protocol asks,
and never fires. The stream is recorded as ``mcp.subscriptions.listen`` when it ends.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError

from .extras import subscribable, subscribe_upstream, unsubscribe_upstream
from .pool import UpstreamPool
from .relay import Relay

logger = logging.getLogger(__name__)

Ctx = ServerRequestContext[Any, Any]

_UNSUBSCRIBE_WAIT = 5.0
"""Seconds an ending stream waits for an upstream to take back a subscription."""


def add_listen_handler(server: Server[Any], pool: UpstreamPool, relay: Relay) -> None:
    """Serve ``subscriptions/listen`` (which also makes the server advertise list-changed and
    resource subscriptions to 2026-07-28 clients)."""
    streams = relay.listen_streams

    async def watch(uri: str) -> bool:
        try:
            target = subscribable(pool, uri)
        except MCPError as exc:
            logger.info("listen stream: %s will not fire: %s", uri, exc.message)
            return False
        if relay.listen_to(uri):
            try:
                await subscribe_upstream(pool, target)
            except MCPError as exc:
                relay.stop_listening(uri)
                logger.info("listen stream: %s will not fire: %s", uri, exc.message)
                return False
        return True

    async def unwatch(uri: str) -> None:
        target = pool.resource_target(uri)
        if not relay.stop_listening(uri):
            return
        with anyio.move_on_after(_UNSUBSCRIBE_WAIT):
            try:
                await unsubscribe_upstream(pool, target)
            except MCPError as exc:
                logger.info("listen stream: could not unsubscribe %s: %s", uri, exc.message)

    async def listen(ctx: Ctx, params: types.SubscriptionsListenRequestParams) -> Any:
        uris = params.notifications.resource_subscriptions or ()
        watched = [uri for uri in uris if await watch(uri)]
        try:
            return await streams(ctx, params)
        finally:
            with anyio.CancelScope(shield=True):
                for uri in watched:
                    await unwatch(uri)

    server.add_request_handler(
        "subscriptions/listen", types.SubscriptionsListenRequestParams, listen
    )


__all__ = ["add_listen_handler"]
