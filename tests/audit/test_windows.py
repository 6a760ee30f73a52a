"""Issue 8: a window is proven at both ends, and a location without a log is not a verified log.

Real directories written by the real trail; every case asserts the exit code or ``ok``, the
reason code and the named location (file, line, seq).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from mcp_bridge.audit import LocalAuditTrail, Reason, verify_audit_trail

from ..conftest import DAYS, Clock, Log, run_module

NEXT_DAY = "2025/10/26"


def verify(env: dict[str, str], *args: str, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    extra = {"cwd": cwd} if cwd is not None else {}
    return run_module("mcp_bridge.audit.verify", *args, env=env, **extra)


def test_an_intact_window_says_how_it_was_anchored_and_closed(log3: Log) -> None:
    result = verify_audit_trail(log3.root, start="2025/10/24", end="2025/10/24")
    assert result.ok, result.render_text()
    day23, day25 = log3.file_of(DAYS[0]), log3.file_of(DAYS[2])
    assert result.anchored_by.startswith(f"anchored on seq 9 ({day23})")
    assert result.closed_by == f"closed by seq 20 in {day25} line 1"
    whole = verify_audit_trail(log3.root)
    assert whole.closed_by == "the window reaches the end of the log"
    assert "beginning of the log" in whole.anchored_by


def test_deleting_the_last_record_of_the_window_is_found_at_the_window_end(log3: Log) -> None:
    lines = log3.lines(DAYS[1])
    log3.write_lines(DAYS[1], lines[:-1])
    result = verify_audit_trail(log3.root, start="2025/10/23", end="2025/10/24")
    first = result.earliest_failure
    assert not result.ok and first is not None
    assert (first.reason, first.seq, first.line) == (Reason.SEQ_GAP, 18, 9)
    assert first.location == str(log3.file_of(DAYS[1]))
    assert "seq 19..19 missing" in first.message
    assert first.related == (f"{log3.file_of(DAYS[2])} line 1 (seq 20)",)


def test_deleting_the_whole_last_day_of_the_window_is_found(
    log3: Log, cli_env: dict[str, str]
) -> None:
    log3.file_of(DAYS[1]).unlink()
    done = verify(cli_env, str(log3.root), "--start", "2025/10/23", "--end", "2025/10/24")
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert "missing_partition" in first and "seq 10..19 missing" in first
    assert f"{log3.file_of(DAYS[2])}, line 1, seq 20" in first


def test_an_empty_window_is_closed_against_its_anchor(log3: Log) -> None:
    lines = log3.lines(DAYS[2])
    log3.write_lines(DAYS[2], lines[1:])  # seq 20 deleted: the record after the window
    ok = verify_audit_trail(log3.root, start="2025/10/24", end="2025/10/24")
    assert not ok.ok and ok.failures[0].reason is Reason.SEQ_GAP
    empty = verify_audit_trail(log3.root, start="2025/11/01", end="2025/11/02")
    assert empty.ok and empty.anchored_by.startswith("anchored on seq 29")


def test_garbage_before_the_window_is_an_anchoring_failure(log3: Log) -> None:
    lines = log3.lines(DAYS[1])
    lines[-1] = b"not a record\n"
    log3.write_lines(DAYS[1], lines)
    result = verify_audit_trail(log3.root, start="2025/10/25")
    first = result.earliest_failure
    assert first is not None
    assert (first.reason, first.line) == (Reason.WINDOW_ANCHOR, 10)
    assert first.location == str(log3.file_of(DAYS[1]))
    assert result.anchored_by.startswith(f"anchored on seq 18 ({log3.file_of(DAYS[1])} line 9)")
    assert Reason.MISSING_PARTITION not in {f.reason for f in result.failures}


def _tear_and_recover(log3: Log) -> None:
    """A write torn at the end of 2025/10/25, recovered by a writer on the next day."""
    path = log3.file_of(DAYS[2])
    path.write_bytes(path.read_bytes() + b'{"v":1,"previousHash":"ab')
    clock = Clock(datetime(2025, 10, 26, 1, tzinfo=UTC))
    with LocalAuditTrail(log3.root, clock=clock) as trail:
        trail.record_event("next.day", {})


def test_a_torn_write_recovered_on_a_later_day_closes_the_window(log3: Log) -> None:
    _tear_and_recover(log3)
    ending = verify_audit_trail(log3.root, end="2025/10/25")
    assert ending.ok, ending.render_text()
    assert [note.kind for note in ending.notes] == ["crash_recovery"]
    assert ending.last_seq == 29 and "seq 30" in ending.closed_by
    starting = verify_audit_trail(log3.root, start=NEXT_DAY)
    assert starting.ok, starting.render_text()
    assert [note.kind for note in starting.notes] == ["crash_recovery"]


def test_an_unexplained_torn_tail_before_the_window_is_reported(log3: Log) -> None:
    path = log3.file_of(DAYS[1])
    path.write_bytes(path.read_bytes() + b'{"v":1,"prev')
    result = verify_audit_trail(log3.root, start="2025/10/25")
    first = result.earliest_failure
    assert first is not None and (first.reason, first.line) == (Reason.WINDOW_ANCHOR, 11)


def test_a_location_without_a_store_is_empty_store(tmp_path: Path, cli_env: dict[str, str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello\n")
    for where in (empty, tmp_path / "other"):
        done = verify(cli_env, str(where), "--json")
        report = json.loads(done.stdout)
        assert done.returncode == 1
        assert [f["reason"] for f in report["failures"]] == ["empty_store"]
        assert report["failures"][0]["location"] == str(where)
        assert "YYYY/MM/DD.jsonl" in report["failures"][0]["message"]
    blank = verify(cli_env, "", cwd=empty)
    assert blank.returncode == 1 and "empty_store" in blank.stdout
    allowed = verify(cli_env, str(empty), "--allow-empty")
    assert allowed.returncode == 0 and "verified: 0 events" in allowed.stdout


def test_an_empty_window_of_a_real_store_stays_green(log3: Log, cli_env: dict[str, str]) -> None:
    done = verify(cli_env, str(log3.root), "--start", "2026/01/01", "--end", "2026/01/31")
    assert done.returncode == 0
    assert "window start: anchored on seq 29" in done.stdout
    assert "window end: the window reaches the end of the log" in done.stdout
