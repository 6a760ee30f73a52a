"""``python -m mcp_bridge.audit.jobs`` and ``run_scheduled_verification``."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mcp_bridge.audit.errors import AuditUsageError
from mcp_bridge.audit.jobs import run_scheduled_verification
from mcp_bridge.config import AppConfig, load_config

from ..conftest import PYTHON, Log, build_log, run_module
from ..terminal import run_on_a_pty


def _config(log_root: Path, reports: Path, lookback: int = 1, **extra: object) -> AppConfig:
    return load_config(
        audit_storage_path=log_root,
        audit_verify_report_dir=reports,
        audit_verify_lookback_days=lookback,
        **extra,
    )


@pytest.mark.parametrize(
    ("now", "lookback", "window"),
    [
        (datetime(2026, 11, 27, 3, tzinfo=UTC), 2, ("2026/11/26", "2026/11/27")),
        (datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC), 2, ("2026/02/28", "2026/03/01")),
        (datetime(2024, 3, 1, 12, tzinfo=UTC), 2, ("2024/02/29", "2024/03/01")),
        (datetime(2026, 1, 1, 0, 30, tzinfo=UTC), 3, ("2025/12/30", "2026/01/01")),
        (datetime(2026, 1, 1, 23, 59, tzinfo=UTC), 1, ("2026/01/01", "2026/01/01")),
    ],
)
def test_window_across_month_and_year_boundaries(
    tmp_path: Path, now: datetime, lookback: int, window: tuple[str, str]
) -> None:
    build_log(tmp_path / "audit", [date(2025, 12, 30), date(2026, 1, 1)], 2)
    config = _config(tmp_path / "audit", tmp_path / "reports", lookback)
    outcome = run_scheduled_verification(config, reference_time=now)
    assert (outcome.start_key, outcome.end_key) == window
    assert outcome.ok


def test_report_archived_and_two_runs_make_two_reports(log3: Log, tmp_path: Path) -> None:
    config = _config(log3.root, tmp_path / "reports", 2)
    now = datetime(2025, 10, 25, 23, tzinfo=UTC)
    first = run_scheduled_verification(config, reference_time=now)
    second = run_scheduled_verification(config, reference_time=now)
    assert first.line() == "Audit verification window 2025/10/24..2025/10/25: verified 20 events"
    assert first.report_path is not None and second.report_path is not None
    assert first.report_path != second.report_path
    reports = sorted((tmp_path / "reports").iterdir())
    assert len(reports) == 2
    saved = json.loads(reports[0].read_text())
    assert saved["result"]["checkedEvents"] == 20 and saved["window"]["start"] == "2025/10/24"


def test_report_dir_inside_the_store_is_refused(log3: Log) -> None:
    config = _config(log3.root, log3.root / "reports")
    with pytest.raises(AuditUsageError, match="inside the audit store"):
        run_scheduled_verification(config, reference_time=datetime(2025, 10, 25, tzinfo=UTC))


def _jobs(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module("mcp_bridge.audit.jobs", *args, env=env, cwd=cwd)


def test_runbook_jobs_command_verbatim(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """Runbook §2: ``python -m mcp_bridge.audit.jobs`` with the environment's AppConfig."""
    today = datetime.now(UTC).date()
    build_log(tmp_path / "var" / "audit", [today], 7)
    done = _jobs(cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"Audit verification window {today:%Y/%m/%d}..{today:%Y/%m/%d}: verified 7 events"
    )
    assert len(list((tmp_path / "var" / "audit-reports").iterdir())) == 1


def _tampered_today(root: Path) -> date:
    """Five records today in ``root``, the third one edited after it was written."""
    today = datetime.now(UTC).date()
    log = build_log(root, [today], 5)
    lines = log.lines(today)
    lines[2] = lines[2].replace(b'"i":2', b'"i":3')
    log.write_lines(today, lines)
    return today


def test_jobs_failure_exits_1_with_the_earliest_failure(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    _tampered_today(tmp_path / "var" / "audit")
    done = _jobs(cli_env, tmp_path)
    assert done.returncode == 1
    assert "hash_mismatch" in done.stdout.splitlines()[0] and "seq 2" in done.stdout
    [report] = (tmp_path / "var" / "audit-reports").iterdir()
    assert report.name.endswith("-failed.json")


def test_jobs_json_is_one_document_with_the_failure(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    today = _tampered_today(tmp_path / "var" / "audit")
    done = _jobs(cli_env, tmp_path, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["summary"].startswith(f"Audit verification window {today:%Y/%m/%d}")
    assert report["result"]["ok"] is False
    assert report["result"]["failures"][0]["reason"] == "hash_mismatch"
    [archived] = (tmp_path / "var" / "audit-reports").iterdir()
    assert json.loads(archived.read_text())["summary"] == report["summary"]


@pytest.mark.parametrize("as_json", [False, True])
def test_jobs_progress_on_a_terminal_only_without_json(
    tmp_path: Path, cli_env: dict[str, str], as_json: bool
) -> None:
    build_log(tmp_path / "var" / "audit", [datetime.now(UTC).date()], 50)
    script = (  # the "long run" threshold lowered so a small log counts as long
        "import sys; from mcp_bridge.audit import cli_support, jobs;"
        "cli_support._PROGRESS_MIN_BYTES = 0; sys.exit(jobs.main(sys.argv[1:]))"
    )
    args = ["--json"] if as_json else []
    code, out, terminal = run_on_a_pty([PYTHON, "-c", script, *args], cli_env, tmp_path)
    assert code == 0, out
    assert (b"verifying" in terminal) is not as_json
    assert out.startswith(b"{" if as_json else b"Audit verification window")


def test_jobs_disabled(tmp_path: Path, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "AUDIT_ENABLED": "false"}
    done = _jobs(env, tmp_path)
    assert done.returncode == 0 and "disabled" in done.stdout
    production = _jobs({**env, "ENVIRONMENT": "production"}, tmp_path)
    assert production.returncode == 1 and "must be enabled in production" in production.stderr


def test_an_out_of_range_lookback_exits_2_naming_the_range(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    done = _jobs({**cli_env, "AUDIT_VERIFY_LOOKBACK_DAYS": "100000000"}, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "AUDIT_VERIFY_LOOKBACK_DAYS=100000000" in done.stderr
    assert "allowed: 1..3660" in done.stderr


def test_jobs_bad_configuration_exits_2(tmp_path: Path, cli_env: dict[str, str]) -> None:
    done = _jobs({**cli_env, "AUDIT_VERIFY_LOOKBACK_DAYS": "0"}, tmp_path)
    assert done.returncode == 2 and "AUDIT_VERIFY_LOOKBACK_DAYS=0" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_store_never_written_is_empty_store_unless_allowed(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (tmp_path / "var" / "audit").mkdir(parents=True)
    done = _jobs(cli_env, tmp_path)
    assert done.returncode == 1 and "empty_store" in done.stdout
    assert "var/audit" in done.stdout and "Traceback" not in done.stderr
    allowed = _jobs(cli_env, tmp_path, "--allow-empty")
    assert allowed.returncode == 0
    assert "verified 0 events (no records in the window)" in allowed.stdout


def test_weekly_month_window_is_a_plain_verify(log3: Log) -> None:
    from mcp_bridge.audit import verify_audit_trail

    result = verify_audit_trail(log3.root, start="2025/10/01", end="2025/10/31")
    assert result.ok and result.checked_events == 30
