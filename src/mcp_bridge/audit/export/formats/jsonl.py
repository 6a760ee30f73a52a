"""JSON lines: the flattened columns, with the payload as a JSON object instead of text.

The same dictionary is what the streaming sinks send (``--follow``), so a SIEM receives one
shape whichever way the rows reach it.
"""

from __future__ import annotations

import json
from typing import IO, Any

from ..columns import flatten
from ..rows import ExportRow


def json_row(row: ExportRow) -> dict[str, Any]:
    """The JSON-lines shape of a row: every column, ``payload`` decoded in place of its text."""
    values = flatten(row)
    del values["payload_json"]
    values["payload"] = row.payload
    return values


def encode_row(row: ExportRow) -> bytes:
    return json.dumps(json_row(row), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class JsonLinesWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write(self, row: ExportRow) -> None:
        self._stream.write(encode_row(row))

    def close(self) -> None:
        self._stream.flush()
