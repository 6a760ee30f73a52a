"""The progress bar: drawn on a terminal for long runs, absent when output is piped."""

from __future__ import annotations

import sys
from pathlib import Path

from ..conftest import DAYS, REPO, build_log
from ..terminal import run_on_a_pty, run_piped

# Runs the CLI with the "long run" threshold lowered so a small log counts as long.
_SCRIPT = (
    "import sys; from mcp_bridge.audit import cli_support, verify;"
    "cli_support._PROGRESS_MIN_BYTES = 0; sys.exit(verify.main(sys.argv[1:]))"
)


def test_progress_bar_on_a_terminal(tmp_path: Path, cli_env: dict[str, str]) -> None:
    build_log(tmp_path / "audit", DAYS, 200)
    code, out, seen = run_on_a_pty(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "audit")], cli_env, REPO
    )
    assert code == 0
    assert b"verifying" in seen
    assert out.startswith(b"verified: 600 events")


def test_no_progress_output_when_piped(tmp_path: Path, cli_env: dict[str, str]) -> None:
    build_log(tmp_path / "audit", DAYS, 50)
    code, stderr = run_piped(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "audit")], cli_env, REPO
    )
    assert code == 0 and stderr == b""
