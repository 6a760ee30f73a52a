"""The single verification engine: drives :class:`ChainChecker` over any record source.

A source (local files, S3 objects) lists the window's segments in chain order, streams their
lines, and finds the record just before the window. Object-level problems a source finds
(Object Lock, hidden versions, …) are failures attached to their segment, found while listing
or while reading it, and reported right after the segment's own chain failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from .chain import Anchor, ChainChecker
from .layout import check_window, day_key
from .results import Failure, Note, VerificationResult


@dataclass(slots=True)
class Segment:
    """One stored unit of records (a day file, an S3 segment object)."""

    name: str
    location: str
    day: date
    size: int
    open_lines: Callable[[], Iterable[bytes]]
    failures: list[Failure] = field(default_factory=list)


class RecordSource(Protocol):
    """What a storage driver offers the verifier."""

    @property
    def description(self) -> str: ...

    def segments(self, start: date | None, end: date | None) -> Sequence[Segment]:
        """The window's segments in chain order (metadata only; lines are read lazily)."""
        ...

    def anchor_before(self, start: date) -> Anchor | None:
        """The last record before ``start``, or ``None`` when nothing precedes the window."""
        ...

    def finish(self) -> tuple[list[Failure], list[Note], dict[str, Any]]:
        """Failures, notes and statistics gathered while listing and reading."""
        ...


ProgressCallback = Callable[[int, int], None]

#: Wraps a segment's lines on their way into the checker. The checker pulls a line only once it
#: has judged the one before, so a tap learns each record's verdict (export reads rows this way).
LineTap = Callable[[ChainChecker, Segment, Iterable[bytes]], Iterable[bytes]]


def verify_source(
    source: RecordSource,
    *,
    start: date | None = None,
    end: date | None = None,
    max_failures: int = 100,
    progress: ProgressCallback | None = None,
    tap: LineTap | None = None,
) -> VerificationResult:
    """Verify ``source`` over the window ``start..end`` (inclusive UTC days; ``None`` = open)."""
    check_window(start, end)
    began = time.perf_counter()
    checker = ChainChecker(max_failures=max_failures, windowed=start is not None)
    if start is not None:
        anchor = source.anchor_before(start)
        if anchor is not None:
            checker.set_anchor(anchor)
    segments = source.segments(start, end)
    total = sum(segment.size for segment in segments)
    done = 0
    partitions: list[str] = []
    for segment in segments:
        lines = segment.open_lines()
        if tap is not None:
            lines = tap(checker, segment, lines)
        checker.feed(segment.name, segment.location, segment.day, lines)
        for failure in segment.failures:  # may grow while the lines are read (object headers)
            checker.add_failure(failure)
        key = day_key(segment.day)
        if not partitions or partitions[-1] != key:
            partitions.append(key)
        done += segment.size
        if progress is not None:
            progress(done, total)
    checker.finish()
    extra_failures, notes, stats = source.finish()
    if checker.checked == 0 and not checker.failure_count:
        notes.append(Note("empty_window", "no records in this window: nothing to verify", ""))
    for failure in extra_failures:
        checker.add_failure(failure)
    return _result(checker, source, start, end, partitions, len(segments), notes, stats, began)


def _result(
    checker: ChainChecker,
    source: RecordSource,
    start: date | None,
    end: date | None,
    partitions: list[str],
    segments_read: int,
    notes: list[Note],
    stats: dict[str, Any],
    began: float,
) -> VerificationResult:
    ok = checker.failure_count == 0
    if ok:
        message = _verified_message(checker.checked)
    else:
        message = f"Verification failed: {checker.failures[0].render().splitlines()[0]}"
    first, last = checker.first, checker.last if checker.checked else None
    return VerificationResult(
        ok=ok,
        checked_events=checker.checked,
        message=message,
        failures=checker.failures,
        failure_count=checker.failure_count,
        notes=checker.notes + notes,
        source=source.description,
        window_start=day_key(start) if start else None,
        window_end=day_key(end) if end else None,
        first_seq=first[0] if first else None,
        last_seq=last[0] if last else None,
        first_timestamp=first[1] if first else None,
        last_timestamp=last[1] if last else None,
        partitions=partitions,
        segments_read=segments_read,
        elapsed_seconds=time.perf_counter() - began,
        stats=stats,
    )


def _verified_message(checked: int) -> str:
    message = f"Verified {checked:,} events"
    if checked == 0:
        message += " (no records in this window: nothing to verify)"
    return message


def confirmed_result(
    *,
    source: str,
    start: date | None,
    end: date | None,
    checked: int,
    first: tuple[int, str],
    last: tuple[int, str],
    partitions: list[str],
    segments_read: int,
    elapsed: float,
) -> VerificationResult:
    """The result of a window confirmed intact by other means (e.g. checked in parallel)."""
    return VerificationResult(
        ok=True,
        checked_events=checked,
        message=_verified_message(checked),
        source=source,
        window_start=day_key(start) if start else None,
        window_end=day_key(end) if end else None,
        first_seq=first[0],
        last_seq=last[0],
        first_timestamp=first[1],
        last_timestamp=last[1],
        partitions=partitions,
        segments_read=segments_read,
        elapsed_seconds=elapsed,
        stats={"parallel": True},
    )


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What a worker reports about one stretch of a segment checked on its own."""

    name: str
    location: str
    day: date
    count: int
    clean: bool
    first_line: bytes
    last: Anchor | None


def chunks_form_one_chain(
    chunks: Sequence[ChunkResult], anchor: Anchor | None, *, windowed: bool
) -> bool:
    """True when every chunk is clean and each one's first record continues the previous one.

    The same checker rules apply at the seams as inside a chunk; anything less than a clean
    seam returns False, and the caller then verifies sequentially for a full report.
    """
    checker = ChainChecker(max_failures=1, windowed=windowed)
    if anchor is not None:
        checker.set_anchor(anchor)
    for chunk in chunks:
        if not chunk.clean:
            return False
        if chunk.count == 0 or chunk.last is None:
            continue
        checker.feed(chunk.name, chunk.location, chunk.day, [chunk.first_line])
        checker.finish()
        if checker.failure_count:
            return False
        checker.set_anchor(chunk.last)
    return True
