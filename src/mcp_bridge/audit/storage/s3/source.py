"""Reading an S3 trail for verification (``verify s3://bucket/prefix``).

Listing uses ListObjectVersions, one request per folder level and per 1,000 versions of a day,
and every segment is read whole with one GetObject of its *original* version; its Object Lock
and KMS headers come back with the body, so the cost stays near one request per segment.
Failures found while reading (lock, KMS, a key whose content does not start at its seq) join
their segment's failures, so the report keeps them in chain order.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from ...chain import Anchor, BadLine, FollowingLine, OversizedLine, find_anchor
from ...checkpoint_store import CHECKPOINT_DIR, TILE_DIR
from ...engine import Segment
from ...errors import AuditUsageError
from ...layout import day_key
from ...records import LineHeader, MalformedLine, parse_header
from ...results import Failure, Note, Reason
from .client import ClientOptions, S3Connection, StoredObject, connect, get_object, list_versions
from .inventory import KeyHistory, classify, group_by_key, hiding_failures, unexpected
from .layout import normalise_prefix, parse_s3_url, parse_segment_key, segment_key
from .policy import ObjectPolicy
from .tail import forward_target

_NO_KMS = "none"
#: Default maximum record size (bytes, newline excluded); longer lines are skipped unread.
DEFAULT_MAX_RECORD_BYTES = 1 << 20
#: Non-record lines collected while looking for the record before a window.
_ANCHOR_BAD_LINES = 16


def open_s3_source(
    url: str,
    *,
    object_lock_mode: str | None = None,
    object_lock_days: int | None = None,
    kms_key_id: str | None = None,
    kms_required_since: date | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    options: ClientOptions | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    object_lock: bool = True,
    timeout: float | None = None,
) -> S3Source:
    """A verifier's view of ``s3://bucket/prefix`` (endpoint defaults to AUDIT_S3_ENDPOINT_URL).

    Every object must carry Object Lock retention unless ``object_lock`` is False (a store
    without Object Lock); ``timeout`` bounds each connect and each read, in seconds.
    """
    bucket, prefix = _bucket_and_prefix(url)
    if not object_lock and (object_lock_mode or object_lock_days):
        raise AuditUsageError(
            "--no-object-lock contradicts --object-lock-mode/--object-lock-days",
            hint="either require a lock policy or turn the lock check off, not both",
        )
    policy = ObjectPolicy.create(
        object_lock_mode, object_lock_days, kms_key_id, kms_required_since, require_lock=object_lock
    )
    base = options or ClientOptions()
    connection = connect(
        ClientOptions(
            region=region or base.region,
            endpoint_url=endpoint_url or base.endpoint_url,
            connect_timeout=timeout or base.connect_timeout,
            read_timeout=timeout or base.read_timeout,
            max_attempts=base.max_attempts,
            retry_mode=base.retry_mode,
        )
    )
    return S3Source(connection, bucket, prefix, policy, max_record_bytes)


#: S3 bucket naming rules: 3-63 characters, lowercase letters, digits, dots and hyphens.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")


def _bucket_and_prefix(url: str) -> tuple[str, str]:
    """Split an ``s3://bucket/prefix`` location; a malformed one is a usage error (exit 2)."""
    try:
        bucket, prefix = parse_s3_url(url)
    except ValueError as exc:
        raise AuditUsageError(str(exc), hint="write the location as s3://bucket/prefix") from None
    if not bucket:
        raise AuditUsageError(f"{url!r} names no bucket", hint="use s3://bucket/prefix")
    if not _BUCKET_NAME.match(bucket):
        raise AuditUsageError(
            f"{bucket!r} in {url!r} is not a valid bucket name",
            hint="a bucket name has 3-63 characters: lowercase letters, digits, dots and "
            "hyphens, starting and ending with a letter or digit",
        )
    return bucket, prefix


class S3Source:
    """An S3 audit prefix as a :class:`~mcp_bridge.audit.engine.RecordSource`."""

    def __init__(
        self,
        connection: S3Connection,
        bucket: str,
        prefix: str,
        policy: ObjectPolicy,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self._connection = connection
        self._max_record_bytes = max_record_bytes
        self._bucket = bucket
        self._prefix = prefix
        self._policy = policy
        self._failures: list[Failure] = []
        self._kms: Counter[str] = Counter()
        self._days: list[tuple[date, str]] | None = None
        self._markers: dict[tuple[date, int], date] = {}
        self._listed_days: set[date] = set()
        self._previous_day: date | None = None

    @property
    def description(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}"

    def segments(self, start: date | None, end: date | None) -> Sequence[Segment]:
        found: list[Segment] = []
        for day, folder in self._all_days():
            if (start is None or day >= start) and (end is None or day <= end):
                self._listed_days.add(day)
                found.extend(self._day_segments(day, folder))
        return found

    def anchor_before(self, start: date) -> Anchor | None:
        """The last record of the newest data segment before ``start`` (original versions).

        Found, not guessed: lines that are not records after it are kept in its ``trailing``.
        """
        trailing: list[BadLine] = []
        days = [day for day, _ in self._all_days() if day < start]
        for obj in self._data_objects(days, newest_first=True):
            anchor, found = _last_record(obj, self._max_record_bytes)
            trailing.extend(found)
            if anchor is not None:
                self._previous_day = _key_day(self._prefix, obj.key)
                return replace(anchor, trailing=tuple(reversed(trailing)))
            if len(trailing) >= _ANCHOR_BAD_LINES:
                return None
        return None

    def first_after(self, end: date) -> FollowingLine | None:
        """The first line of the first data segment after ``end`` (one listing, one GET)."""
        days = [day for day, _ in self._all_days() if day > end]
        for obj in self._data_objects(days, newest_first=False):
            for line in bounded_lines(obj.body, self._max_record_bytes):
                return FollowingLine(obj.key, obj.key, _key_day(self._prefix, obj.key), line)
        return None

    def empty_reason(self) -> str | None:
        if self._all_days():
            return None
        return (
            f"no audit store under {self.description}: no segment or forward marker "
            "(YYYY/MM/DD/<seq>.jsonl) was found under the prefix"
        )

    def _data_objects(self, days: list[date], newest_first: bool) -> Iterator[StoredObject]:
        """The original version of every data segment of ``days``, in chain order or reversed."""
        folders = dict(self._all_days())
        for day in sorted(days, reverse=newest_first):
            listing = list_versions(self._connection, self._bucket, folders[day])
            histories = group_by_key(listing.versions)
            for history in reversed(histories) if newest_first else histories:
                original = history.original
                named = classify(self._prefix, history)
                if original is None or original.size == 0 or isinstance(named, Failure):
                    continue
                obj = self._get(history.key, original.version_id)
                if obj is not None:
                    yield obj

    def finish(self) -> tuple[list[Failure], list[Note], dict[str, Any]]:
        stats = {
            "objectsByKmsKeyId": dict(sorted(self._kms.items())),
            "s3Requests": self._connection.requests,
            "bytesRead": self._connection.bytes_read,
        }
        return self._failures, [], stats

    def _day_segments(self, day: date, folder: str) -> list[Segment]:
        listing = list_versions(self._connection, self._bucket, folder)
        for sub in listing.folders:
            self._report_folder(sub, "a folder inside a day partition")
        segments: list[Segment] = []
        for history in group_by_key(listing.versions):
            parsed = classify(self._prefix, history)
            hidden = hiding_failures(history)
            original = history.original
            if isinstance(parsed, Failure):
                self._failures.extend([parsed, *hidden])
                continue
            if original is None:
                self._failures.extend(hidden)
                continue
            if original.size == 0:
                self._check_marker(history, day, parsed.seq, hidden)
                continue
            found = list(hidden)
            segments.append(
                Segment(
                    name=history.key,
                    location=history.key,
                    day=day,
                    size=original.size,
                    open_lines=partial(
                        self._lines, history.key, original.version_id, day, parsed.seq, found
                    ),
                    failures=found,
                )
            )
        return segments

    def _lines(
        self, key: str, version_id: str, day: date, seq: int, failures: list[Failure]
    ) -> Iterator[bytes]:
        obj = self._get(key, version_id)
        if obj is None:
            failures.append(
                Failure(
                    Reason.OBJECT_DELETED,
                    "the original version listed can no longer be read",
                    key,
                    related=(f"{key}?versionId={version_id}",),
                )
            )
            return
        lines = list(bounded_lines(obj.body, self._max_record_bytes))
        first = _header(lines[0]) if lines else None
        last = _last_header(obj.body)
        if first is None or first.seq != seq:
            found = "no record" if first is None else f"seq {first.seq}"
            failures.append(
                Failure(
                    Reason.UNEXPECTED_OBJECT,
                    f"the object starts with {found}; a record with seq {seq} expected from its "
                    "key (a squatted or misplaced segment)",
                    key,
                    related=(f"{key}?versionId={version_id}",),
                )
            )
        newest = _moment(last.timestamp) if last else None
        failures.extend(self._policy.check(obj, day, newest))
        failures.extend(self._routing(key, day, seq))
        self._previous_day = day
        yield from lines

    def _routing(self, key: str, day: date, seq: int) -> list[Failure]:
        """A segment that starts a later day than the record before it must have been reached
        through forward markers from that record's day (the claim every writer contends on)."""
        day_before = self._previous_day
        if day_before is None or day <= day_before or day_before not in self._listed_days:
            return []
        hops, at = [], day_before
        while at < day and (at, seq) in self._markers:
            hops.append(segment_key(self._prefix, at, seq))
            at = self._markers[(at, seq)]
        if at == day:
            return []
        return [
            Failure(
                Reason.MISROUTED_SEGMENT,
                f"seq {seq} starts day {day_key(day)} but the record before it is on "
                f"{day_key(day_before)}, and no forward marker there leads to this day: the "
                "segment bypassed the claim every writer contends on",
                key,
                related=(segment_key(self._prefix, day_before, seq), *hops),
            )
        ]

    def _check_marker(
        self, history: KeyHistory, day: date, seq: int, hidden: list[Failure]
    ) -> None:
        """A forward marker: locked like data, and pointing to a later day."""
        self._failures.extend(hidden)
        original = history.original
        assert original is not None
        obj = self._get(history.key, original.version_id)
        if obj is None:
            return
        target = forward_target(obj)
        if target is None or target <= day:
            self._failures.append(
                unexpected(
                    history,
                    "an empty object that is no forward marker to a later day; "
                    "a data segment or a forward marker expected",
                )
            )
            return
        self._markers[(day, seq)] = target
        midnight = datetime.combine(target, datetime.min.time(), UTC)
        self._failures.extend(self._policy.check(obj, day, midnight))
        self._check_marker_target(history.key, target, seq)

    def _check_marker_target(self, key: str, target: date, seq: int) -> None:
        """A forward marker announces seq ``seq`` on ``target``: that key must exist."""
        expected = segment_key(self._prefix, target, seq)
        listing = list_versions(self._connection, self._bucket, expected)
        if any(version.key == expected for version in listing.versions):
            return
        self._failures.append(
            Failure(
                Reason.MISSING_SEGMENT,
                f"this forward marker points to {day_key(target)}, but no segment or marker "
                f"for seq {seq} is there: the records it announces are missing (a writer that "
                "crashed right after the marker fills that key when it restarts)",
                key,
                seq=seq,
                related=(expected,),
            )
        )

    def _get(self, key: str, version_id: str) -> StoredObject | None:
        obj = get_object(self._connection, self._bucket, key, version_id)
        if obj is not None:
            self._kms[obj.kms_key_id or _NO_KMS] += 1
        return obj

    def _all_days(self) -> list[tuple[date, str]]:
        """Every day folder under the prefix, oldest first (listed once per run)."""
        if self._days is None:
            self._days = []
            root = normalise_prefix(self._prefix)
            for year in self._level(root, 4):
                for month in self._level(year, 2):
                    for day in self._level(month, 2):
                        parsed = _folder_day(root, day)
                        if parsed is None:
                            self._report_folder(day, "not a real date")
                        else:
                            self._days.append((parsed, day))
        return self._days

    def _level(self, parent: str, width: int) -> list[str]:
        """Sub-folders named by ``width`` digits; anything else at this level is reported."""
        listing = list_versions(self._connection, self._bucket, parent)
        for history in group_by_key(listing.versions):
            self._failures.append(unexpected(history, "an object outside any day partition"))
        good: list[str] = []
        at_root = parent == normalise_prefix(self._prefix)
        for folder in listing.folders:
            name = folder[len(parent) : -1]
            if len(name) == width and name.isdigit():
                good.append(folder)
            elif at_root and name in (CHECKPOINT_DIR, TILE_DIR):
                continue  # signed checkpoints and hash tiles live beside the log
            else:
                self._report_folder(folder, "not a YYYY/MM/DD partition")
        return sorted(good)

    def _report_folder(self, folder: str, why: str) -> None:
        listing = list_versions(self._connection, self._bucket, folder, recursive=True)
        for history in group_by_key(listing.versions):
            self._failures.append(unexpected(history, f"an object in {folder} ({why}) found"))


def bounded_lines(body: bytes, max_line: int) -> Iterator[bytes]:
    """A segment's lines (split at newlines only); a line longer than ``max_line`` comes as an
    :class:`~mcp_bridge.audit.chain.OversizedLine`."""
    for line in io.BytesIO(body):
        length = len(line) - line.endswith(b"\n")
        yield line if length <= max_line else OversizedLine(line[:max_line], len(line), max_line)


def _last_record(obj: StoredObject, max_line: int) -> tuple[Anchor | None, list[BadLine]]:
    """The last record of a segment and the non-record lines after it (with line numbers)."""
    entries: list[tuple[int, bytes, bool]] = []
    offset = 0
    for line in bounded_lines(obj.body, max_line):
        terminated = not isinstance(line, OversizedLine) and line.endswith(b"\n")
        data = line[:-1] if terminated else line
        entries.append((offset, data, terminated))
        offset += line.length if isinstance(line, OversizedLine) else len(line)
    numbers = {entry[0]: index + 1 for index, entry in enumerate(entries)}
    anchor, at, bad_lines = find_anchor(obj.key, obj.key, reversed(entries), _ANCHOR_BAD_LINES)
    bad_lines = [replace(bad, line=numbers[bad.offset]) for bad in bad_lines]
    if anchor is not None:
        anchor = replace(anchor, line=numbers[at])
    return anchor, bad_lines


def _key_day(prefix: str, key: str) -> date:
    parsed = parse_segment_key(prefix, key)
    assert parsed is not None  # only segment keys are read as data
    return parsed.day


def _folder_day(root: str, folder: str) -> date | None:
    parts = folder[len(root) :].strip("/").split("/")
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except (ValueError, IndexError):
        return None


def _header(line: bytes) -> LineHeader | None:
    try:
        return parse_header(line.rstrip(b"\n"))
    except MalformedLine:
        return None


def _last_header(body: bytes) -> LineHeader | None:
    for line in reversed(body.splitlines()):
        header = _header(line)
        if header is not None:
            return header
    return None


def _moment(timestamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(timestamp)
    except ValueError:
        return None


__all__ = ["S3Source", "open_s3_source"]
