"""Confirming a large, intact local log on every core.

Verification is a single pass over a chain, which Python runs on one core. For a big window
the files are cut into byte ranges at line boundaries; worker processes check each range on its
own (a ``ChainChecker`` started at the range's first record), and the parent checks the seams
with the same rules (``engine.chunks_form_one_chain``).

With ``verify --vkey`` each worker also hashes its range's records into the Merkle tree (its
compact range, and the range up to every checkpoint size inside it); the parent chains those
in order (``tree_stream.join_chunks``), so the roots are recomputed on every core too.

This only ever *confirms*: if any range reports anything (a failure, a recovery note, a seam
that does not link), the answer is ``None`` and the caller runs the ordinary sequential
verification, which produces the exact report. So the report on a damaged log is always the
sequential engine's.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from ...chain import ChainChecker, OversizedLine
from ...checkpoint_verify import Captured, SeqCapture, wanted_seqs
from ...engine import (
    ChunkResult,
    ProgressCallback,
    chunks_form_one_chain,
    confirmed_result,
    describe_start,
)
from ...layout import day_key
from ...merkle import leaf_hash
from ...records import MalformedLine, parse_header
from ...results import VerificationResult
from ...tree_stream import RangeHashes, Recomputed, TreeFeed, chunk_tree, join_chunks
from .files import bounded_lines, open_regular, storage_errors
from .source import LocalSource

#: Below this much data a pool's start-up costs more than it saves.
MIN_PARALLEL_BYTES = 48 * 1024 * 1024
_MIN_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Range:
    """Lines of one partition file that start within ``[low, high)``: one worker's task."""

    name: str
    path: str
    day: date
    low: int
    high: int
    size: int
    max_line: int
    tree_sizes: tuple[int, ...] | None = None


#: The result, the Merkle hashes (with checkpoints) and the records the checkpoint checks name.
Confirmed = tuple[VerificationResult, Recomputed | None, tuple[Captured, ...]]


def confirm_in_parallel(
    source: LocalSource,
    start: date | None,
    end: date | None,
    progress: ProgressCallback | None = None,
    *,
    tree_sizes: Sequence[int] | None = None,
) -> Confirmed | None:
    """A verified result for a large intact window, or ``None`` to verify sequentially.

    With ``tree_sizes`` (checkpoint sizes) the result comes with the Merkle tree's hashes the
    records gave at those sizes.
    """
    cores = len(os.sched_getaffinity(0))
    segments = source.segments(start, end)
    total = sum(segment.size for segment in segments)
    if cores < 2 or total < MIN_PARALLEL_BYTES or any(s.failures for s in segments):
        return None
    began = time.perf_counter()
    step = max(_MIN_CHUNK_BYTES, total // (cores * 4))
    tasks = [
        _Range(
            segment.name,
            segment.location,
            segment.day,
            low,
            min(segment.size, low + step),
            segment.size,
            source.max_record_bytes,
            None if tree_sizes is None else tuple(tree_sizes),
        )
        for segment in segments
        for low in range(0, segment.size, step)
    ]
    # fork starts workers in milliseconds but is only safe without other threads (a CLI);
    # a library caller inside a threaded server gets spawn.
    method = "fork" if threading.active_count() == 1 else "spawn"
    context = multiprocessing.get_context(method)
    chunks: list[ChunkResult] = []
    done = 0
    with ProcessPoolExecutor(max_workers=cores, mp_context=context) as pool:
        for task, chunk in zip(tasks, pool.map(check_range, tasks), strict=True):
            chunks.append(chunk)
            done += task.high - task.low
            if progress is not None:
                progress(done, total)
    anchor = source.anchor_before(start) if start is not None else None
    following = source.first_after(end) if end is not None else None
    closed_by = chunks_form_one_chain(chunks, anchor, following, windowed=start is not None)
    if closed_by is None:
        return None
    counted = [chunk for chunk in chunks if chunk.count and chunk.last is not None]
    if not counted:
        return None
    recomputed = None
    if tree_sizes is not None:
        recomputed = _join_trees(
            counted, anchor.seq if anchor else None, anchor.hash if anchor else ""
        )
        if recomputed is None:
            return None
    first = parse_header(counted[0].first_line.rstrip(b"\n"))
    last = counted[-1].last
    assert last is not None
    result = confirmed_result(
        source=source.description,
        start=start,
        end=end,
        checked=sum(chunk.count for chunk in chunks),
        first=(first.seq, first.timestamp),
        last=(last.seq, last.timestamp),
        partitions=sorted({day_key(segment.day) for segment in segments}),
        segments_read=len(segments),
        elapsed=time.perf_counter() - began,
        anchored_by=describe_start(start, anchor),
        closed_by=closed_by,
    )
    return result, recomputed, tuple(record for chunk in chunks for record in chunk.records)


def _join_trees(
    chunks: list[ChunkResult], anchor_seq: int | None, anchor_hash: str
) -> Recomputed | None:
    """The workers' Merkle ranges chained in order, after the record before the window."""
    start = None
    if anchor_seq is not None:
        start = RangeHashes(anchor_seq)
        start.push(0, leaf_hash(bytes.fromhex(anchor_hash)))
    trees = [chunk.tree for chunk in chunks]
    if any(tree is None for tree in trees):
        return None
    return join_chunks(start, [tree for tree in trees if tree is not None])


def check_range(task: _Range) -> ChunkResult:
    """Worker: check the lines that start within ``[low, high)`` of one partition file.

    With checkpoints, the records their checks name are picked out of the same lines
    (:class:`~...checkpoint_verify.SeqCapture`), so the parent need not look them up.
    """
    feed = TreeFeed(task.tree_sizes) if task.tree_sizes is not None else None
    checker = ChainChecker(max_failures=1, hashes=feed)
    checker.start_anywhere()
    first: list[bytes] = []
    captures: list[SeqCapture] = []
    lines = _lines(task, first)
    if task.tree_sizes is not None:
        lines = _capturing(task.path, wanted_seqs(task.tree_sizes), lines, captures)
    checker.feed(task.name, task.path, task.day, lines)
    checker.finish()
    return ChunkResult(
        name=task.name,
        location=task.path,
        day=task.day,
        count=checker.checked,
        clean=checker.failure_count == 0 and not checker.notes,
        first_line=first[0] if first else b"",
        last=checker.tail(),
        tree=chunk_tree(feed) if feed is not None else None,
        records=tuple(record for capture in captures for record in capture.found.values()),
    )


def _capturing(
    location: str, wanted: list[int], lines: Iterator[bytes], captures: list[SeqCapture]
) -> Iterator[bytes]:
    """``lines`` through a :class:`SeqCapture` (appended to ``captures``) of the ``wanted``
    records from the range's first record on: the earlier ones are other ranges' to take."""
    head = next(lines, None)
    if head is None:
        return
    try:
        begin = parse_header(head.rstrip(b"\n")).seq
    except MalformedLine:
        begin = 0
    capture = SeqCapture(seq for seq in wanted if seq >= begin)
    captures.append(capture)
    yield from capture.lines(itertools.chain([head], lines), location)


def _lines(task: _Range, first: list[bytes]) -> Iterator[bytes]:
    """Lines starting in ``[low, high)``; a line straddling ``low`` belongs to the range before."""
    with storage_errors(Path(task.path)), open_regular(Path(task.path)) as handle:
        position = _line_start(handle, task.low)
        handle.seek(position)
        for line in bounded_lines(Path(task.path), handle, task.size - position, task.max_line):
            if position >= task.high:
                return
            if not first:
                first.append(line)
            position += line.length if isinstance(line, OversizedLine) else len(line)
            yield line


def _line_start(handle: BinaryIO, low: int) -> int:
    """The offset of the first line starting at or after ``low`` (reads ahead in blocks)."""
    if low == 0:
        return 0
    position = low - 1
    handle.seek(position)
    while data := handle.read(1 << 16):
        newline = data.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(data)
    return position
