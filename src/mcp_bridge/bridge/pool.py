"""The set of upstreams behind the bridge: merged listings, routing and the mutating-tool policy.

A tool is mutating unless its upstream annotates it ``readOnlyHint: true``; the config file's
``readOnly`` map overrides that per tool. Unknown tools count as mutating (fail closed).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar, cast

import anyio
import mcp_types as types
from mcp import Client
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types import REQUEST_TIMEOUT
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .auth import Identity
from .errors import UNKNOWN_TARGET, UPSTREAM_TIMEOUT, UPSTREAM_UNAVAILABLE
from .naming import Naming
from .policy import Decision, decide
from .timeouts import idle_deadline
from .upstream_config import UpstreamSpec
from .upstreams import LifecycleHook, Upstream, UpstreamUnavailable, is_connection_lost

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


_Meta: TypeAlias = types.RequestParamsMeta | None
"""The ``_meta`` of a request sent upstream (the SDK's TypedDict allows any key)."""

UpstreamObserver: TypeAlias = Callable[
    ["Target", str], AbstractContextManager[dict[str, Any] | None]
]
"""Wraps every request sent to an upstream (its target and MCP method): times and traces it,
and yields the ``_meta`` entries (the trace context) to send with it, or ``None``."""


_NO_TASKS: dict[str, Any] = {"execution": None}
"""Listed tools lose ``execution.taskSupport``: the bridge calls tools only without tasks."""


@dataclass(frozen=True)
class InputRound:
    """A 2026-07-28 client's answers to an ``InputRequiredResult``, passed on unchanged."""

    input_responses: types.InputResponses | None = None
    request_state: str | None = None


@dataclass(frozen=True)
class Target:
    """Where an exposed tool/prompt/resource name routes to."""

    upstream: str
    name: str
    mutating: bool = False


def _unobserved(target: Target, method: str) -> AbstractContextManager[dict[str, Any] | None]:
    return nullcontext(None)


class UpstreamPool:
    """All upstreams, their cached tool catalogs and the routing between exposed and real names."""

    def __init__(
        self,
        specs: list[UpstreamSpec],
        *,
        timeout: float,
        on_lifecycle: LifecycleHook,
        client_hooks: Callable[[str], dict[str, Any]] | None = None,
        observe: UpstreamObserver = _unobserved,
    ) -> None:
        self._timeout = timeout
        self._observe = observe
        self.naming = Naming.for_upstreams(specs)
        self.upstreams = {
            s.name: Upstream(
                s,
                timeout=timeout,
                on_lifecycle=on_lifecycle,
                client_hooks=client_hooks(s.name) if client_hooks else None,
            )
            for s in specs
        }
        self._tools: dict[str, dict[str, types.Tool]] = {name: {} for name in self.upstreams}

    def start(self, task_group: anyio.abc.TaskGroup) -> None:
        for upstream in self.upstreams.values():
            task_group.start_soon(upstream.supervise)

    async def wait_settled(self, timeout: float) -> None:
        """Wait (bounded) until every upstream's first attempt connected or failed.

        An upstream that exits at once or refuses connections settles at once, so it does not
        hold the port closed; a slow one is waited for at most ``timeout`` seconds
        (BRIDGE_UPSTREAM_START_WAIT_SECONDS) and then reported ``starting`` in ``/health``.
        """
        async with anyio.create_task_group() as tg:
            for upstream in self.upstreams.values():
                tg.start_soon(upstream.wait_settled, timeout)

    def health(self) -> dict[str, Any]:
        return {name: u.health() for name, u in self.upstreams.items()}

    # -- tools -----------------------------------------------------------------------------

    async def list_tools(self, identity: Identity | None = None) -> list[types.Tool]:
        """Every ready upstream's tools, named as exposed; with ``identity``, only those its
        ``access`` rules let that caller call (a denied tool is not shown)."""
        tools: list[types.Tool] = []
        for upstream in self._ready_upstreams(identity):
            listed = await self._collect(upstream, _list_all_tools, "tools", "tools/list")
            if listed is None:
                continue
            self._tools[upstream.name] = {t.name: t for t in listed}
            tools.extend(
                t.model_copy(
                    update={"name": self.naming.expose(upstream.name, t.name), **_NO_TASKS}
                )
                for t in listed
                if identity is None or decide(upstream.spec.access, t.name, identity).allowed
            )
        return tools

    def requires_task(self, target: Target) -> bool:
        """Whether the upstream runs this tool only as a task (which the bridge does not do)."""
        tool = self._tools.get(target.upstream, {}).get(target.name)
        execution = tool.execution if tool is not None else None
        return execution is not None and execution.task_support == "required"

    async def tool_target(self, exposed: str) -> Target:
        """Route an exposed tool name; the catalog is refreshed once if the tool is not known."""
        parts = self.naming.split(exposed)
        if parts is None or parts[0] not in self.upstreams:
            return Target(upstream="", name=exposed, mutating=True)
        upstream, name = parts
        if name not in self._tools[upstream]:
            await self._refresh_tools(upstream)
        return Target(upstream, name, self._is_mutating(upstream, name))

    def speaks_modern(self, name: str) -> bool:
        """Whether the upstream is connected and speaks 2026-07-28 (no session)."""
        upstream = self.upstreams.get(name)
        if upstream is None or upstream.state != "ready":
            return False
        return upstream.client().protocol_version in MODERN_PROTOCOL_VERSIONS

    def forget_tools(self, upstream: str) -> None:
        """Drop an upstream's cached catalog (its tools changed): the next call re-lists it, so
        a tool whose ``readOnlyHint`` changed is classified by its new annotations."""
        if upstream in self._tools:
            self._tools[upstream] = {}

    def tool_input_schema(self, exposed: str) -> dict[str, Any] | None:
        parts = self.naming.split(exposed)
        tool = self._tools.get(parts[0], {}).get(parts[1]) if parts else None
        return tool.input_schema if tool is not None else None

    async def call_tool(
        self,
        target: Target,
        arguments: dict[str, Any] | None,
        on_progress: ProgressFnT | None = None,
        resume: InputRound | None = None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> Any:
        """Forward a call; progress from the upstream goes to ``on_progress`` and keeps it alive.

        The upstream timeout (``BRIDGE_UPSTREAM_TIMEOUT_SECONDS``) counts from the last sign of
        life, so a long call that reports progress is not cut off. With ``resume`` (a 2026-07-28
        client) an upstream that also speaks 2026-07-28 may answer ``InputRequiredResult``, which
        is returned as is for the client to answer; the client's retry brings the answers back
        in ``resume``. Otherwise the SDK resolves such rounds through the relay's callbacks.
        ``meta`` (the caller's log level, if any) goes out in the request's ``_meta``.
        """
        upstream = self._upstream(target)
        with (
            self._calling(upstream, "tools/call", target.name, meta) as sent_meta,
            idle_deadline(self._timeout, upstream.name) as alive,
        ):

            async def progress(progress: float, total: float | None, message: str | None) -> None:
                alive()
                if on_progress is not None:
                    await on_progress(progress, total, message)

            client = upstream.client()
            if resume is not None and client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                return await client.session.call_tool(
                    target.name,
                    arguments,
                    read_timeout_seconds=math.inf,
                    progress_callback=progress,
                    input_responses=resume.input_responses,
                    request_state=resume.request_state,
                    allow_input_required=True,
                    meta=sent_meta,
                )
            if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
                return await _forward_call(client, target.name, arguments, progress, sent_meta)
            return await client.call_tool(
                target.name,
                arguments,
                read_timeout_seconds=math.inf,
                progress_callback=progress,
                meta=sent_meta,
            )

    def decide(self, target: Target | None, method: str, identity: Identity) -> Decision | None:
        """The access decision for a call to a known upstream (None: nothing to decide)."""
        upstream = self.upstreams.get(target.upstream) if target is not None else None
        if target is None or upstream is None:
            return None
        return decide(
            upstream.spec.access, target.name if method == "tools/call" else None, identity
        )

    def _is_mutating(self, upstream: str, name: str) -> bool:
        override = self.upstreams[upstream].spec.read_only.get(name)
        if override is not None:
            return not override
        tool = self._tools[upstream].get(name)
        hint = tool.annotations.read_only_hint if tool and tool.annotations else None
        return hint is not True

    async def _refresh_tools(self, name: str) -> None:
        upstream = self.upstreams[name]
        if upstream.state == "ready":
            listed = await self._collect(upstream, _list_all_tools, "tools", "tools/list")
            if listed is not None:
                self._tools[name] = {t.name: t for t in listed}

    # -- prompts and resources ---------------------------------------------------------------

    async def list_prompts(self, identity: Identity | None = None) -> list[types.Prompt]:
        prompts: list[types.Prompt] = []
        for upstream in self._ready_upstreams(identity):
            listed = await self._collect(upstream, _list_all_prompts, "prompts", "prompts/list")
            prompts.extend(
                p.model_copy(update={"name": self.naming.expose(upstream.name, p.name)})
                for p in listed or []
            )
        return prompts

    def prompt_target(self, exposed: str) -> Target:
        parts = self.naming.split(exposed)
        if parts is None or parts[0] not in self.upstreams:
            return Target(upstream="", name=exposed)
        return Target(*parts)

    def resource_target(self, exposed_uri: str) -> Target:
        parts = self.naming.split_uri(exposed_uri)
        if parts is None or parts[0] not in self.upstreams:
            return Target(upstream="", name=exposed_uri)
        return Target(*parts)

    async def get_prompt(
        self,
        target: Target,
        arguments: dict[str, str] | None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> Any:
        upstream = self._upstream(target)
        with self._calling(upstream, "prompts/get", target.name, meta) as sent_meta:
            return await upstream.client().get_prompt(target.name, arguments, meta=sent_meta)

    async def list_resources(self, identity: Identity | None = None) -> list[types.Resource]:
        resources: list[types.Resource] = []
        for upstream in self._ready_upstreams(identity):
            listed = await self._collect(
                upstream, _list_all_resources, "resources", "resources/list"
            )
            resources.extend(
                r.model_copy(update={"uri": self.naming.expose_uri(upstream.name, str(r.uri))})
                for r in listed or []
            )
        return resources

    async def list_resource_templates(
        self, identity: Identity | None = None
    ) -> list[types.ResourceTemplate]:
        templates: list[types.ResourceTemplate] = []
        for upstream in self._ready_upstreams(identity):
            listed = await self._collect(
                upstream, _list_all_templates, "resources", "resources/templates/list"
            )
            templates.extend(
                t.model_copy(
                    update={"uri_template": self.naming.expose_uri(upstream.name, t.uri_template)}
                )
                for t in listed or []
            )
        return templates

    async def read_resource(self, target: Target, *, meta: dict[str, Any] | None = None) -> Any:
        upstream = self._upstream(target)
        with self._calling(upstream, "resources/read", target.name, meta) as sent_meta:
            return await upstream.client().read_resource(target.name, meta=sent_meta)

    async def forward(
        self,
        target: Target,
        method: str,
        call: Callable[[Client, _Meta], Awaitable[_T]],
    ) -> _T:
        """Send ``method`` to the target's upstream: ``call`` gets its client and the ``_meta``
        to send; timed and traced, with the pool's error mapping."""
        upstream = self._upstream(target)
        with self._calling(upstream, method, target.name) as sent_meta:
            return await call(upstream.client(), sent_meta)

    def ready_clients(self) -> list[tuple[str, Client]]:
        """``(name, client)`` of every connected upstream."""
        return [(u.name, u.client()) for u in self._ready_upstreams()]

    # -- plumbing -----------------------------------------------------------------------------

    def _ready_upstreams(self, identity: Identity | None = None) -> list[Upstream]:
        """The connected upstreams; with ``identity``, those its access rules let it use."""
        return [
            u
            for u in self.upstreams.values()
            if u.state == "ready"
            and (identity is None or decide(u.spec.access, None, identity).allowed)
        ]

    def _upstream(self, target: Target) -> Upstream:
        upstream = self.upstreams.get(target.upstream)
        if upstream is None:
            raise MCPError(code=UNKNOWN_TARGET, message=f"Unknown name: {target.name}")
        return upstream

    @contextmanager
    def _calling(
        self, upstream: Upstream, method: str, name: str = "", meta: dict[str, Any] | None = None
    ) -> Iterator[_Meta]:
        """Around every request sent to an upstream: the observer (metrics, the ``CLIENT``
        span) outside the error mapping, so both see the bridge's error code. Yields ``meta``
        plus the observer's trace context, as the request's ``_meta``."""
        with (
            self._observe(Target(upstream.name, name), method) as traced,
            _upstream_errors(upstream, self._timeout),
        ):
            merged = {**(meta or {}), **(traced or {})}
            yield cast(_Meta, merged) if merged else None

    async def _collect(
        self,
        upstream: Upstream,
        fetch: Callable[[Client, _Meta], Awaitable[list[_T]]],
        capability: str,
        method: str,
    ) -> list[_T] | None:
        """One upstream's full listing (``method``, every page), or None when it lacks the
        capability or fails.

        A failing upstream must not hide the others, so the failure is logged, not raised.
        """
        try:
            client = upstream.client()
            if getattr(client.server_capabilities, capability, None) is None:
                return None
            with self._calling(upstream, method) as meta:
                return await fetch(client, meta)
        except (UpstreamUnavailable, MCPError) as exc:
            logger.warning("listing %s of upstream %s failed: %s", capability, upstream.name, exc)
            return None


@contextmanager
def _upstream_errors(upstream: Upstream, timeout: float) -> Iterator[None]:
    """Turn a broken connection into a JSON-RPC error and ask the supervisor to reconnect.

    The SDK's own timeout (-32001) becomes the bridge's UPSTREAM_TIMEOUT with the setting to
    change, so it cannot be mistaken for anything the upstream answered.
    """
    try:
        yield
    except UpstreamUnavailable as exc:
        raise MCPError(code=UPSTREAM_UNAVAILABLE, message=str(exc)) from exc
    except Exception as exc:
        if isinstance(exc, MCPError) and exc.code == REQUEST_TIMEOUT:
            raise MCPError(
                code=UPSTREAM_TIMEOUT,
                message=(
                    f"upstream {upstream.name!r} did not answer within "
                    f"BRIDGE_UPSTREAM_TIMEOUT_SECONDS={timeout:g} ({exc.message}); raise that "
                    "setting for slow tools"
                ),
            ) from exc
        if not is_connection_lost(exc):
            raise
        upstream.connection_lost()
        raise MCPError(
            code=UPSTREAM_UNAVAILABLE,
            message=f"upstream {upstream.name!r} connection lost during the call; restarting it",
        ) from exc


async def _forward_call(
    client: Client,
    name: str,
    arguments: dict[str, Any] | None,
    progress: ProgressFnT,
    meta: _Meta,
) -> types.CallToolResult:
    """A ``tools/call`` to a session-protocol upstream, its result checked against the
    negotiated protocol version but not against the tool's output schema.

    ``Client.call_tool`` also validates ``structuredContent`` against the ``outputSchema`` the
    upstream listed (about 7 % of the bridge's CPU per call). The bridge passes results
    through, so that check is the end client's (its SDK does it against the same schema, which
    the bridge lists unchanged); docs/mcp-bridge/bridge.md says what the bridge does not check.
    A session-protocol upstream has no input rounds, so nothing else of ``call_tool`` is skipped.
    """
    params = types.CallToolRequestParams(name=name, arguments=arguments, _meta=meta)
    return await client.session.send_request(
        types.CallToolRequest(params=params),
        types.CallToolResult,
        request_read_timeout_seconds=math.inf,
        progress_callback=progress,
    )


async def _paginate(
    fetch: Callable[[str | None], Awaitable[tuple[list[_T], str | None]]],
) -> list[_T]:
    items: list[_T] = []
    cursor: str | None = None
    for _ in range(100):
        page, cursor = await fetch(cursor)
        items.extend(page)
        if cursor is None:
            break
    return items


async def _list_all_tools(client: Client, meta: _Meta) -> list[types.Tool]:
    async def page(cursor: str | None) -> tuple[list[types.Tool], str | None]:
        result = await client.list_tools(cursor=cursor, cache_mode="bypass", meta=meta)
        return result.tools, result.next_cursor

    return await _paginate(page)


async def _list_all_prompts(client: Client, meta: _Meta) -> list[types.Prompt]:
    async def page(cursor: str | None) -> tuple[list[types.Prompt], str | None]:
        result = await client.list_prompts(cursor=cursor, cache_mode="bypass", meta=meta)
        return result.prompts, result.next_cursor

    return await _paginate(page)


async def _list_all_resources(client: Client, meta: _Meta) -> list[types.Resource]:
    async def page(cursor: str | None) -> tuple[list[types.Resource], str | None]:
        result = await client.list_resources(cursor=cursor, cache_mode="bypass", meta=meta)
        return result.resources, result.next_cursor

    return await _paginate(page)


async def _list_all_templates(client: Client, meta: _Meta) -> list[types.ResourceTemplate]:
    async def page(cursor: str | None) -> tuple[list[types.ResourceTemplate], str | None]:
        result = await client.list_resource_templates(cursor=cursor, cache_mode="bypass", meta=meta)
        return result.resource_templates, result.next_cursor

    return await _paginate(page)


__all__ = ["InputRound", "Target", "UpstreamPool"]
