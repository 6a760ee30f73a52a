"""Ops commands show the verifier's progress bar on a terminal (stderr) and nothing when piped."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcp_bridge.audit.ops.quarantine import quarantine
from mcp_bridge.audit.ops.trail import RunOptions, parse_location

from ..conftest import DAYS, REPO, build_log
from ..terminal import run_on_a_pty, run_piped

# Runs `locate` with the "long run" threshold lowered so a small log counts as long.
_SCRIPT = (
    "import sys; from mcp_bridge.audit import cli_support; from mcp_bridge.audit.ops import locate;"
    "cli_support._PROGRESS_MIN_BYTES = 0; sys.exit(locate.main(sys.argv[1:]))"
)


def _run_on_a_pty(args: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    return run_on_a_pty([sys.executable, "-c", _SCRIPT, *args], env, REPO)


@pytest.mark.parametrize("as_json", [False, True])
def test_locate_progress_on_a_terminal_only_without_json(
    tmp_path: Path, cli_env: dict[str, str], as_json: bool
) -> None:
    build_log(tmp_path / "audit", DAYS, 200)
    args = [str(tmp_path / "audit"), *(["--json"] if as_json else [])]
    code, out, terminal = _run_on_a_pty(args, cli_env)
    assert code == 0
    assert (b"verifying" in terminal) is not as_json
    assert out.startswith(b"{" if as_json else b"no failure: verified: 600 events")


@pytest.mark.parametrize("as_json", [False, True])
def test_drill_progress_on_a_terminal_only_without_json(
    tmp_path: Path, cli_env: dict[str, str], as_json: bool
) -> None:
    build_log(tmp_path / "backup", DAYS, 200)
    script = _SCRIPT.replace("import locate", "import drill").replace("locate.main", "drill.main")
    args = [str(tmp_path / "backup"), "--days", "3", *(["--json"] if as_json else [])]
    env = {**cli_env, "AUDIT_OPS_RECORDS_PATH": str(tmp_path / "ops")}
    code, out, terminal = run_on_a_pty([sys.executable, "-c", script, *args], env, REPO)
    assert code == 0, out
    assert (b"verifying" in terminal) is not as_json
    assert out.startswith(b"{" if as_json else b"drill from ")


def test_no_progress_when_piped(tmp_path: Path, cli_env: dict[str, str]) -> None:
    build_log(tmp_path / "audit", DAYS, 50)
    code, stderr = run_piped(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "audit")], cli_env, REPO
    )
    assert code == 0 and stderr == b""


def test_quarantine_reports_the_bytes_it_copies(tmp_path: Path) -> None:
    """The copy phase moves the progress bar by each item's bytes, up to the store's size
    (each call comes after one more copy; the verification afterwards reports on its own)."""
    build_log(tmp_path / "audit", DAYS, 20)
    forensic = tmp_path / "f"
    seen: list[tuple[int, int, int]] = []

    def update(done: int, total: int) -> None:
        copies = len(list(forensic.rglob("*.jsonl@*")))
        seen.append((done, total, copies))

    source = parse_location(str(tmp_path / "audit"))
    target = parse_location(str(forensic), must_exist=False)
    quarantine(source, target, s3=RunOptions(progress=update))
    size = sum(path.stat().st_size for path in (tmp_path / "audit").rglob("*.jsonl"))
    copying = seen[: len(DAYS)]
    assert [copies for _, _, copies in copying] == [1, 2, 3]
    assert [total for _, total, _ in copying] == [size] * len(DAYS)
    assert copying[-1][0] == size and copying[0][0] < copying[1][0] < size
