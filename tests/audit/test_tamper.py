"""Every tamper case is detected, located (file, line, seq) and reported earliest first."""

from __future__ import annotations

import json

import pytest

from mcp_bridge.audit import Reason, verify_audit_trail
from mcp_bridge.audit.records import encode_body, encode_json, seal

from ..conftest import DAYS, Log


def _forge(line: bytes, **changes: object) -> bytes:
    """Re-seal a record with changed payload fields: what an attacker with the format does."""
    record = json.loads(line)
    record["payload"].update(changes)
    body = encode_body(
        seq=record["seq"],
        previous_hash=record["previousHash"],
        timestamp=record["timestamp"],
        event_id=record["eventId"],
        event_type=record["eventType"],
        payload=encode_json(record["payload"]),
    )
    return seal(body)[1]


def test_untouched_log_verifies(log3: Log) -> None:
    result = verify_audit_trail(log3.root)
    assert result.ok, result.render_text()
    assert (result.checked_events, result.first_seq, result.last_seq) == (30, 0, 29)
    assert result.partitions == ["2025/10/23", "2025/10/24", "2025/10/25"]


def test_edited_field_is_a_hash_mismatch_at_that_line(log3: Log) -> None:
    lines = log3.lines(DAYS[1])
    lines[3] = lines[3].replace(b'"i":3', b'"i":7')
    log3.write_lines(DAYS[1], lines)
    result = verify_audit_trail(log3.root)
    first = result.earliest_failure
    assert first is not None and not result.ok
    assert (first.reason, first.line, first.seq) == (Reason.HASH_MISMATCH, 4, 13)
    assert first.location.endswith("2025/10/24.jsonl")
    assert first.event_id == log3.records[13]["eventId"]
    assert result.failure_count == 1


def test_edited_field_with_recomputed_hash_breaks_the_next_link(log3: Log) -> None:
    lines = log3.lines(DAYS[1])
    lines[3] = _forge(lines[3], i=99)
    log3.write_lines(DAYS[1], lines)
    result = verify_audit_trail(log3.root)
    first = result.earliest_failure
    assert first is not None
    assert (first.reason, first.line, first.seq) == (Reason.BROKEN_LINK, 5, 14)
    assert any("seq 13" in item for item in first.related)
    assert result.failure_count == 1


def test_deleted_middle_line_is_a_seq_gap(log3: Log) -> None:
    lines = log3.lines(DAYS[1])
    del lines[5]
    log3.write_lines(DAYS[1], lines)
    first = verify_audit_trail(log3.root).earliest_failure
    assert first is not None
    assert (first.reason, first.line, first.seq) == (Reason.SEQ_GAP, 6, 16)
    assert "seq 15..15 missing" in first.message


def test_swapped_lines_are_one_displacement_naming_both(log3: Log) -> None:
    lines = log3.lines(DAYS[2])
    lines[2], lines[3] = lines[3], lines[2]
    log3.write_lines(DAYS[2], lines)
    result = verify_audit_trail(log3.root)
    first = result.earliest_failure
    assert first is not None
    assert (first.reason, first.line, first.seq) == (Reason.SEQ_OUT_OF_ORDER, 3, 23)
    assert "missing" not in first.message and "line 4 (seq 22)" in first.message
    assert result.failure_count == 1


def test_deleted_middle_day_is_a_missing_partition(log3: Log) -> None:
    log3.file_of(DAYS[1]).unlink()
    first = verify_audit_trail(log3.root).earliest_failure
    assert first is not None
    assert (first.reason, first.line, first.seq) == (Reason.MISSING_PARTITION, 1, 20)
    assert first.location.endswith("2025/10/25.jsonl")
    assert "seq 10..19 missing" in first.message


def test_deleted_oldest_day_is_a_missing_start(log3: Log) -> None:
    log3.file_of(DAYS[0]).unlink()
    first = verify_audit_trail(log3.root).earliest_failure
    assert first is not None
    assert (first.reason, first.line, first.seq) == (Reason.MISSING_PARTITION, 1, 10)
    assert "0..9" in first.message


def test_non_json_line_is_reported_and_the_chain_resumes(log3: Log) -> None:
    lines = log3.lines(DAYS[0])
    lines[4] = b"this is not json\n"
    log3.write_lines(DAYS[0], lines)
    result = verify_audit_trail(log3.root)
    first = result.earliest_failure
    assert first is not None
    assert (first.reason, first.line) == (Reason.INVALID_JSON, 5)
    assert first.location.endswith("2025/10/23.jsonl")
    assert result.failure_count == 1


def test_json_that_is_not_a_record_is_malformed(log3: Log) -> None:
    lines = log3.lines(DAYS[0])
    lines[4] = b'{"hello": "world"}\n'
    log3.write_lines(DAYS[0], lines)
    first = verify_audit_trail(log3.root).earliest_failure
    assert first is not None and first.reason is Reason.MALFORMED_RECORD


def test_two_tampers_are_both_reported_earliest_first(log3: Log) -> None:
    late = log3.lines(DAYS[2])
    late[6] = late[6].replace(b'"i":6', b'"i":8')
    log3.write_lines(DAYS[2], late)
    early = log3.lines(DAYS[0])
    early[1] = early[1].replace(b'"i":1', b'"i":5')
    log3.write_lines(DAYS[0], early)
    result = verify_audit_trail(log3.root)
    assert [(f.reason, f.seq) for f in result.failures] == [
        (Reason.HASH_MISMATCH, 1),
        (Reason.HASH_MISMATCH, 26),
    ]


def test_record_moved_to_another_day_is_a_partition_mismatch(log3: Log) -> None:
    lines = log3.lines(DAYS[1])
    moved = lines.pop(0)
    log3.write_lines(DAYS[1], lines)
    previous = log3.lines(DAYS[0])
    log3.write_lines(DAYS[0], [*previous, moved])
    first = verify_audit_trail(log3.root).earliest_failure
    assert first is not None
    assert (first.reason, first.seq) == (Reason.PARTITION_MISMATCH, 10)


def test_max_failures_caps_the_list_but_counts_all(log3: Log) -> None:
    lines = log3.lines(DAYS[0])
    lines = [line.replace(b'"test.event"', b'"test.evenT"') for line in lines]
    log3.write_lines(DAYS[0], lines)
    result = verify_audit_trail(log3.root, max_failures=3)
    assert len(result.failures) == 3
    assert result.failure_count == 10


def test_a_duplicated_line_names_the_copy_only(log3: Log) -> None:
    lines = log3.lines(DAYS[1])
    lines.insert(4, lines[3])
    log3.write_lines(DAYS[1], lines)
    result = verify_audit_trail(log3.root)
    [failure] = result.failures
    assert (failure.reason, failure.line, failure.seq) == (Reason.SEQ_OUT_OF_ORDER, 5, 13)
    assert (
        "a duplicate of the record at" in failure.message and "line 4 (seq 13)" in failure.message
    )


def _insert_forgery(log3: Log, after: int) -> None:
    """A record with seq 13 that links to seq 12 (correct previousHash), sealed by an attacker."""
    record = dict(log3.records[13])
    body = encode_body(
        seq=13,
        previous_hash=record["previousHash"],
        timestamp=record["timestamp"],
        event_id="00000000-0000-4000-8000-000000000000",
        event_type=record["eventType"],
        payload=encode_json({"forged": True}),
    )
    lines = log3.lines(DAYS[1])
    lines.insert(after, seal(body)[1])
    log3.write_lines(DAYS[1], lines)


@pytest.mark.parametrize(("after", "line"), [(3, 4), (4, 5)])
def test_an_inserted_record_with_a_correct_link_is_named(log3: Log, after: int, line: int) -> None:
    """Before or after the genuine seq 13: the one the next record does not link to is named."""
    _insert_forgery(log3, after)
    result = verify_audit_trail(log3.root)
    [failure] = result.failures
    assert (failure.reason, failure.line, failure.seq) == (Reason.SEQ_OUT_OF_ORDER, line, 13)
    assert "was inserted" in failure.message
    assert failure.location.endswith("2025/10/24.jsonl")


def test_swapped_day_files_name_the_moved_records_and_nothing_missing(log3: Log) -> None:
    early, late = log3.file_of(DAYS[1]).read_bytes(), log3.file_of(DAYS[2]).read_bytes()
    log3.file_of(DAYS[1]).write_bytes(late)
    log3.file_of(DAYS[2]).write_bytes(early)
    result = verify_audit_trail(log3.root)
    assert not result.ok
    assert not any("missing" in f.message for f in result.failures)
    assert {f.reason for f in result.failures} <= {
        Reason.SEQ_OUT_OF_ORDER,
        Reason.PARTITION_MISMATCH,
    }
    moved = result.failures[0]
    assert (moved.reason, moved.seq, moved.line) == (Reason.SEQ_OUT_OF_ORDER, 20, 1)
    assert "belong after seq 19" in moved.message
    assert {f.seq for f in result.failures} <= set(range(10, 30))


def test_deleting_a_days_last_record_is_a_gap_naming_both_sides(log3: Log) -> None:
    log3.write_lines(DAYS[0], log3.lines(DAYS[0])[:-1])
    [failure] = verify_audit_trail(log3.root).failures
    assert (failure.reason, failure.line, failure.seq) == (Reason.SEQ_GAP, 9, 8)
    assert failure.location.endswith("2025/10/23.jsonl") and "seq 9..9 missing" in failure.message
    assert failure.related[0].endswith("2025/10/24.jsonl line 1 (seq 10)")
