"""Row writers, one module per format, all with the same two calls: ``write(row)``, ``close()``.

A writer writes to a binary stream it is given (a staged file, or the spool behind stdout) and
never closes that stream; :mod:`..output` owns files, staging and publishing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Protocol

from ..rows import ExportRow


class RowWriter(Protocol):
    def write(self, row: ExportRow) -> None: ...

    def close(self) -> None:
        """Flush what is buffered (a Parquet footer, a partial row group)."""
        ...


WriterFactory = Callable[[IO[bytes]], RowWriter]


def writer_factory(name: str) -> tuple[WriterFactory, str]:
    """The factory and file extension of format ``name`` (jsonl, csv, parquet, ocsf)."""
    if name == "jsonl":
        from .jsonl import JsonLinesWriter

        return JsonLinesWriter, "jsonl"
    if name == "csv":
        from .csv import CsvWriter

        return CsvWriter, "csv"
    if name == "ocsf":
        from .ocsf import OcsfWriter

        return OcsfWriter, "ocsf.jsonl"
    if name == "parquet":
        from .parquet import ParquetRowWriter

        return ParquetRowWriter, "parquet"
    raise ValueError(f"unknown export format {name!r}")


FORMAT_NAMES = ("jsonl", "csv", "parquet", "ocsf")
