"""Key naming of the S3 store: ``prefix/YYYY/MM/DD/<first seq, 20 digits>.jsonl``.

Pure. The object at a key is either a *data segment* (records ``seq N..M``, all of day ``D``)
or a *forward marker* (empty body, metadata :data:`FORWARD_META` naming a later day). The
segment that starts at ``seq N`` is always claimed first under the day of record ``N-1``
(:data:`GENESIS_DAY` for ``seq 0``), so every writer that knows the tail contends on the same
key and a conditional write picks exactly one winner, even across midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ...layout import day_key

#: The "day" of the record before ``seq 0``: where the first segment is claimed.
GENESIS_DAY = date(1970, 1, 1)
#: User metadata (``x-amz-meta-audit-forward``) of a forward marker: the later day, YYYY/MM/DD.
FORWARD_META = "audit-forward"
SEQ_DIGITS = 20
SUFFIX = ".jsonl"

_SEGMENT_NAME = re.compile(rf"(\d{{{SEQ_DIGITS}}}){re.escape(SUFFIX)}\Z")
_DAY_PATH = re.compile(r"(\d{4})/(\d{2})/(\d{2})/")


@dataclass(frozen=True, slots=True)
class SegmentKey:
    """A parsed segment key: the partition day and the first ``seq`` it may hold."""

    day: date
    seq: int


def normalise_prefix(prefix: str) -> str:
    """``audit`` → ``audit/``; an empty prefix stays empty (the bucket root)."""
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


def day_prefix(prefix: str, day: date) -> str:
    """``audit/2025/10/24/``: the folder of one partition."""
    return f"{normalise_prefix(prefix)}{day_key(day)}/"


def segment_key(prefix: str, day: date, seq: int) -> str:
    return f"{day_prefix(prefix, day)}{seq:0{SEQ_DIGITS}d}{SUFFIX}"


def parse_segment_key(prefix: str, key: str) -> SegmentKey | None:
    """The day and seq a key names, or ``None`` if the writer never creates such a key."""
    root = normalise_prefix(prefix)
    if not key.startswith(root):
        return None
    rest = key[len(root) :]
    day_match = _DAY_PATH.match(rest)
    if day_match is None:
        return None
    name = _SEGMENT_NAME.match(rest[day_match.end() :])
    if name is None:
        return None
    try:
        day = date(int(day_match[1]), int(day_match[2]), int(day_match[3]))
    except ValueError:
        return None
    return SegmentKey(day, int(name[1]))


def parse_forward(value: str | None) -> date | None:
    """The target day of a forward marker's metadata value, or ``None`` if malformed."""
    if value is None:
        return None
    match = re.fullmatch(r"(\d{4})/(\d{2})/(\d{2})", value)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``."""
    if not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an s3:// URL")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    return bucket, prefix.strip("/")
