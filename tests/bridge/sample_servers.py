"""Small MCP servers the bridge tests run as real upstreams (over HTTP or stdio)."""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations


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


if __name__ == "__main__" and sys.argv[1:] == ["crashy"]:
    crashy_server().run()
