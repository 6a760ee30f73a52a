"""Handlers for the MCP methods beyond listing and calling: completions, logs, subscriptions.

Each maps the bridge's names to the upstream's (see ``naming.py``) and forwards with the pool.
What the upstreams send back outside an answer is routed by :class:`relay.Relay`.
"""

from __future__ import annotations

import warnings
from typing import Any

import mcp_types as types
from mcp import Client
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .errors import UNKNOWN_TARGET
from .pool import Target, UpstreamPool
from .relay import LEVELS, Relay

Ctx = ServerRequestContext[Any, Any]


def _route(pool: UpstreamPool, ref: types.ResourceTemplateReference | types.PromptReference) -> Any:
    """The upstream target and the reference in the upstream's own names."""
    if isinstance(ref, types.PromptReference):
        target = pool.prompt_target(ref.name)
        renamed: Any = ref.model_copy(update={"name": target.name})
    else:
        target = pool.resource_target(ref.uri)
        renamed = ref.model_copy(update={"uri": target.name})
    if not target.upstream:
        raise MCPError(code=UNKNOWN_TARGET, message=f"Unknown reference: {ref}")
    return target, renamed


def subscribable(pool: UpstreamPool, uri: str) -> Target:
    target = pool.resource_target(uri)
    if not target.upstream:
        raise MCPError(code=UNKNOWN_TARGET, message=f"Unknown resource: {uri}")
    upstream = pool.upstreams[target.upstream]
    client = upstream.client() if upstream.state == "ready" else None
    capability = client.server_capabilities.resources if client is not None else None
    if client is not None and client.protocol_version in MODERN_PROTOCOL_VERSIONS:
        message = (
            f"upstream {target.upstream!r} speaks {client.protocol_version}, which has no "
            'resources/subscribe; set "protocol": "session" in its BRIDGE_CONFIG entry'
        )
        raise MCPError(code=INVALID_PARAMS, message=message)
    if capability is None or not capability.subscribe:
        raise MCPError(
            code=INVALID_PARAMS,
            message=f"upstream {target.upstream!r} does not support resource subscriptions",
        )
    return target


def add_extra_handlers(server: Server[Any], pool: UpstreamPool, relay: Relay) -> None:
    """Register ``completion/complete``, ``logging/setLevel``, ``resources/(un)subscribe``, and
    ``notifications/initialized`` (a session is known to the relay from its start)."""

    async def complete(ctx: Ctx, params: types.CompleteRequestParams) -> Any:
        target, ref = _route(pool, params.ref)

        async def send(client: Client, meta: types.RequestParamsMeta | None) -> Any:
            """As ``Client.complete``, which takes no ``_meta`` for the trace context."""
            request = types.CompleteRequest(
                params=types.CompleteRequestParams(
                    ref=ref, argument=params.argument, context=params.context, _meta=meta
                )
            )
            return await client.session.send_request(request, types.CompleteResult)

        return await pool.forward(target, "completion/complete", send)

    async def set_level(ctx: Ctx, params: types.SetLevelRequestParams) -> Any:
        relay.set_level(ctx, params.level)
        lowest = relay.lowest_level() or params.level
        for name, client in pool.ready_clients():
            if _has_set_level(client):
                await pool.forward(
                    Target(name, ""),
                    "logging/setLevel",
                    lambda c, meta: quietly(c.set_logging_level, lowest, meta=meta),
                )
        return types.EmptyResult()

    async def subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> Any:
        target = subscribable(pool, params.uri)
        if relay.subscribe(ctx, params.uri):
            await subscribe_upstream(pool, target)
        return types.EmptyResult()

    async def unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> Any:
        target = subscribable(pool, params.uri)
        if relay.unsubscribe(ctx, params.uri):
            await unsubscribe_upstream(pool, target)
        return types.EmptyResult()

    async def initialized(ctx: Ctx, params: types.NotificationParams) -> None:
        relay.register(ctx)  # from now on the session gets list-changed notifications

    server.add_notification_handler(
        "notifications/initialized", types.NotificationParams, initialized
    )
    server.add_request_handler("completion/complete", types.CompleteRequestParams, complete)
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    server.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)


def _has_set_level(client: Client) -> bool:
    """A session-protocol upstream with logging (2026-07-28 has no ``logging/setLevel``)."""
    modern = client.protocol_version in MODERN_PROTOCOL_VERSIONS
    return not modern and client.server_capabilities.logging is not None


async def quietly(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a method the SDK marks deprecated for 2026-07-28 (it is the session protocol's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        return await call(*args, **kwargs)


async def subscribe_upstream(pool: UpstreamPool, target: Target) -> None:
    """Forward ``resources/subscribe`` for ``target`` to its upstream."""
    await pool.forward(
        target,
        "resources/subscribe",
        lambda c, meta: quietly(c.subscribe_resource, target.name, meta=meta),
    )


async def unsubscribe_upstream(pool: UpstreamPool, target: Target) -> None:
    """Forward ``resources/unsubscribe`` for ``target`` to its upstream."""
    await pool.forward(
        target,
        "resources/unsubscribe",
        lambda c, meta: quietly(c.unsubscribe_resource, target.name, meta=meta),
    )


__all__ = [
    "LEVELS",
    "add_extra_handlers",
    "quietly",
    "subscribable",
    "subscribe_upstream",
    "unsubscribe_upstream",
]
