"""Reading records of the S3 log by seq: the writer's tail, and the few records of a tile.

Segment keys name their first seq, so listings show which segments hold the wanted records
without reading any other. :func:`entries_since` lists the newest keys (newest day first) and
reads the segments from the wanted seq to the tail. :class:`S3Records` finds the records of a
level-0 hash tile anywhere in the log: a binary search over the day folders by their first
key, a listing of that day starting a little before the wanted seq, then GETs of only the
segments that hold the records. Forward markers (empty) are skipped; the callers check that the
records continue their chain.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...checkpoint_store import LogEntry, StoredLine, log_entry
from ...errors import AuditCorruptionError
from ...records import MalformedLine, peek_seq
from .client import S3Connection, get_object, iter_keys
from .layout import SEQ_DIGITS, SUFFIX, parse_segment_key
from .tail import TailFinder

#: How far before the wanted seq a day's listing starts first (grown ×16 until it starts at or
#: before the segment that holds it).
_FIRST_STEP = 256
_PAGE = 256


def entries_since(finder: TailFinder, prefix: str, seq: int) -> Iterator[LogEntry]:
    """Records of the log under ``prefix`` with ``seq`` and above, in order."""
    keys: list[str] = []
    for key in finder.keys_newest_first():
        parsed = parse_segment_key(prefix, key)
        if parsed is None:
            continue
        keys.append(key)
        if parsed.seq <= seq:
            break
    for key in reversed(keys):
        obj = finder.read(key)
        if obj is None or not obj.body:
            continue
        for line in obj.body.splitlines():
            try:
                entry = log_entry(line, key)
            except MalformedLine as exc:
                raise AuditCorruptionError(f"{key}: a line is not a record ({exc})") from None
            if entry.seq >= seq:
                yield entry


class S3Records:
    """:class:`~...checkpoint_store.RecordRange` of the log under ``s3://bucket/prefix``.

    The day folders are listed once and listed again only when a read ends before the wanted
    records (the log grew into a new day since).
    """

    def __init__(self, connection: S3Connection, bucket: str, prefix: str) -> None:
        self._connection = connection
        self._bucket = bucket
        self._prefix = prefix
        self._finder = TailFinder(connection, bucket, prefix)
        self._days: list[str] | None = None

    def record_lines(self, start: int, end: int) -> list[StoredLine]:
        found = self._read(start, end, self._day_folders(fresh=False))
        if not found or peek_seq(found[-1].line) != end - 1:
            found = self._read(start, end, self._day_folders(fresh=True))
        return found

    def _day_folders(self, *, fresh: bool) -> list[str]:
        if self._days is None or fresh:
            self._days = list(self._finder.day_folders(newest_first=False))
        return self._days

    def _read(self, start: int, end: int, days: list[str]) -> list[StoredLine]:
        found: list[StoredLine] = []
        for first, key in self._keys_from(days, start):
            if first >= end:
                break
            obj = get_object(self._connection, self._bucket, key)
            for line in obj.body.splitlines() if obj is not None else ():
                seq = peek_seq(line)
                if seq is not None and seq >= end:
                    return found
                if seq is not None and seq >= start:
                    found.append(StoredLine(line, f"s3://{self._bucket}/{key}"))
        return found

    def _keys_from(self, days: list[str], start: int) -> Iterator[tuple[int, str]]:
        """Segment keys (first seq, key) in log order, from the one holding ``start`` on."""
        low, high = 0, len(days)
        while high - low > 1:  # the last day whose first key is at most start
            middle = (low + high) // 2
            first = next(self._keys(days[middle], None, page=1), None)
            if first is not None and first[0] <= start:
                low = middle
            else:
                high = middle
        if not days:
            return
        yield from self._from_holding(days[low], start)
        for day in days[low + 1 :]:
            yield from self._keys(day, None)

    def _from_holding(self, folder: str, start: int) -> Iterator[tuple[int, str]]:
        """One day's keys from the last one at or before ``start``: listed after the key of
        ``start - step``, the step growing until that listing begins at or before ``start``."""
        step = _FIRST_STEP
        while True:
            low = start - step
            after = None if low < 0 else f"{folder}{low:0{SEQ_DIGITS}d}{SUFFIX}"
            keys = self._keys(folder, after)
            holding = next(keys, None)
            if holding is None or (after is not None and holding[0] > start):
                if after is None:
                    return
                step *= 16
                continue
            for key in keys:
                if key[0] > start:
                    yield holding
                    yield key
                    yield from keys
                    return
                holding = key
            yield holding
            return

    def _keys(self, folder: str, after: str | None, page: int = _PAGE) -> Iterator[tuple[int, str]]:
        for key in iter_keys(
            self._connection, self._bucket, folder, start_after=after, page_size=page
        ):
            parsed = parse_segment_key(self._prefix, key)
            if parsed is not None:
                yield parsed.seq, key
