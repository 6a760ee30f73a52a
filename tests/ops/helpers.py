"""Running ops commands in-process, as ``python -m mcp_bridge.audit <command>`` would."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit.commands import run


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def audit(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    capsys.readouterr()
    code = run(list(argv))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def tree(root: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every file below ``root`` (what "untouched" compares)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def call(
    correlation: str, phase: str, *, tool: str = "git__git_commit", request: int = 1
) -> dict[str, Any]:
    """A payload shaped like the bridge's middleware writes it (see bridge/middleware.py)."""
    payload: dict[str, Any] = {
        "correlationId": correlation,
        "identity": {"subject": "alice" if correlation != "c-bob" else "bob"},
        "method": "tools/call",
        "requestId": request,
        "sessionId": "s-1",
        "upstream": "git",
        "target": {"kind": "tool", "name": tool, "upstreamName": tool.split("__")[-1]},
        "mutating": True,
    }
    if phase == "intent":
        payload["decision"] = {"outcome": "pending", "reason": "mutating tool"}
    else:
        payload["decision"] = {"outcome": "allowed", "reason": "mutating tool"}
    return payload


def timeline_plan() -> list[tuple[str, dict[str, Any]]]:
    """Three requests interleaved; c-lost's intent never gets an outcome (a crash mid-call)."""
    return [
        ("mcp.tools.call.intent", call("c-1", "intent")),
        (
            "mcp.tools.list",
            {"correlationId": "c-other", "sessionId": "s-1", "method": "tools/list"},
        ),
        ("mcp.tools.call.intent", call("c-lost", "intent", request=2)),
        ("mcp.tools.call", call("c-1", "outcome")),
        ("mcp.tools.call.intent", call("c-bob", "intent", tool="time__get_current_time")),
        ("mcp.tools.call", call("c-bob", "outcome", tool="time__get_current_time")),
    ]
