"""The canonical encoding and the chain, property-tested with hypothesis."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_bridge.audit import AuditPayloadError, compute_event_hash, verify_audit_trail
from mcp_bridge.audit.records import GENESIS_HASH, encode_body, encode_json, parse_header, seal
from mcp_bridge.audit.sequencing import EMPTY_TAIL, PendingEvent, new_event_ids, seal_batch

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(), json_values, max_size=5)
NOW = datetime(2026, 11, 27, 3, 17, 20, 123456, tzinfo=UTC)


@given(payloads, st.text(min_size=1))
def test_encode_decode_rehash_is_stable(payload: dict[str, Any], event_type: str) -> None:
    [record] = seal_batch(EMPTY_TAIL, [PendingEvent.create(event_type, payload)], NOW)
    decoded = json.loads(record.line)
    assert compute_event_hash(decoded) == record.hash == decoded["hash"]
    assert encode_json(decoded["payload"]) == encode_json(payload)
    assert parse_header(record.line.rstrip(b"\n")).hash == record.hash


def test_extreme_values_are_recorded_exactly() -> None:
    payload = {"big": 2**128 + 1, "huge": 1e300, "tiny": 5e-324, "neg": -0.0, "ü": "日本\ud800"}
    [record] = seal_batch(EMPTY_TAIL, [PendingEvent.create("x", payload)], NOW)
    decoded = json.loads(record.line)["payload"]
    assert decoded["big"] == 2**128 + 1
    assert decoded["huge"] == 1e300 and decoded["tiny"] == 5e-324
    assert math.copysign(1, decoded["neg"]) == -1
    assert decoded["ü"] == "日本\ud800"
    assert record.line.isascii()


@pytest.mark.parametrize(
    "payload",
    [{"x": math.nan}, {"x": math.inf}, {"x": b"bytes"}, {"x": {1, 2}}, {1: "a", "b": 2}],
    ids=["nan", "inf", "bytes", "set", "mixed-keys"],
)
def test_unrecordable_payloads_raise_a_clear_error(payload: dict[Any, Any]) -> None:
    with pytest.raises(AuditPayloadError, match="not recordable as JSON"):
        PendingEvent.create("x", payload)


def test_payload_must_be_an_object() -> None:
    with pytest.raises(AuditPayloadError, match="must be a JSON object"):
        PendingEvent.create("x", ["not", "a", "dict"])  # type: ignore[arg-type]


def test_first_record_links_to_genesis() -> None:
    [record] = seal_batch(EMPTY_TAIL, [PendingEvent.create("x", {})], NOW)
    assert record.seq == 0 and record.previous_hash == GENESIS_HASH
    assert record.timestamp == "2026-11-27T03:17:20.123456Z"


def test_timestamps_never_go_back_when_the_clock_does() -> None:
    first = seal_batch(EMPTY_TAIL, [PendingEvent.create("x", {})], NOW)[-1]
    earlier = NOW.replace(hour=1)
    [second] = seal_batch(first.tail, [PendingEvent.create("x", {})], earlier)
    assert second.timestamp == first.timestamp and second.seq == 1


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payloads, st.data())
def test_any_one_byte_change_is_detected(
    tmp_path: Path, payload: dict[str, Any], data: st.DataObject
) -> None:
    batch = [PendingEvent.create("t", payload), PendingEvent.create("t", {"n": 1})]
    records = seal_batch(EMPTY_TAIL, batch, NOW)
    records += seal_batch(records[-1].tail, [PendingEvent.create("t", payload)], NOW)
    blob = bytearray(b"".join(r.line for r in records))
    position = data.draw(st.integers(0, len(blob) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != blob[position]), label="byte")
    blob[position] = value
    folder = tmp_path / f"log-{position}-{value}"
    (folder / "2026" / "11").mkdir(parents=True, exist_ok=True)
    (folder / "2026" / "11" / "27.jsonl").write_bytes(bytes(blob))
    result = verify_audit_trail(folder)
    assert not result.ok
    changed_line = bytes(blob[:position]).count(b"\n") + 1
    first = result.earliest_failure
    assert first is not None and first.line is not None
    assert first.line in (changed_line - 1, changed_line, changed_line + 1)


def test_a_third_party_verifier_from_the_format_doc(tmp_path: Path) -> None:
    """docs/audit-format.md's byte rule, implemented independently of our parser."""
    import hashlib

    from ..conftest import DAYS, build_log

    log = build_log(tmp_path, DAYS[:2], 3)
    previous, expected_seq = "0" * 64, 0
    for day in DAYS[:2]:
        for line in log.file_of(day).read_bytes().splitlines():
            body = line[: len(line) - 75] + b"}"
            record = json.loads(line)
            assert hashlib.sha256(body).hexdigest() == record["hash"]
            assert (record["seq"], record["previousHash"]) == (expected_seq, previous)
            previous, expected_seq = record["hash"], expected_seq + 1
    assert expected_seq == 6


def test_the_example_record_of_the_format_doc_is_what_the_writer_writes() -> None:
    """A known answer: the writer (orjson fast path or not) reproduces the documented line."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "audit-format.md").read_text()
    block = doc.split("Example (wrapped here; one line on disk):\n\n```\n", 1)[1]
    line = "".join(part.strip() for part in block.split("```", 1)[0].splitlines()).encode()
    record = json.loads(line)
    event = PendingEvent.create(record["eventType"], record["payload"])
    body = encode_body(
        seq=record["seq"],
        previous_hash=record["previousHash"],
        timestamp=record["timestamp"],
        event_id=record["eventId"],
        event_type=event.event_type,
        payload=event.payload_json.decode("ascii"),
    )
    assert seal(body) == (record["hash"], line + b"\n")


@given(st.integers(min_value=1, max_value=300))
def test_event_ids_are_distinct_version_4_uuids(count: int) -> None:
    ids = new_event_ids(count)
    parsed = [uuid.UUID(event_id) for event_id in ids]
    assert [str(value) for value in parsed] == ids  # canonical lowercase text
    assert all(value.version == 4 and value.variant == uuid.RFC_4122 for value in parsed)
    assert len(set(ids)) == count
