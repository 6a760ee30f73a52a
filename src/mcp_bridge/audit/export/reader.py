"""Rows out of the verification engine: each record is emitted once the checker has judged it.

The export does not verify on its own: it taps the lines on their way into the one engine
(:func:`~mcp_bridge.audit.engine.verify_source`). The checker pulls line *n+1* only after it
has judged line *n*, so a record is ``verified`` when no failure was counted while it was
checked and its segment carries no object-level failure (S3 lock, KMS, placement). After an
unreadable line the checker re-anchors on the next record without a link to check: that
record is flagged too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from ..chain import ChainChecker
from ..engine import ProgressCallback, RecordSource, Segment, verify_source
from ..errors import AuditUsageError
from ..layout import day_key
from ..records import SEQ_AT, TS_MEMBER
from ..results import VerificationResult
from .rows import Covering, ExportRow, build_row

RowSink = Callable[[ExportRow], None]


@dataclass(frozen=True, slots=True)
class Selection:
    """What to export: UTC days ``start..end`` and/or seqs ``first_seq..last_seq`` (inclusive)."""

    start: date | None = None
    end: date | None = None
    first_seq: int | None = None
    last_seq: int | None = None

    def check(self) -> None:
        first, last = self.first_seq, self.last_seq
        if first is not None and last is not None and first > last:
            raise AuditUsageError(f"--from-seq {first} is after --to-seq {last}: nothing to export")


class _RowTap:
    """The engine's line tap: builds and emits the rows of the selection, in chain order."""

    def __init__(self, selection: Selection, emit: RowSink, covering: Covering | None) -> None:
        self._selection = selection
        self._emit = emit
        self._covering = covering
        self.done = False

    def __call__(
        self, checker: ChainChecker, segment: Segment, lines: Iterable[bytes]
    ) -> Iterable[bytes]:
        if self.done:  # past --to-seq: the remaining segments are not even read
            return ()
        return self._lines(checker, segment, lines)

    def _lines(
        self, checker: ChainChecker, segment: Segment, lines: Iterable[bytes]
    ) -> Iterator[bytes]:
        partition = day_key(segment.day)
        last = self._selection.last_seq
        for number, raw in enumerate(lines, start=1):
            if last is not None and _seq_of(raw) > last:
                self.done = True  # stop before the checker reads past the selection
                return
            before = checker.failure_count
            yield raw
            # The checker asks for the next line only now: this one has been judged.
            ok = checker.failure_count == before and not segment.failures
            self._settle(raw, partition, segment.name, number, ok)
            if self.done:
                return

    def _settle(self, raw: bytes, partition: str, segment: str, number: int, ok: bool) -> None:
        selection = self._selection
        row = build_row(
            raw,
            partition=partition,
            segment=segment,
            line=number,
            verified=ok,
            min_seq=selection.first_seq or 0,
            covering=self._covering,
        )
        if row is None:  # before the selection, or not a record (which the checker reports)
            return
        if selection.last_seq is not None and row.seq > selection.last_seq:
            self.done = True
            return
        self._emit(row)


def _seq_of(raw: bytes) -> int:
    """The seq of a sealed line, read by position; -1 when the line has no readable seq."""
    end = raw.find(TS_MEMBER, SEQ_AT, SEQ_AT + 24)
    text = raw[SEQ_AT:end]
    return int(text) if end > 0 and text.isdigit() else -1


def read_rows(
    source: RecordSource,
    selection: Selection,
    emit: RowSink,
    *,
    max_failures: int = 100,
    progress: ProgressCallback | None = None,
    covering: Covering | None = None,
) -> VerificationResult:
    """Verify the selection's window of ``source`` and pass each selected row to ``emit``.

    ``covering`` names each row's covering checkpoint (see :mod:`.checkpoints`).

    Returns the engine's result for what was read: a failure anywhere (a record, an object, the
    listing) makes it not ``ok`` even when every emitted row says ``verified``.
    """
    selection.check()
    tap = _RowTap(selection, emit, covering)
    return verify_source(
        source,
        start=selection.start,
        end=selection.end,
        max_failures=max_failures,
        progress=progress,
        tap=tap,
    )
