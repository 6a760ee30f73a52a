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
