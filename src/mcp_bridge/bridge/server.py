"""The bridge's MCP server: SDK request handlers that forward to the upstream pool.

The low-level ``Server`` serves both protocol generations itself (``initialize`` sessions and the
2026-07-28 per-request envelope); this module only supplies the handlers and plugs the audit
middleware into its dispatch chain.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_bridge import __version__

from .errors import UNKNOWN_TARGET
from .exchange import exchange_of
from .extras import add_extra_handlers
from .listen import add_listen_handler
from .middleware import AuditMiddleware
from .pool import InputRound, Target, UpstreamPool
from .relay import Relay

SERVER_NAME = "mcp-bridge"
SERVER_VERSION = __version__

Ctx = ServerRequestContext[Any, Any]


TASKS_UNSUPPORTED = (
    "mcp-bridge does not support tasks (task-augmented tool calls): call the tool without "
    "`task`; tools that the upstream runs only as tasks cannot be called through the bridge"
)


def _known(target: Target, kind: str) -> Target:
    if not target.upstream:
        raise MCPError(code=UNKNOWN_TARGET, message=f"Unknown {kind}: {target.name}")
    return target


def progress_relay(ctx: Ctx) -> ProgressFnT | None:
    """Upstream progress → the client, under the client's own progress token.

    The SDK sends nothing unless the client's request carried a progress token. A
    session-protocol request answered with one JSON body has no room for anything but the
    response, so nothing is relayed on those (the gate streams the ones with a token).
    """
    exchange = exchange_of(ctx.request)
    if exchange is not None and not exchange.streamed:
        return None

    async def relay(progress: float, total: float | None, message: str | None) -> None:
        await ctx.session.report_progress(progress, total, message)

    return relay


class _BridgeServer(Server[Any]):
    """Advertises list-changed notifications, which the relay forwards from the upstreams."""

    def create_initialization_options(self, *args: Any, **kwargs: Any) -> InitializationOptions:
        if not args and "notification_options" not in kwargs:
            kwargs["notification_options"] = NotificationOptions(
                prompts_changed=True, resources_changed=True, tools_changed=True
            )
        return super().create_initialization_options(*args, **kwargs)


def build_server(pool: UpstreamPool, middleware: AuditMiddleware, relay: Relay) -> Server[Any]:
    """A low-level SDK server whose every handler routes through ``pool``."""

    async def list_tools(ctx: Ctx, params: types.PaginatedRequestParams | None) -> Any:
        relay.register(ctx)
        return types.ListToolsResult(tools=await pool.list_tools(middleware.caller(ctx)))

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> Any:
        target = _known(await pool.tool_target(params.name), "tool")
        if params.task is not None or pool.requires_task(target):
            raise MCPError(code=INVALID_PARAMS, message=TASKS_UNSUPPORTED)
        resume = None
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            if not pool.speaks_modern(target.upstream):
                return await _held_call(ctx, params, target)
            resume = InputRound(params.input_responses, params.request_state)
        with relay.running(target, ctx) as meta:
            result = await pool.call_tool(
                target, params.arguments, progress_relay(ctx), resume, meta=meta
            )
        return pool.naming.expose_tool_result(target.upstream, result)

    async def _held_call(ctx: Ctx, params: types.CallToolRequestParams, target: Target) -> Any:
        """A 2026-07-28 client on a session-protocol upstream (``held.py``): the call runs in
        the background so that the upstream's questions can be asked by InputRequiredResult."""

        async def start(progress: ProgressFnT) -> Any:
            with relay.running(target, ctx) as meta:
                result = await pool.call_tool(target, params.arguments, progress, meta=meta)
            return pool.naming.expose_tool_result(target.upstream, result)

        exchange = exchange_of(ctx.request)
        who = {
            "correlationId": exchange.correlation_id if exchange else None,
            "requestId": ctx.request_id,
        }
        return await relay.held.call(
            ctx, params.request_state, params.input_responses, start, progress_relay(ctx), who
        )

    async def list_prompts(ctx: Ctx, params: types.PaginatedRequestParams | None) -> Any:
        relay.register(ctx)
        return types.ListPromptsResult(prompts=await pool.list_prompts(middleware.caller(ctx)))

    async def get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> Any:
        target = _known(pool.prompt_target(params.name), "prompt")
        with relay.running(target, ctx) as meta:
            result = await pool.get_prompt(target, params.arguments, meta=meta)
        return pool.naming.expose_prompt_result(target.upstream, result)

    async def list_resources(ctx: Ctx, params: types.PaginatedRequestParams | None) -> Any:
        relay.register(ctx)
        resources = await pool.list_resources(middleware.caller(ctx))
        return types.ListResourcesResult(resources=resources)

    async def list_templates(ctx: Ctx, params: types.PaginatedRequestParams | None) -> Any:
        templates = await pool.list_resource_templates(middleware.caller(ctx))
        return types.ListResourceTemplatesResult(resource_templates=templates)

    async def read_resource(ctx: Ctx, params: types.ReadResourceRequestParams) -> Any:
        target = _known(pool.resource_target(str(params.uri)), "resource")
        with relay.running(target, ctx) as meta:
            result = await pool.read_resource(target, meta=meta)
        contents = [
            c.model_copy(update={"uri": pool.naming.expose_uri(target.upstream, str(c.uri))})
            for c in result.contents
        ]
        return result.model_copy(update={"contents": contents})

    server = _BridgeServer(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions=(
            "Audited MCP gateway. Tools and prompts are named <upstream>__<name>; resources "
            "are mcp-bridge://<upstream>/<uri>."
        ),
        get_tool_input_schema=pool.tool_input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )
    add_extra_handlers(server, pool, relay)
    add_listen_handler(server, pool, relay)
    # The SDK's own OpenTelemetryMiddleware (on by default) is dropped, as its docs allow: it
    # traces through the global tracer provider, which the bridge never sets, so its spans were
    # never recorded, yet it cost CPU on every message. The bridge's server spans are its own
    # (``telemetry.py``, ``OTEL_*``).
    server.middleware[:] = [middleware]
    return server


__all__ = ["SERVER_NAME", "SERVER_VERSION", "build_server"]
