"""Replay (timelines, intent/outcome pairing) and the DR drill on a real local store."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_bridge.audit import LocalAuditTrail

from ..conftest import DAYS, Clock, Log
from .helpers import audit, timeline_plan, tree


@pytest.fixture
def timeline_log(tmp_path: Path) -> Log:
    clock = Clock(datetime(2025, 10, 24, 12, tzinfo=UTC))
    records = []
    with LocalAuditTrail(tmp_path / "audit", clock=clock) as trail:
        for event_type, payload in timeline_plan():
            records.append(trail.record_event(event_type, payload))
            clock.advance(seconds=1)
    return Log(tmp_path / "audit", records)


def test_replay_by_correlation_id_is_exactly_that_request_in_order(
    timeline_log: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    done = audit(capsys, "replay", str(timeline_log.root), "--correlation-id", "c-1", "--json")
    assert done.code == 0, done.out
    events = done.json["events"]
    assert [e["seq"] for e in events] == [0, 3]
    assert [e["phase"] for e in events] == ["intent", "outcome"]
    assert events[0]["pairedWith"] == 3 and events[1]["pairedWith"] == 0
    assert all(e["verified"] for e in events) and done.json["flagged"] == []


def test_an_intent_without_outcome_is_flagged(
    timeline_log: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    done = audit(capsys, "replay", str(timeline_log.root), "--subject", "alice")
    assert done.code == 1
    assert "flagged: seq 2: intent_without_outcome" in done.out
    as_json = audit(capsys, "replay", str(timeline_log.root), "--session", "s-1", "--json").json
    assert as_json["flagged"] == [
        {"seq": 2, "flag": "intent_without_outcome", "eventId": timeline_log.records[2]["eventId"]}
    ]


def test_replay_by_tool_and_upstream(timeline_log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    done = audit(
        capsys, "replay", str(timeline_log.root), "--tool", "time__get_current_time", "--json"
    )
    assert [e["seq"] for e in done.json["events"]] == [4, 5] and done.code == 0
    upstream = audit(capsys, "replay", str(timeline_log.root), "--upstream", "git", "--json")
    assert [e["seq"] for e in upstream.json["events"]] == [0, 2, 3, 4, 5]


def test_events_after_a_tampered_record_are_not_marked_verified(
    timeline_log: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    day = timeline_log.file_of(DAYS[1])
    day.write_bytes(day.read_bytes().replace(b'"requestId":2', b'"requestId":7'))
    done = audit(capsys, "replay", str(timeline_log.root), "--session", "s-1", "--json")
    assert done.code == 1
    marks = {e["seq"]: e["verified"] for e in done.json["events"]}
    assert marks == {0: True, 1: True, 2: False, 3: False, 4: False, 5: False}


def test_replay_without_a_filter_is_a_usage_error(
    timeline_log: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    done = audit(capsys, "replay", str(timeline_log.root))
    assert done.code == 2 and "--correlation-id" in done.err


def test_drill_restores_a_sample_verifies_it_and_leaves_no_scratch_data(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str], ops_records: Path
) -> None:
    backup, scratch = tmp_path / "backup", tmp_path / "scratch"
    shutil.copytree(log3.root, backup)
    scratch.mkdir()
    (scratch / "keep.txt").write_text("not the drill's")
    before = tree(backup)
    done = audit(
        capsys,
        "drill",
        str(backup),
        "--days",
        "2",
        "--seed",
        "7",
        "--scratch",
        str(scratch),
        "--json",
    )
    assert done.code == 0, done.out + done.err
    result = done.json
    assert len(result["sample"]) == 2 and result["files"] == 2 and result["cleanedUp"]
    assert result["verification"]["ok"] and result["verification"]["checkedEvents"] == 20
    assert set(result["timings"]) == {"restoreSeconds", "verifySeconds", "totalSeconds"}
    assert [p.name for p in scratch.iterdir()] == ["keep.txt"], "only its own scratch removed"
    assert tree(backup) == before
    record = json.loads(Path(result["drillRecord"]).read_text())
    assert record["command"] == "drill" and record["result"]["sample"] == result["sample"]


def test_a_drill_on_a_damaged_backup_fails_and_still_cleans_up(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = log3.lines(DAYS[0])
    lines[4] = lines[4].replace(b'"i":4', b'"i":5')
    log3.write_lines(DAYS[0], lines)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = audit(capsys, "drill", str(log3.root), "--days", "3", "--scratch", str(scratch))
    assert done.code == 1 and "hash_mismatch" not in done.out  # the summary line is enough
    assert "FAILED with 1 failure(s)" in done.out and "scratch copies removed: yes" in done.out
    assert list(scratch.iterdir()) == []


def test_a_drill_scratch_directory_inside_the_backup_is_refused(
    log3: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree(log3.root)
    done = audit(capsys, "drill", str(log3.root), "--scratch", str(log3.root / "2025"))
    assert done.code == 2 and "overlaps the backup" in done.err
    assert tree(log3.root) == before


def test_drill_of_a_missing_backup_is_exit_2(tmp_path: Path, capsys) -> None:
    done = audit(capsys, "drill", str(tmp_path / "nowhere"))
    assert done.code == 2 and "does not exist" in done.err
