"""CSV for spreadsheets: a header row, then one row per event with the flattened columns.

Empty cell = null; booleans are ``true``/``false``; the role list is a JSON array.
"""

from __future__ import annotations

import csv
import io
import json
from typing import IO, Any

from ..columns import COLUMNS, flatten
from ..rows import ExportRow


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


class CsvWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self._text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(self._text)
        self._csv.writerow([column.name for column in COLUMNS])

    def write(self, row: ExportRow) -> None:
        self._csv.writerow([_cell(value) for value in flatten(row).values()])

    def close(self) -> None:
        self._text.flush()
        self._text.detach()  # the stream belongs to the caller
