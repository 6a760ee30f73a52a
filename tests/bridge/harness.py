"""Running real servers for the bridge tests: uvicorn in a thread on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from mcp_bridge.audit import AuditStorageError, AuditTrail
from mcp_bridge.audit.sequencing import PendingEvent, SealedRecord
from mcp_bridge.audit.storage.local.store import LocalStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_until_healthy_then_signal(env: dict[str, str], cwd: Path, signum: int) -> tuple[int, str]:
    """Run ``mcp-bridge serve`` (PORT from ``env``) until /health answers, send ``signum``;
    the exit status and stderr."""
    port = env["PORT"]
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_bridge", "serve"],
        env=env,
        cwd=cwd,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, stderr


def serve_env(tmp: Path, servers: dict[str, Any]) -> dict[str, str]:
    """The environment of an ``mcp-bridge serve`` of ``servers`` (its ``mcpServers``), with the
    trail in ``tmp/audit`` and a free loopback ``PORT``."""
    config = tmp / "bridge.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    return {
        **os.environ,
        "BRIDGE_CONFIG": str(config),
        "AUDIT_STORAGE_PATH": str(tmp / "audit"),
        "PORT": str(free_port()),
        "HOST": "127.0.0.1",
    }


def wait_until_healthy(url: str, process: subprocess.Popen[str]) -> None:
    """Until the ``mcp-bridge serve`` subprocess answers ``/health`` (it must not exit)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 until the block ends; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class FaultyStore(LocalStore):
    """The real local store, plus injected faults.

    ``broken`` makes every write fail; ``failing_types`` fails only the batches holding an event
    of those types (e.g. the durable intent), so what the bridge records next can be checked.
    """

    broken = False
    failing_types: frozenset[str] = frozenset()

    def stage(
        self, events: Sequence[PendingEvent], now: datetime
    ) -> tuple[list[SealedRecord], Callable[[], None]]:
        self._inject(events)
        return super().stage(events, now)

    def append(self, events: Sequence[PendingEvent], now: datetime) -> list[SealedRecord]:
        self._inject(events)
        return super().append(events, now)

    def _inject(self, events: Sequence[PendingEvent]) -> None:
        if self.broken or any(e.event_type in self.failing_types for e in events):
            raise AuditStorageError(f"cannot append to the audit store {self.root}: injected")


def faulty_trail(path: Path) -> tuple[AuditTrail, FaultyStore]:
    store = FaultyStore(path)
    return AuditTrail(store, enabled=True), store


@asynccontextmanager
async def connect(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    mode: str = "auto",
    name: str = "pytest",
    **callbacks: Any,
) -> AsyncIterator[Client]:
    """The official client over streamable HTTP, with extra headers (e.g. Authorization).

    ``callbacks`` go to ``mcp.Client`` (``sampling_callback``, ``logging_callback``, …).
    """
    async with httpx2.AsyncClient(headers=headers or {}, timeout=60) as http:
        transport = streamable_http_client(f"{url}/mcp", http_client=http)
        info = Implementation(name=name, version="9.9.9")
        async with Client(
            transport, mode=mode, client_info=info, cache=None, **callbacks
        ) as client:
            yield client


def wait_until_recovered(url: str, timeout: float = 30.0) -> None:
    """Until ``/health`` says no records are held for the trail (written late after an outage)."""
    deadline = time.monotonic() + timeout
    while httpx2.get(f"{url}/health").json()["audit"]["outage"]["active"]:
        if time.monotonic() > deadline:
            raise AssertionError("the bridge still holds records for the audit trail")
        time.sleep(0.05)


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (path / "README.md").write_text("scratch\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "initial"], check=True)
    return path


def commit_count(repo: Path) -> int:
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--count", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())


def events(trail: AuditTrail, event_type: str | None = None) -> list[dict[str, Any]]:
    """Stored records, after letting background (non-durable) records reach the store."""
    trail.record_event("test.flush", {})
    return [e for e in trail.fetch_events(limit=10_000, event_type=event_type)]


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def initialize_request(client_name: str) -> dict[str, Any]:
    """A raw session-based ``initialize`` request, for tests that speak HTTP directly."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": "1"},
        },
    }


def recording(app: Any, bodies: list[dict[str, Any]]) -> Any:
    """Wrap an ASGI app so that every JSON request body it receives is kept in ``bodies``."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def keep() -> Any:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                with contextlib.suppress(ValueError):
                    bodies.append(json.loads(b"".join(chunks)))
            return message

        await app(scope, keep, send)

    return wrapped
