"""The event every benchmark records: a realistic MCP tool call, shared by ours and the baseline.

A fixed cycle of distinct payloads (different tools, arguments, callers and digests) keeps the
encoder honest without making payload generation part of what is measured.
"""

from __future__ import annotations

import hashlib
from typing import Any

EVENT_TYPE = "tool.call"

_TOOLS = (
    ("git", "git_log", {"repo_path": "/srv/repos/service-{i}", "ref": "main", "max_count": "20"}),
    ("git", "git_diff", {"repo_path": "/srv/repos/service-{i}", "target": "HEAD~{i}"}),
    ("time", "get_current_time", {"timezone": "Europe/Paris"}),
    ("fs", "read_file", {"path": "/srv/data/report-{i}.csv", "encoding": "utf-8"}),
)


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def tool_call(i: int) -> dict[str, Any]:
    """Payload number ``i``: what the bridge records for one tool call (~500 bytes of JSON)."""
    server, tool, arguments = _TOOLS[i % len(_TOOLS)]
    return {
        "server": server,
        "tool": tool,
        "arguments": {key: value.format(i=i) for key, value in arguments.items()},
        "identity": {
            "subject": f"user-{i % 97}@example.com",
            "client": "claude-desktop/1.4.2",
            "session": _digest("session", i % 13)[:32],
        },
        "requestDigest": _digest("request", i),
        "responseDigest": _digest("response", i),
        "outcome": "ok",
        "durationMs": 3 + i % 40,
    }


def payload_cycle(size: int = 256) -> list[dict[str, Any]]:
    """``size`` distinct payloads to cycle through."""
    return [tool_call(i) for i in range(size)]
