"""Property tests: any sealed record exports to columns that re-derive its hash, in every format."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_bridge.audit.export.columns import COLUMNS, flatten
from mcp_bridge.audit.export.formats.csv import CsvWriter
from mcp_bridge.audit.export.formats.jsonl import json_row
from mcp_bridge.audit.export.rows import build_row, record_hash
from mcp_bridge.audit.records import GENESIS_HASH, encode_json, seal_record

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
bridge_like = st.fixed_dictionaries(
    {},
    optional={
        "method": st.text(),
        "requestId": st.integers() | st.text(),
        "identity": st.fixed_dictionaries({"subject": st.text(), "roles": st.lists(st.text())}),
        "durationMs": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
        "errorCode": st.integers(),
        "target": json_values,
        "mutating": json_values,
    },
)


def _line(payload: Any, seq: int) -> bytes:
    _, line = seal_record(
        GENESIS_HASH, seq, "2026-01-02T03:04:05.000006Z", "e-1", "mcp.tools.call",
        encode_json(payload),
    )  # fmt: skip
    return line


@settings(max_examples=200, deadline=None)
@given(payload=json_values | bridge_like, seq=st.integers(0, 10**9))
def test_exported_columns_re_derive_the_hash(payload: Any, seq: int) -> None:
    line = _line(payload, seq)
    row = build_row(line, partition="2026/01/02", segment="s", line=1, verified=True)
    assert row is not None
    values = flatten(row)
    assert list(values) == [c.name for c in COLUMNS]
    assert json.loads(values["payload_json"]) == payload
    derived = record_hash(
        seq=values["seq"], previous_hash=values["previous_hash"], timestamp=values["timestamp"],
        event_id=values["event_id"], event_type=values["event_type"],
        payload=values["payload_json"],
    )  # fmt: skip
    assert derived == values["hash"] == json.loads(line)["hash"]
    # JSON lines carry the decoded payload; re-encoding it canonically gives the same text.
    assert encode_json(json.loads(json.dumps(json_row(row)))["payload"]) == values["payload_json"]
    # CSV round-trips the payload text exactly.
    buffer = io.BytesIO()
    writer = CsvWriter(buffer)
    writer.write(row)
    writer.close()
    (parsed,) = list(csv.DictReader(io.StringIO(buffer.getvalue().decode())))
    assert parsed["payload_json"] == values["payload_json"] and int(parsed["seq"]) == seq


@given(garbage=st.binary(max_size=200))
def test_a_line_that_is_not_a_sealed_record_never_becomes_a_row(garbage: bytes) -> None:
    assert build_row(garbage, partition="p", segment="s", line=1, verified=True) is None
