"""Finding the end of the chain in a bucket: where the next segment must be claimed.

A writer keeps a :class:`Position` (the tail record and the day folder where the segment
after it is claimed). Other writers may have moved the chain on, so the position is advanced
by *walking forward*: GET ``day/next_seq``; a data segment that links to the tail becomes the
new tail, a forward marker moves to its day, a missing key means we are at the end. On start
the walk begins from the newest data segment found by listing the newest day folders, so a
restart costs a few requests, never a scan of the whole log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from ...errors import AuditCorruptionError
from ...layout import day_of_timestamp
from ...records import LineHeader, MalformedLine, body_hash, parse_header
from ...sequencing import EMPTY_TAIL, ChainTail
from .client import S3Connection, StoredObject, get_object, list_folder
from .layout import (
    FORWARD_META,
    GENESIS_DAY,
    normalise_prefix,
    parse_forward,
    parse_segment_key,
    segment_key,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Position:
    """The chain's tail and the day folder where the segment after it is first claimed."""

    tail: ChainTail
    day: date

    @property
    def next_seq(self) -> int:
        return self.tail.next_seq


START = Position(EMPTY_TAIL, GENESIS_DAY)


@dataclass(frozen=True, slots=True)
class SegmentEnds:
    """The first and last record of a data segment whose every line has the record shape."""

    first: LineHeader
    last: LineHeader


def segment_ends(body: bytes) -> SegmentEnds | None:
    """First and last record of a segment body, or ``None`` if it is not a sealed segment."""
    lines = body.split(b"\n")
    if len(lines) < 2 or lines[-1] != b"":
        return None
    try:
        first, last = parse_header(lines[0]), parse_header(lines[-2])
    except MalformedLine:
        return None
    if body_hash(first) != first.hash or body_hash(last) != last.hash:
        return None
    return SegmentEnds(first, last)


def forward_target(obj: StoredObject) -> date | None:
    """The later day a forward marker points to (``None`` if ``obj`` is no marker)."""
    if obj.body:
        return None
    return parse_forward(obj.metadata.get(FORWARD_META))


class TailFinder:
    """Reads the bucket to locate (and re-locate) the end of the chain."""

    def __init__(self, connection: S3Connection, bucket: str, prefix: str) -> None:
        self._connection = connection
        self._bucket = bucket
        self._prefix = prefix

    def read(self, key: str) -> StoredObject | None:
        return get_object(self._connection, self._bucket, key)

    def advance(self, position: Position, obj: StoredObject) -> Position:
        """The position after the object found at ``position``'s claim key."""
        target = forward_target(obj)
        if target is not None:
            if target <= position.day:
                raise self._corrupt(obj.key, f"forward marker points back to {target}")
            return Position(position.tail, target)
        ends = segment_ends(obj.body)
        if (
            ends is None
            or ends.first.seq != position.next_seq
            or ends.first.previous_hash != position.tail.hash
        ):
            raise self._corrupt(obj.key, "object is not the segment that continues the chain")
        last = ends.last
        return Position(
            ChainTail(last.seq, last.hash, last.timestamp), day_of_timestamp(last.timestamp)
        )

    def walk(self, position: Position) -> Position:
        """Follow segments and markers written by others until the claim key is free."""
        while True:
            obj = self.read(segment_key(self._prefix, position.day, position.next_seq))
            if obj is None:
                return position
            position = self.advance(position, obj)

    def discover(self) -> Position:
        """The end of the chain, starting from the newest data segment that listing shows."""
        for key in self.keys_newest_first():
            obj = self.read(key)
            parsed = parse_segment_key(self._prefix, key)
            ends = segment_ends(obj.body) if obj is not None else None
            if parsed is None or ends is None or ends.first.seq != parsed.seq:
                continue  # a marker, or an object the writer never creates: look further back
            last = ends.last
            tail = ChainTail(last.seq, last.hash, last.timestamp)
            return self.walk(Position(tail, parsed.day))
        return self.walk(START)

    def keys_newest_first(self) -> Iterator[str]:
        """Segment keys, newest day folder first and newest key first within a day.

        Lazy: a normal restart reads one listing per folder level and stops at the first key.
        """
        for day in self.day_folders():
            listing = list_folder(self._connection, self._bucket, day)
            keys = [k for k in listing.keys if parse_segment_key(self._prefix, k)]
            yield from sorted(keys, reverse=True)

    def day_folders(self, *, newest_first: bool = True) -> Iterator[str]:
        """The ``YYYY/MM/DD/`` folders under the prefix (lazy: one listing per folder)."""
        root = normalise_prefix(self._prefix)
        for year in self._folders(root, 4, newest_first):
            for month in self._folders(year, 2, newest_first):
                yield from self._folders(month, 2, newest_first)

    def _folders(self, parent: str, width: int, newest_first: bool) -> list[str]:
        folders = list_folder(self._connection, self._bucket, parent).folders
        names = [
            f for f in folders if len(f) == len(parent) + width + 1 and f[-width - 1 : -1].isdigit()
        ]
        return sorted(names, reverse=newest_first)

    def _corrupt(self, key: str, why: str) -> AuditCorruptionError:
        return AuditCorruptionError(
            f"s3://{self._bucket}/{key}: {why}; refusing to write rather than fork the chain"
        )
