"""The stdio transport to an upstream server process, keeping what an operator needs when it dies.

The SDK's ``stdio_client`` hides the process, so a server that exits at once leaves only a
closed connection ("ExceptionGroup: unhandled errors in a TaskGroup"). This transport speaks the
same newline-delimited JSON-RPC but keeps the process's exit code and its last stderr lines in a
:class:`ChildReport`, and logs each stderr line under the upstream's name as it arrives.
"""

from __future__ import annotations

import logging
import subprocess
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from anyio.streams.text import TextReceiveStream
from mcp.client.stdio import get_default_environment
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

logger = logging.getLogger(__name__)

STDERR_LINES = 20
"""How many of the server's last stderr lines are kept for the log and ``/health``."""

_EXIT_GRACE_SECONDS = 2.0


@dataclass
class ChildReport:
    """What is known about one process of an upstream (a fresh report per spawn)."""

    name: str
    pid: int | None = None
    exit_code: int | None = None
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_LINES))

    def describe(self) -> str:
        """``exited with code 1; last stderr: …`` (empty while the process runs)."""
        if self.exit_code is None:
            return ""
        text = f"process exited with code {self.exit_code}"
        if self.stderr:
            text += "; last stderr: " + " | ".join(self.stderr)
        return text


@asynccontextmanager
async def child_transport(
    command: str, args: list[str], env: dict[str, str], cwd: str | None, report: ChildReport
) -> AsyncIterator[tuple[Any, Any]]:
    """Spawn the server and yield ``(read_stream, write_stream)`` of :class:`SessionMessage`."""
    process = await anyio.open_process(
        [command, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=get_default_environment() | env,
        cwd=cwd,
        start_new_session=True,
    )
    report.pid = process.pid
    to_session, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, from_session = anyio.create_memory_object_stream[SessionMessage](0)
    stderr_done = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_read_stdout, process, to_session)
        tg.start_soon(_write_stdin, process, from_session, to_session)
        tg.start_soon(_read_stderr, process, report, stderr_done)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):
                read_stream.close()
                write_stream.close()
                await _stop(process)
                with anyio.move_on_after(_EXIT_GRACE_SECONDS):
                    await stderr_done.wait()
                report.exit_code = process.returncode
            tg.cancel_scope.cancel()


async def _read_stdout(process: anyio.abc.Process, to_session: Any) -> None:
    """One message per line; after the session stops listening, drain so the server can exit."""
    assert process.stdout is not None
    buffer = b""
    listening = True
    async with to_session:
        try:
            async for chunk in process.stdout:
                lines = (buffer + chunk).split(b"\n")
                buffer = lines.pop()
                for line in lines:
                    if listening and line.strip():
                        listening = await _deliver(to_session, line)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass


async def _deliver(to_session: Any, line: bytes) -> bool:
    try:
        message: SessionMessage | Exception = SessionMessage(
            types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        )
    except ValueError as exc:
        logger.warning("unparsable line from an upstream server: %s", exc)
        message = exc
    try:
        await to_session.send(message)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        return False
    return True


async def _write_stdin(process: anyio.abc.Process, from_session: Any, to_session: Any) -> None:
    assert process.stdin is not None
    try:
        async with from_session:
            async for message in from_session:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await process.stdin.send((data + "\n").encode())
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        await to_session.aclose()


async def _read_stderr(process: anyio.abc.Process, report: ChildReport, done: anyio.Event) -> None:
    """Log and keep each line; ``done`` tells the shutdown that the last lines are in."""
    assert process.stderr is not None
    buffer = ""
    try:
        async for chunk in TextReceiveStream(process.stderr, errors="replace"):
            lines = (buffer + chunk).split("\n")
            buffer = lines.pop()
            for line in lines:
                _keep(report, line)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        pass
    _keep(report, buffer)
    done.set()


def _keep(report: ChildReport, line: str) -> None:
    line = line.rstrip()
    if line:
        report.stderr.append(line[:500])
        logger.info("upstream %s stderr: %s", report.name, line)


async def _stop(process: anyio.abc.Process) -> None:
    """Close stdin (the MCP way to ask a stdio server to exit), then terminate its group."""
    if process.stdin is not None:
        await process.stdin.aclose()
    with anyio.move_on_after(_EXIT_GRACE_SECONDS):
        while process.returncode is None:
            await anyio.sleep(0.02)
    if process.returncode is None:
        await terminate_posix_process_tree(process, _EXIT_GRACE_SECONDS)
    with anyio.move_on_after(_EXIT_GRACE_SECONDS):
        await process.wait()


__all__ = ["STDERR_LINES", "ChildReport", "child_transport"]
