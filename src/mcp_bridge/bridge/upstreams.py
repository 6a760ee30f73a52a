"""Connections to the upstream MCP servers, each kept alive by its own supervisor task.

A supervisor owns its ``mcp.Client`` for the connection's whole life (the SDK's transports are
task-scoped), reconnects with backoff when the connection ends (a stdio server that exits is
restarted), and publishes the live client for request handlers to use.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp.types import Implementation
from mcp_types import CONNECTION_CLOSED

from mcp_bridge import __version__

from .child import ChildReport, child_transport
from .tracing import mirror_trace_headers
from .upstream_changes import hold_change_stream
from .upstream_config import PROTOCOLS, UpstreamSpec

logger = logging.getLogger(__name__)

LifecycleHook = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Called with an event type (``upstream.connected``, ``upstream.disconnected``) and details."""

CLIENT_INFO = Implementation(name="mcp-bridge", version=__version__)
"""How the bridge introduces itself to upstreams (``clientInfo`` of ``initialize``)."""

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


@dataclass
class Attempt:
    """What one connection attempt learnt besides its exception: the HTTP status or the child."""

    child: ChildReport
    http_status: int | None = None
    www_authenticate: str | None = None

    @property
    def unauthorized(self) -> bool:
        return self.http_status == 401


def _open_transport(
    spec: UpstreamSpec, timeout: float, attempt: Attempt
) -> AbstractAsyncContextManager[Any]:
    if spec.command is not None:
        return child_transport(spec.command, list(spec.args), spec.env, spec.cwd, attempt.child)
    assert spec.url is not None
    return _http_transport(spec.url, spec.headers, timeout, attempt)


@asynccontextmanager
async def _http_transport(
    url: str, headers: dict[str, str], timeout: float, attempt: Attempt
) -> AsyncIterator[Any]:
    """Streamable HTTP with the bridge's timeout (httpx's own default is 5 s) and status watch."""

    async def watch(response: httpx2.Response) -> None:
        attempt.http_status = response.status_code
        attempt.www_authenticate = response.headers.get("www-authenticate")

    async with (
        httpx2.AsyncClient(
            headers=headers,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
            event_hooks={"request": [mirror_trace_headers], "response": [watch]},
        ) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


@asynccontextmanager
async def watched_transport(
    spec: UpstreamSpec, ended: anyio.Event, timeout: float, attempt: Attempt
) -> AsyncIterator[Any]:
    """The upstream's transport, with its read side watched for the end of the connection."""
    async with _open_transport(spec, timeout, attempt) as (read_stream, write_stream):
        yield _WatchedReadStream(read_stream, ended), write_stream


def describe_failure(exc: BaseException, attempt: Attempt) -> str:
    """One line an operator can act on: the root causes, not the task groups around them."""
    causes = "; ".join(dict.fromkeys(_leaf_text(leaf) for leaf in _leaves(exc)))
    if attempt.unauthorized:
        causes = (
            f"the upstream answered HTTP 401 (WWW-Authenticate: {attempt.www_authenticate}); "
            "the bridge does not run OAuth flows to upstreams: put a valid credential in "
            "mcpServers.<name>.headers.Authorization in BRIDGE_CONFIG"
        )
    child = attempt.child.describe()
    return f"{causes}; {child}" if child else causes


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _leaf_text(exc: BaseException) -> str:
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return "the connection closed before the server answered"
    return f"{type(exc).__name__}: {exc}"


class Upstream:
    """One supervised upstream connection.

    ``state`` is ``starting`` until the first attempt ends, then ``ready`` while connected,
    ``restarting`` after a live connection ended, ``failed`` while attempts fail (retried with
    backoff) and ``refused`` when retrying cannot help (HTTP 401: a credential is missing).
    """

    def __init__(
        self,
        spec: UpstreamSpec,
        *,
        timeout: float,
        on_lifecycle: LifecycleHook,
        client_hooks: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self._client_hooks = client_hooks or {}
        self.state = "starting"
        self.restarts = 0
        self.last_error: str | None = None
        self.last_exit = ChildReport(spec.name)
        self._timeout = timeout
        self._on_lifecycle = on_lifecycle
        self._client: Client | None = None
        self._ended = anyio.Event()
        self._ready = anyio.Event()
        self._settled = anyio.Event()

    @property
    def name(self) -> str:
        return self.spec.name

    def client(self) -> Client:
        """The live client; raise :class:`UpstreamUnavailable` while (re)connecting."""
        if self._client is None:
            detail = f": {self.last_error}" if self.last_error else ""
            raise UpstreamUnavailable(f"upstream {self.name!r} is {self.state}{detail}")
        return self._client

    def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "kind": self.spec.kind,
            "state": self.state,
            "restarts": self.restarts,
            "lastError": self.last_error,
        }
        if self.spec.command is not None:
            report["exitCode"] = self.last_exit.exit_code
            report["stderrTail"] = list(self.last_exit.stderr)[-5:]
        return report

    async def wait_settled(self, timeout: float) -> None:
        """Until the first attempt connected or failed (bounded), so early calls find it."""
        with anyio.move_on_after(timeout):
            await self._settled.wait()

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
            attempt = Attempt(ChildReport(self.name))
            try:
                await self._serve_one_connection(attempt)
                backoff = _MIN_BACKOFF
                self.state = "restarting"
            except Exception as exc:
                self.last_error = describe_failure(exc, attempt)
                self.state = "refused" if attempt.unauthorized else "failed"
                logger.error("upstream %s failed: %s", self.name, self.last_error)
            if attempt.child.exit_code is not None:
                self.last_exit = attempt.child
            self._settled.set()
            self.restarts += 1
            await self._on_lifecycle(
                "upstream.disconnected",
                {"upstream": self.name, "state": self.state, "error": self.last_error},
            )
            if self.state == "refused":
                return
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _serve_one_connection(self, attempt: Attempt) -> None:
        transport = watched_transport(self.spec, self._ended, self._timeout, attempt)
        try:
            async with Client(
                transport,
                read_timeout_seconds=self._timeout,
                cache=None,
                client_info=CLIENT_INFO,
                mode=PROTOCOLS[self.spec.protocol],
                **self._client_hooks,
            ) as client:
                self._client = client
                self.state = "ready"
                self.last_error = None
                self._ready.set()
                self._settled.set()
                logger.info("upstream %s connected (%s)", self.name, self.spec.kind)
                await self._on_lifecycle(
                    "upstream.connected",
                    {"upstream": self.name, "kind": self.spec.kind, "restarts": self.restarts},
                )
                async with anyio.create_task_group() as tg:
                    tg.start_soon(hold_change_stream, self.name, client)
                    await self._ended.wait()
                    tg.cancel_scope.cancel()
        finally:
            self._client = None
            self._ready = anyio.Event()
        child = attempt.child.describe()
        self.last_error = f"connection ended; {child}" if child else "connection ended"
        logger.warning("upstream %s: %s", self.name, self.last_error)


def is_connection_lost(exc: BaseException) -> bool:
    """Whether a failed call means the upstream connection is gone (so it must restart)."""
    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    return isinstance(exc, anyio.BrokenResourceError | anyio.ClosedResourceError | OSError)


__all__ = [
    "CLIENT_INFO",
    "Attempt",
    "LifecycleHook",
    "Upstream",
    "UpstreamUnavailable",
    "describe_failure",
    "is_connection_lost",
]
