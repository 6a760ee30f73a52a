"""OCSF events as JSON lines (one API Activity event per record; mapping in :mod:`..ocsf`)."""

from __future__ import annotations

import json
from typing import IO

from ..ocsf import to_ocsf
from ..rows import ExportRow


class OcsfWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write(self, row: ExportRow) -> None:
        line = json.dumps(to_ocsf(row), ensure_ascii=False, separators=(",", ":"))
        self._stream.write(line.encode() + b"\n")

    def close(self) -> None:
        self._stream.flush()
