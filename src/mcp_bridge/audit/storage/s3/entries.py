"""Reading the tail of the S3 log for the checkpoint writer: records from a given seq on.

Segment keys name their first seq, so the newest keys (listed newest day first) show which
segments hold the wanted records without reading any other: those are then read oldest first.
Forward markers (empty) are skipped; the writer checks that the records continue its chain.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...checkpoint_store import LogEntry, log_entry
from ...errors import AuditCorruptionError
from ...records import MalformedLine
from .layout import parse_segment_key
from .tail import TailFinder


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
