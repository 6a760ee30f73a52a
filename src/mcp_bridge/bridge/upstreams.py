"""Connections to the upstream MCP servers, each kept alive by its own supervisor task.

A supervisor owns its ``mcp.Client`` for the connection's whole life (the SDK's transports are
task-scoped), reconnects with backoff when the connection ends (a stdio server that exits is
restarted), and publishes the live client for request handlers to use.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Self

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED

from .upstream_config import UpstreamSpec

logger = logging.getLogger(__name__)

LifecycleHook = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Called with an event type (``upstream.connected``, ``upstream.disconnected``) and details."""

_MIN_BACKOFF = 0.2
_MAX_BACKOFF = 10.0


class UpstreamUnavailable(Exception):
    """The upstream is not connected right now (starting, restarting or failing)."""


class _WatchedReadStream:
    """A read stream that sets ``ended`` when the transport's read side ends.

    Lets the supervisor notice a dead stdio server even when no request is in flight.
    """

    def __init__(self, inner: Any, ended: anyio.Event) -> None:
        self._inner = inner
        self._ended = ended

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            item: SessionMessage | Exception = await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._ended.set()
            raise
        return item

    async def aclose(self) -> None:
        self._ended.set()
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _open_transport(spec: UpstreamSpec) -> AbstractAsyncContextManager[Any]:
    if spec.command is not None:
        params = StdioServerParameters(
            command=spec.command, args=list(spec.args), env=spec.env or None, cwd=spec.cwd
        )
        return stdio_client(params)
    assert spec.url is not None
    return _http_transport(spec.url, spec.headers)


@asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


@asynccontextmanager
async def watched_transport(spec: UpstreamSpec, ended: anyio.Event) -> AsyncIterator[Any]:
    """The upstream's transport, with its read side watched for the end of the connection."""
    async with _open_transport(spec) as (read_stream, write_stream):
        yield _WatchedReadStream(read_stream, ended), write_stream


class Upstream:
    """One supervised upstream connection."""

    def __init__(self, spec: UpstreamSpec, *, timeout: float, on_lifecycle: LifecycleHook) -> None:
        self.spec = spec
        self.state = "starting"
        self.restarts = 0
        self.last_error: str | None = None
        self._timeout = timeout
        self._on_lifecycle = on_lifecycle
        self._client: Client | None = None
        self._ended = anyio.Event()
        self._ready = anyio.Event()

    @property
    def name(self) -> str:
        return self.spec.name

    def client(self) -> Client:
        """The live client; raise :class:`UpstreamUnavailable` while (re)connecting."""
        if self._client is None:
            raise UpstreamUnavailable(f"upstream {self.name!r} is {self.state}")
        return self._client

    async def wait_ready(self, timeout: float) -> bool:
        with anyio.move_on_after(timeout):
            await self._ready.wait()
        return self._client is not None

    def connection_lost(self) -> None:
        """Ask the supervisor to reconnect (a call saw the connection close)."""
        self._ended.set()

    async def supervise(self) -> None:
        """Connect, wait for the connection to end, reconnect with backoff; until cancelled."""
        backoff = _MIN_BACKOFF
        while True:
            self._ended = anyio.Event()
            try:
                await self._serve_one_connection()
                backoff = _MIN_BACKOFF
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("upstream %s failed: %s", self.name, self.last_error)
            self.state = "restarting"
            self.restarts += 1
            await self._on_lifecycle(
                "upstream.disconnected", {"upstream": self.name, "error": self.last_error}
            )
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _serve_one_connection(self) -> None:
        transport = watched_transport(self.spec, self._ended)
        try:
            async with Client(transport, read_timeout_seconds=self._timeout, cache=None) as client:
                self._client = client
                self.state = "ready"
                self.last_error = None
                self._ready.set()
                logger.info("upstream %s connected (%s)", self.name, self.spec.kind)
                await self._on_lifecycle(
                    "upstream.connected",
                    {"upstream": self.name, "kind": self.spec.kind, "restarts": self.restarts},
                )
                await self._ended.wait()
                self.last_error = self.last_error or "connection ended"
        finally:
            self._client = None
            self._ready = anyio.Event()


def is_connection_lost(exc: BaseException) -> bool:
    """Whether a failed call means the upstream connection is gone (so it must restart)."""
    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    return isinstance(exc, anyio.BrokenResourceError | anyio.ClosedResourceError | OSError)


__all__ = ["LifecycleHook", "Upstream", "UpstreamUnavailable", "is_connection_lost"]
