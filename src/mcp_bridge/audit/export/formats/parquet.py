"""Parquet (pyarrow): the flattened columns, typed, written in row groups of bounded size.

Types: int64, string, bool, double, ``timestamp[us, UTC]`` and ``list<string>`` (roles). The
schema carries ``mcp_bridge.export.schema = v1`` in its metadata. Day partitions
(``date=YYYY-MM-DD/``) are made by :mod:`..output`, one file per day, so the files hold no
``date`` column and engines read the partition from the path.
"""

from __future__ import annotations

from datetime import datetime
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..columns import BOOL, COLUMNS, DOUBLE, INT, STRING, STRINGS, TIMESTAMP, flatten
from ..rows import ExportRow

ROW_GROUP = 16_384
SCHEMA_VERSION = "v1"

_TYPES = {
    INT: pa.int64(),
    STRING: pa.string(),
    BOOL: pa.bool_(),
    DOUBLE: pa.float64(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
    STRINGS: pa.list_(pa.string()),
}


def arrow_schema() -> Any:
    fields = [pa.field(c.name, _TYPES[c.kind], nullable=c.name != "seq") for c in COLUMNS]
    return pa.schema(fields, metadata={"mcp_bridge.export.schema": SCHEMA_VERSION})


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


class ParquetRowWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self._schema = arrow_schema()
        self._writer = pq.ParquetWriter(stream, self._schema, compression="zstd")
        self._pending: list[dict[str, Any]] = []

    def write(self, row: ExportRow) -> None:
        values = flatten(row)
        values["timestamp"] = _moment(values["timestamp"])
        self._pending.append(values)
        if len(self._pending) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            batch = pa.RecordBatch.from_pylist(self._pending, schema=self._schema)
            self._writer.write_batch(batch)
            self._pending = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
