"""Issue 8: bad input gets a clear error and its documented exit code, never a hang or traceback."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from mcp_bridge.audit import Reason, verify_audit_trail
from mcp_bridge.audit.cli_support import run_cli

from ..conftest import DAYS, PYTHON, Log, build_log, run_module


def verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_module("mcp_bridge.audit.verify", *args, env=env, timeout=60)


def test_a_fifo_as_a_day_file_is_reported_not_opened(log3: Log, cli_env: dict[str, str]) -> None:
    path = log3.file_of(DAYS[1])
    path.unlink()
    os.mkfifo(path)
    done = verify(cli_env, str(log3.root))  # would block forever if the FIFO were opened
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"unexpected_file: {path}: a FIFO found where a partition file belongs" in done.stdout


def test_a_symlink_to_dev_zero_is_reported_not_read(log3: Log, cli_env: dict[str, str]) -> None:
    path = log3.file_of(DAYS[2])
    path.unlink()
    path.symlink_to("/dev/zero")
    done = verify(cli_env, str(log3.root), "--start", "2025/10/24")
    assert done.returncode == 1
    assert f"unexpected_file: {path}: a symbolic link to a device found" in done.stdout


def test_an_over_long_line_is_reported_with_bounded_reading(log3: Log) -> None:
    lines = log3.lines(DAYS[1])
    lines.insert(4, b"x" * 3_000_000 + b"\n")
    log3.write_lines(DAYS[1], lines)
    result = verify_audit_trail(log3.root, parallel=False)
    first = result.earliest_failure
    assert first is not None
    assert (first.reason, first.line, first.offset) == (
        Reason.RECORD_TOO_LARGE,
        5,
        sum(len(line) for line in lines[:4]),
    )
    assert "3,000,001 bytes" in first.message and "1,048,576" in first.message
    assert first.location == str(log3.file_of(DAYS[1]))


def test_the_maximum_record_size_is_configurable(log3: Log, cli_env: dict[str, str]) -> None:
    done = verify(cli_env, str(log3.root), "--max-record-bytes", "100")
    assert done.returncode == 1
    assert "record_too_large" in done.stdout and "maximum record size of 100 bytes" in done.stdout
    assert verify(cli_env, str(log3.root), "--max-record-bytes", "0").returncode == 2


def test_a_symlink_loop_is_exit_3_with_path_and_reason(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    log = build_log(tmp_path / "audit", DAYS, 2)
    loop = log.root / "2024"
    loop.symlink_to(loop)
    done = verify(cli_env, str(log.root))
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert f"cannot read {loop}: Too many levels of symbolic links" in done.stderr
    env = {**cli_env, "AUDIT_STORAGE_PATH": str(log.root)}
    jobs = run_module("mcp_bridge.audit.jobs", env=env, cwd=tmp_path)
    assert jobs.returncode == 3 and "Traceback" not in jobs.stderr
    assert f"cannot read {loop}: Too many levels of symbolic links" in jobs.stderr
    located = run_module("mcp_bridge.audit.incident", "locate", str(log.root), env=cli_env)
    assert located.returncode == 3 and "Traceback" not in located.stderr
    assert f"cannot read {loop}: Too many levels of symbolic links" in located.stderr


def test_any_os_error_in_a_command_is_exit_3_with_path_and_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The shared runner of verify, jobs, incident and preflight (an EIO cannot be caused)."""

    def body() -> int:
        raise OSError(errno.EIO, "Input/output error", "/srv/audit/2025/10/24.jsonl")

    assert run_cli(body, verbose=False) == 3
    err = capsys.readouterr().err
    assert err == "error: cannot read /srv/audit/2025/10/24.jsonl: Input/output error\n"


def test_a_closed_pipe_ends_quietly(tmp_path: Path, cli_env: dict[str, str]) -> None:
    log = build_log(tmp_path / "audit", DAYS[:1], 1500)
    path = log.file_of(DAYS[0])
    path.write_bytes(path.read_bytes().replace(b'"test.event"', b'"test.EVENT"'))
    done = subprocess.run(
        f"{PYTHON} -m mcp_bridge.audit.verify {log.root} --max-failures 5000 | head -1",
        shell=True,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.startswith("FAILED: earliest failing record: hash_mismatch")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
