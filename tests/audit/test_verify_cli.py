"""``python -m mcp_bridge.audit.verify`` as operators run it (runbook §2 and §4)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ..conftest import DAYS, REPO, Log, build_log, run_module


def verify(env: dict[str, str], *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return run_module("mcp_bridge.audit.verify", *args, env=env, cwd=cwd)


def test_runbook_local_command_verbatim(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """Runbook §2: ``python -m mcp_bridge.audit.verify var/audit --start ... --end ...``."""
    build_log(tmp_path / "var" / "audit", DAYS, 10)
    done = verify(
        cli_env, "var/audit", "--start", "2025/10/24", "--end", "2025/10/25", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("verified: 20 events in window 2025/10/24..2025/10/25")
    assert "seq 10..29" in done.stdout


def test_runbook_replay_after_restore(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """Runbook §4 'Restore / audit replay': verify --start ... --end ... after a restore."""
    log = build_log(tmp_path / "var" / "audit", DAYS, 10)
    backup = log.file_of(DAYS[1]).read_bytes()
    log.file_of(DAYS[1]).unlink()
    broken = verify(
        cli_env, "var/audit", "--start", "2025/10/23", "--end", "2025/10/25", cwd=tmp_path
    )
    assert broken.returncode == 1 and "missing_partition" in broken.stdout.splitlines()[0]
    log.file_of(DAYS[1]).write_bytes(backup)
    restored = verify(
        cli_env, "var/audit", "--start", "2025/10/23", "--end", "2025/10/25", cwd=tmp_path
    )
    assert restored.returncode == 0 and "verified: 30 events" in restored.stdout


def test_runbook_replay_command_as_written_verifies_the_configured_trail(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """Runbook §4 prints ``python -m mcp_bridge.audit.verify --start ... --end ...`` with no
    path: it verifies the configured trail (``AUDIT_STORAGE_PATH``, default ``var/audit``)."""
    log = build_log(tmp_path / "var" / "audit", DAYS, 10)
    window = ("--start", "2025/10/24", "--end", "2025/10/25")
    done = verify(cli_env, *window, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "verified: 20 events in window 2025/10/24..2025/10/25 of var/audit"
    )
    log.file_of(DAYS[1]).unlink()
    elsewhere = {**cli_env, "AUDIT_STORAGE_PATH": str(log.root)}
    broken = verify(elsewhere, *window)
    assert broken.returncode == 1 and "missing_partition" in broken.stdout
    misuse = verify(cli_env, *window, "--object-lock-days", "1", cwd=tmp_path)
    assert misuse.returncode == 2 and "only apply to s3:// locations" in misuse.stderr
    bad = verify({**cli_env, "AUDIT_STORAGE_BACKEND": "ftp"}, *window, cwd=tmp_path)
    assert bad.returncode == 2 and "AUDIT_STORAGE_BACKEND=ftp" in bad.stderr


TAMPERS = {
    "edited_field": (
        1,
        3,
        lambda ls: ls.__setitem__(3, ls[3].replace(b'"i":3', b'"i":4')),
        "hash_mismatch",
        13,
    ),
    "deleted_line": (1, 5, lambda ls: ls.__delitem__(5), "seq_gap", 16),
    "swapped_lines": (
        1,
        2,
        lambda ls: ls.__setitem__(slice(2, 4), [ls[3], ls[2]]),
        "seq_out_of_order",
        13,
    ),
    "non_json": (1, 4, lambda ls: ls.__setitem__(4, b"{oops\n"), "invalid_json", None),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tamper_through_the_cli_names_the_earliest_record(
    case: str, log3: Log, cli_env: dict[str, str]
) -> None:
    day_index, line_index, change, reason, seq = TAMPERS[case]
    lines = log3.lines(DAYS[day_index])
    change(lines)
    log3.write_lines(DAYS[day_index], lines)
    done = verify(cli_env, str(log3.root))
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"FAILED: earliest failing record: {reason}: ")
    assert "2025/10/24.jsonl" in first and f"line {line_index + 1}" in first
    if seq is not None:
        assert f"seq {seq}" in first


def test_deleted_days_through_the_cli(log3: Log, cli_env: dict[str, str]) -> None:
    log3.file_of(DAYS[1]).unlink()
    middle = verify(cli_env, str(log3.root))
    assert middle.returncode == 1
    assert "missing_partition" in middle.stdout.splitlines()[0] and "seq 20" in middle.stdout
    log3.file_of(DAYS[0]).unlink()
    oldest = verify(cli_env, str(log3.root))
    assert oldest.returncode == 1 and "seq 0..19" in oldest.stdout.splitlines()[0]


def test_two_tampers_reported_earliest_first_in_json(log3: Log, cli_env: dict[str, str]) -> None:
    for day, index in ((DAYS[2], 1), (DAYS[0], 8)):
        lines = log3.lines(day)
        lines[index] = lines[index].replace(b'"test.event"', b'"test.EVENT"')
        log3.write_lines(day, lines)
    done = verify(cli_env, str(log3.root), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["schema"] == "mcp-bridge/verification-report/v1"
    assert [(f["reason"], f["seq"]) for f in report["failures"]] == [
        ("hash_mismatch", 8),
        ("hash_mismatch", 21),
    ]
    assert report["failureCount"] == 2 and report["checkedEvents"] == 30


def test_window_starting_mid_chain_verifies(log3: Log, cli_env: dict[str, str]) -> None:
    done = verify(cli_env, str(log3.root), "--start", "2025/10/25", "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["firstSeq"] == 20 and report["checkedEvents"] == 10


def test_record_deleted_just_before_the_window_is_reported(
    log3: Log, cli_env: dict[str, str]
) -> None:
    lines = log3.lines(DAYS[1])
    log3.write_lines(DAYS[1], lines[:-1])
    done = verify(cli_env, str(log3.root), "--start", "2025/10/25")
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert "seq_gap" in first and "seq 19..19 missing" in first
    assert "2025/10/24.jsonl" in first and "2025/10/25.jsonl line 1 (seq 20)" in first


def test_window_without_predecessor_partition_is_reported(
    log3: Log, cli_env: dict[str, str]
) -> None:
    log3.file_of(DAYS[0]).unlink()
    log3.file_of(DAYS[1]).unlink()
    done = verify(cli_env, str(log3.root), "--start", "2025/10/25")
    assert done.returncode == 1
    assert "no partition before the window holds seq 0..19" in done.stdout


def test_missing_day_inside_window(tmp_path: Path, cli_env: dict[str, str]) -> None:
    log = build_log(tmp_path / "audit", DAYS, 5)
    log.file_of(DAYS[1]).unlink()
    done = verify(cli_env, str(log.root), "--start", "2025/10/23", "--end", "2025/10/25")
    assert done.returncode == 1 and "missing_partition" in done.stdout.splitlines()[0]


def test_quiet_day_is_not_a_failure(tmp_path: Path, cli_env: dict[str, str]) -> None:
    build_log(tmp_path / "audit", [DAYS[0], DAYS[2]], 5)
    done = verify(cli_env, str(tmp_path / "audit"), "--start", "2025/10/23", "--end", "2025/10/25")
    assert done.returncode == 0 and "verified: 10 events" in done.stdout


def test_empty_window_is_ok_with_a_note(log3: Log, cli_env: dict[str, str]) -> None:
    done = verify(cli_env, str(log3.root), "--start", "2026/01/01", "--end", "2026/01/31")
    assert done.returncode == 0
    assert "0 events" in done.stdout and "no records in this window" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2025-10-24"], "not a date in the form YYYY/MM/DD"),
        (["--start", "2025/02/30"], "not a valid date"),
        (["--start", "2025/10/25", "--end", "2025/10/24"], "is after --end"),
        (["--max-failures", "0"], "not a whole number"),
        (["--object-lock-mode", "strict"], "invalid choice"),
        (["--object-lock-days", "30"], "only apply to s3:// locations"),
    ],
)
def test_usage_errors_exit_2_with_a_reason(
    args: list[str], message: str, log3: Log, cli_env: dict[str, str]
) -> None:
    done = verify(cli_env, str(log3.root), *args)
    assert done.returncode == 2
    assert message in done.stderr and "usage:" in done.stderr
    assert done.stdout == ""


def test_nonexistent_path_exits_2(tmp_path: Path, cli_env: dict[str, str]) -> None:
    done = verify(cli_env, str(tmp_path / "nope"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: audit path {tmp_path / 'nope'} does not exist"


def test_folder_in_place_of_a_day_file_is_unexpected_file(
    log3: Log, cli_env: dict[str, str]
) -> None:
    path = log3.file_of(DAYS[1])
    path.unlink()
    path.mkdir()
    done = verify(cli_env, str(log3.root))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"unexpected_file: {path}: a directory found" in done.stdout


def test_help_documents_exit_codes(cli_env: dict[str, str]) -> None:
    done = verify(cli_env, "--help")
    assert done.returncode == 0 and "3 storage unreachable or unreadable" in done.stdout
