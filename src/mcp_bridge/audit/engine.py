"""The single verification engine: drives :class:`ChainChecker` over any record source.

A source (local files, S3 objects) lists the window's segments in chain order, streams their
lines, and finds the records on both sides of the window: the last one before it (the window's
first record must link to it) and the first one after it (it must link to the window's last
record), so a window is proven at both ends, not only at its start. Object-level problems a
source finds (Object Lock, hidden versions, …) are failures attached to their segment, found
while listing or while reading it, and reported right after the segment's own chain failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from .chain import Anchor, ChainChecker, FollowingLine, RecordHashes
from .layout import check_window, day_key
from .results import Failure, Note, Reason, VerificationResult
from .tree_stream import ChunkTree

if TYPE_CHECKING:
    from .checkpoint_verify import Captured


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
        """The last record before ``start``, or ``None`` when nothing precedes the window.

        Found, not guessed: non-record lines between it and the window go in its ``trailing``.
        """
        ...

    def first_after(self, end: date) -> FollowingLine | None:
        """The first line of the first segment after ``end`` (one small read), or ``None``."""
        ...

    def empty_reason(self) -> str | None:
        """``None`` if the location holds an audit store; else what was looked for and not found."""
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
    allow_empty: bool = False,
    hashes: RecordHashes | None = None,
) -> VerificationResult:
    """Verify ``source`` over the window ``start..end`` (inclusive UTC days; ``None`` = open).

    A location that holds no audit store at all is an ``empty_store`` failure unless
    ``allow_empty`` (a brand-new deployment): a mistyped path must never verify green.
    ``hashes`` receives every record hash the chain moves on to (``verify --vkey`` recomputes
    the Merkle roots from them in the same pass).
    """
    check_window(start, end)
    began = time.perf_counter()
    checker = ChainChecker(max_failures=max_failures, windowed=start is not None, hashes=hashes)
    anchored_by = anchor_window(checker, source, start)
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
    closed_by = ""
    if tap is None:  # a tap may stop reading early (export's --to-seq): no end to prove then
        closed_by = checker.close_with(source.first_after(end) if end is not None else None)
    checker.finish()
    extra_failures, notes, stats = source.finish()
    if checker.checked == 0 and not checker.failure_count and not extra_failures:
        empty = source.empty_reason()
        if empty is not None and not allow_empty:
            checker.add_failure(Failure(Reason.EMPTY_STORE, empty, source.description))
        else:
            notes.append(Note("empty_window", "no records in this window: nothing to verify", ""))
    for failure in extra_failures:
        checker.add_failure(failure)
    result = _result(checker, source, start, end, partitions, len(segments), notes, stats, began)
    result.anchored_by, result.closed_by = anchored_by, closed_by
    return result


def anchor_window(checker: ChainChecker, source: RecordSource, start: date | None) -> str:
    """Set the checker on the record before the window; say how the window's start is proven."""
    anchor = source.anchor_before(start) if start is not None else None
    if anchor is not None:
        checker.set_anchor(anchor)
    return describe_start(start, anchor)


def describe_start(start: date | None, anchor: Anchor | None) -> str:
    """How a window's start is proven, for the report."""
    if start is None:
        return "the window starts at the beginning of the log (seq 0 links to the genesis hash)"
    if anchor is None:
        return "no record before the window: its first record must be seq 0"
    return anchor.describe()


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
    anchored_by: str,
    closed_by: str,
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
        anchored_by=anchored_by,
        closed_by=closed_by,
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
    tree: ChunkTree | None = None  # the chunk's Merkle hashes, when checkpoints are checked
    #: The records the checkpoint checks name that the chunk holds (when they are checked).
    records: tuple[Captured, ...] = ()


def chunks_form_one_chain(
    chunks: Sequence[ChunkResult],
    anchor: Anchor | None,
    following: FollowingLine | None,
    *,
    windowed: bool,
) -> str | None:
    """How the window closed when every chunk is clean, each one's first record continues the
    previous one and the record after the window (``following``) continues the last; else
    ``None``.

    The same checker rules apply at the seams as inside a chunk; anything less than a clean
    seam returns None, and the caller then verifies sequentially for a full report.
    """
    checker = ChainChecker(max_failures=1, windowed=windowed)
    if anchor is not None:
        if anchor.trailing:
            return None
        checker.set_anchor(anchor)
    for chunk in chunks:
        if not chunk.clean:
            return None
        if chunk.count == 0 or chunk.last is None:
            continue
        checker.feed(chunk.name, chunk.location, chunk.day, [chunk.first_line])
        checker.finish()
        if checker.failure_count:
            return None
        checker.set_anchor(chunk.last)
    closed_by = checker.close_with(following)
    checker.finish()
    return closed_by if checker.failure_count == 0 and not checker.notes else None
