"""Lean MCP clients for the bridge benchmark: raw JSON-RPC, no SDK.

The official SDK client costs about 1.4 ms of CPU per call on its own, enough to hide what the
bridge adds. These clients do the minimum a real client must: one keep-alive connection per
client (HTTP/1.1 over asyncio streams: ``Content-Length`` or chunked bodies, JSON or SSE
answers) or JSON lines over a stdio pipe shared by concurrent callers (ids matched to their
answers), the ``initialize`` handshake, then ``tools/call`` requests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

PROTOCOL_VERSION = "2025-06-18"
_INITIALIZE = {
    "protocolVersion": PROTOCOL_VERSION,
    "capabilities": {},
    "clientInfo": {"name": "bench-lean", "version": "1"},
}
#: Large answers are not expected here; a bound keeps a confused server from eating memory.
_LIMIT = 1 << 24


class CallFailed(RuntimeError):
    """The server answered with a JSON-RPC error or a tool error."""


def _result(message: dict[str, Any]) -> dict[str, Any]:
    if "error" in message:
        raise CallFailed(str(message["error"]))
    result: dict[str, Any] = message["result"]
    if result.get("isError"):
        raise CallFailed(str(result.get("content")))
    return result


class LeanHttpClient:
    """One streamable-HTTP session over one keep-alive connection (calls made one at a time)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._path = parts.path or "/"
        self._headers = (
            f"Host: {self._host}:{self._port}\r\nContent-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\n"
        )
        self._ids = itertools.count(1)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> LeanHttpClient:
        await self._connect()
        answer, headers = await self._post({"method": "initialize", "params": _INITIALIZE})
        session = headers.get("mcp-session-id")
        version = _result(answer).get("protocolVersion", PROTOCOL_VERSION)
        if session is not None:
            self._headers += f"Mcp-Session-Id: {session}\r\n"
        self._headers += f"Mcp-Protocol-Version: {version}\r\n"
        await self._post({"method": "notifications/initialized"}, notification=True)
        return self

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        answer, _ = await self._post(
            {"method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        )
        return _result(answer)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self._host, self._port, limit=_LIMIT
        )

    async def _post(
        self, message: dict[str, Any], *, notification: bool = False
    ) -> tuple[dict[str, Any], dict[str, str]]:
        assert self._reader is not None and self._writer is not None
        request_id = None if notification else next(self._ids)
        body = {"jsonrpc": "2.0", **message}
        if request_id is not None:
            body["id"] = request_id
        data = json.dumps(body, separators=(",", ":")).encode()
        head = f"POST {self._path} HTTP/1.1\r\n{self._headers}Content-Length: {len(data)}\r\n\r\n"
        status, headers, payload = await self._exchange(head.encode() + data)
        if status >= 400:
            raise CallFailed(f"HTTP {status}: {payload[:200]!r}")
        if request_id is None:
            return {}, headers
        return _answer(payload, headers, request_id), headers

    async def _exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send ``request`` and read the answer; once more on a fresh connection when the
        server had closed this one while it was idle (uvicorn's keep-alive timeout is 5 s,
        and a connection waits longer than that while other targets take their turn)."""
        for attempt in (1, 2):
            assert self._reader is not None and self._writer is not None
            self._writer.write(request)
            try:
                return await _read_response(self._reader)
            except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
                answered = isinstance(exc, asyncio.IncompleteReadError) and exc.partial
                if attempt == 2 or answered:
                    raise
                self._writer.close()
                await self._connect()
        raise AssertionError("unreachable")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return status, headers, await _read_chunked(reader)
    return status, headers, await reader.readexactly(int(headers.get("content-length", "0")))


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _answer(payload: bytes, headers: dict[str, str], request_id: int) -> dict[str, Any]:
    """The JSON-RPC answer to ``request_id`` in a JSON body or an SSE stream."""
    if headers.get("content-type", "").startswith("text/event-stream"):
        for line in payload.splitlines():
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if isinstance(message, dict) and message.get("id") == request_id:
                    return message
        raise CallFailed(f"no answer to request {request_id} in the event stream")
    message: dict[str, Any] = json.loads(payload)
    return message


class LeanStdioClient:
    """JSON lines to a stdio server; concurrent callers share the pipe, answers go by id."""

    def __init__(self, command: Sequence[str]) -> None:
        self._command = list(command)
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None

    async def open(self) -> LeanStdioClient:
        self._process = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=_LIMIT,
        )
        self._reading = asyncio.create_task(self._read())
        _result(await self._request("initialize", _INITIALIZE))
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return _result(await self._request("tools/call", {"name": tool, "arguments": arguments}))

    async def close(self) -> None:
        if self._process is None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 5)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
        if self._reading is not None:
            self._reading.cancel()

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return await future

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for line in self._process.stdout:
            message = json.loads(line)
            future = self._waiting.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)
