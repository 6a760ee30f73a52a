"""Small MCP servers the bridge tests (and ``benchmarks/bridge.py``) run as real upstreams.

Run one over stdio with ``python sample_servers.py <crashy|library>``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Resolve, Sample
from mcp.types import (
    CallToolResult,
    Completion,
    CreateMessageResult,
    EmptyResult,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel


def notes_server() -> MCPServer:
    """A streamable-HTTP upstream with one read-only and one mutating tool."""
    server = MCPServer("notes")
    notes: list[str] = []

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def echo(text: str, password: str = "", api_key: str = "") -> str:
        """Echo the text (the secret arguments exist to test redaction)."""
        return f"echo: {text}"

    @server.tool()
    def add_note(text: str) -> str:
        """Store a note."""
        notes.append(text)
        return f"{len(notes)} notes"

    return server


def crashy_server() -> MCPServer:
    """A stdio upstream whose ``crash`` tool kills the process mid-call."""
    server = MCPServer("crashy")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def crash() -> str:
        """Exit the process without answering."""
        os._exit(3)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def pid() -> str:
        """The server's process id."""
        return str(os.getpid())

    return server


def library_server() -> MCPServer:
    """A stdio upstream with a prompt, a resource and a cheap mutating tool.

    The tool does no I/O so that a benchmark of it measures the path through the bridge (and its
    durable intent), not the upstream's own work.
    """
    server = MCPServer("library")
    shelf: list[str] = []

    @server.tool()
    def shelve(title: str) -> str:
        """Put a book on the shelf (mutating: no readOnlyHint)."""
        shelf.append(title)
        return f"{len(shelf)} books"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def wait(seconds: float, ctx: Context, marker: str = "") -> str:
        """Wait, reporting progress every tenth of a second (``marker``: see ``_slowly``)."""
        return await _slowly(seconds, ctx, marker, "waited")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def stall(seconds: float) -> str:
        """Wait without reporting progress."""
        await anyio.sleep(seconds)
        return "stalled"

    @server.tool()
    async def slow_shelve(title: str, seconds: float, ctx: Context, marker: str = "") -> str:
        """Shelve a book after a while (mutating; ``marker``: see ``_slowly``)."""
        await _slowly(seconds, ctx, marker, "shelved")
        shelf.append(title)
        return f"{len(shelf)} books"

    _add_muse(server)
    _add_ponder(server)
    _add_chatty(server)
    _add_grow(server)
    _add_tally(server)

    @server.prompt()
    def review(book: str) -> str:
        """Ask for a review of a book."""
        return f"Please review {book}."

    @server.resource("library://catalog", mime_type="text/plain")
    def catalog() -> str:
        """The catalog."""
        return "catalog: " + ", ".join(shelf or ["(empty)"])

    return server


def _add_grow(server: MCPServer) -> None:
    @server.tool()
    async def grow(read_only: bool, ctx: Context) -> str:
        """(Re)define the tool ``grown`` (read-only or not) and say that the lists changed:
        on the session in the session protocol, on listen streams in 2026-07-28 (each call is a
        no-op in the other generation)."""
        if any(tool.name == "grown" for tool in await server.list_tools()):
            server.remove_tool("grown")
        hint = ToolAnnotations(read_only_hint=True) if read_only else None
        server.add_tool(_grown, name="grown", annotations=hint)
        await ctx.session.send_tool_list_changed()
        await ctx.session.send_prompt_list_changed()
        await ctx.session.send_resource_list_changed()
        await ctx.notify_tools_changed()
        await ctx.notify_prompts_changed()
        await ctx.notify_resources_changed()
        return "grown"


def _grown(text: str) -> str:
    """Echo the text."""
    return f"grown: {text}"


class Tally(BaseModel):
    books: int


def _add_tally(server: MCPServer) -> None:
    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def tally() -> Annotated[CallToolResult, Tally]:
        """Count the books, breaking the tool's own output schema (``books`` is no integer):
        what the bridge passes through unchecked from a session-protocol upstream."""
        text = TextContent(type="text", text="many")
        return CallToolResult(content=[text], structured_content={"books": "many"})

    # The schema stays published but the server no longer checks its own results against it
    # (FuncMetadata's fields are read live; no model: advertised, not validated).
    listed = server._tool_manager.get_tool("tally")  # MCPServer has no public lookup
    assert listed is not None
    listed.fn_metadata.output_model = None


def _add_chatty(server: MCPServer) -> None:
    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def chatty(text: str, ctx: Context) -> str:
        """Log the text (info) while running (at 2026-07-28 only if the request opted in)."""
        await ctx.info(f"chatty says {text}")
        return f"said {text}"


def _add_muse(server: MCPServer) -> None:
    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def muse(
        topic: str, answer: Annotated[CreateMessageResult, Resolve(_ask_the_model)]
    ) -> str:
        """Ask the client's model about a topic (sampling; an InputRequiredResult in 2026-07-28)."""
        text = answer.content.text if isinstance(answer.content, TextContent) else "?"
        return f"mused: {text}"


def _add_ponder(server: MCPServer) -> None:
    @server.tool()
    async def ponder(topic: str, ctx: Context, fail: bool = False) -> str:
        """Ask the client's model twice (mutating; session protocol only), reporting progress
        after each answer; ``fail`` raises once both are in (an upstream error)."""
        lines = []
        for step in (1, 2):
            question = TextContent(type="text", text=f"line {step} about {topic}")
            answer = await ctx.session.create_message(
                [SamplingMessage(role="user", content=question)],
                max_tokens=20,
                related_request_id=ctx.request_id,
            )
            lines.append(answer.content.text if isinstance(answer.content, TextContent) else "?")
            await ctx.report_progress(step, 2, f"answer {step}")
        if fail:
            raise ValueError(f"pondering {topic} failed")
        return "pondered: " + " / ".join(lines)


def _ask_the_model(topic: str) -> Sample:
    question = TextContent(type="text", text=f"a line about {topic}")
    return Sample([SamplingMessage(role="user", content=question)], max_tokens=20)


async def _slowly(seconds: float, ctx: Context, marker: str, done: str) -> str:
    """Sleep in steps with progress; touch ``<marker>.started``, and ``<marker>`` if cancelled."""
    steps = max(1, round(seconds * 10))
    if marker:
        Path(marker + ".started").write_text("started")
    try:
        for step in range(steps):
            await anyio.sleep(seconds / steps)
            await ctx.report_progress(step + 1, steps, f"step {step + 1}")
    except anyio.get_cancelled_exc_class():
        if marker:
            Path(marker).write_text("cancelled")
        raise
    return done


def slow_server() -> MCPServer:
    """A streamable-HTTP upstream whose read-only tool takes as long as it is told."""
    server = MCPServer("slow")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def wait(seconds: float) -> str:
        """Sleep, then answer (for timeouts longer than httpx's 5 s default)."""
        await anyio.sleep(seconds)
        return f"waited {seconds}"

    return server


def asking_server() -> MCPServer:
    """An upstream whose tools ask the client (sampling) or log while they run.

    Served over streamable HTTP in the session protocol, it sends those on the call's own
    response stream, which is what lets the bridge route them to the right client.
    """
    server = MCPServer("asking")

    _add_muse(server)

    _add_grow(server)

    watched: set[str] = set()

    @server.resource("asking://note", mime_type="text/plain")
    def note() -> str:
        """A note whose changes can be watched (resources/subscribe)."""
        return "a note"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def touch(ctx: Context) -> str:
        """Say that asking://note changed; list the URIs the client is subscribed to."""
        await ctx.session.send_resource_updated("asking://note")
        return ",".join(sorted(watched))

    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        watched.add(params.uri)
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        watched.discard(params.uri)
        return EmptyResult()

    lowlevel = server._lowlevel_server  # MCPServer has no decorator for subscriptions
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)

    _add_chatty(server)

    return server


def extras_server() -> MCPServer:
    """An upstream for the requests beyond calls: completions, log levels, subscriptions."""
    server = MCPServer("extras")

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone (its argument is completed)."""
        return f"Hello {name}."

    @server.resource("extras://note", mime_type="text/plain")
    def note() -> str:
        """A note that can be subscribed to."""
        return "a note"

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion:
        return Completion(values=[f"{argument.value}lice"])

    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        return EmptyResult()

    async def subscription(ctx: Any, params: Any) -> EmptyResult:
        return EmptyResult()

    lowlevel = server._lowlevel_server  # MCPServer has no decorator for these
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscription)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, subscription)
    return server


SERVERS = {"crashy": crashy_server, "library": library_server}

if __name__ == "__main__" and len(sys.argv) == 2 and sys.argv[1] in SERVERS:
    SERVERS[sys.argv[1]]().run()
