"""The verifier's half of the chain: a streaming checker over record lines.

Pure: it is fed segments (a file or an object) as iterables of raw lines, in chain order, and
keeps only the previous record in memory, so memory stays flat whatever the log size.
After a failure it resynchronises on the failing record, so one tamper yields one failure and
later, independent tampers are still found.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from .records import (
    GENESIS_HASH,
    HASH_MEMBER,
    HEAD,
    HEAD_LEN,
    SEQ_AT,
    SEQ_MEMBER,
    TS_MEMBER,
    LineHeader,
    MalformedLine,
    body_hash,
    decode_record,
    parse_header,
)
from .results import Failure, Note, Reason

RECOVERY_EVENT = "chain.recovered"
_RECOVERY_MARK = b'"eventType":"chain.recovered"'
_END = b'"}\n'
_AFTER_TS = b'",'


@dataclass(frozen=True, slots=True)
class Anchor:
    """The last record before a verification window (what the window's first record links to)."""

    seq: int
    hash: str
    timestamp: str
    location: str


@dataclass(slots=True)
class _Previous:
    seq: int
    hash: str
    timestamp: str
    location: str
    line: int


@dataclass(frozen=True, slots=True)
class _Segment:
    name: str
    location: str
    day_prefix: str
    new_day: bool


@dataclass(slots=True)
class _Fast:
    """Fast-path state: the bytes the next line starts with, its seq, the last timestamp.

    ``lines`` and ``size`` count what the fast path confirmed since it was (re)started.
    """

    prefix: bytes
    seq: int
    timestamp: bytes
    lines: int = 0
    size: int = 0

    def run(self, lines: Iterator[bytes], day: bytes) -> bytes | None:
        """Confirm lines while each is a terminated record that exactly continues the chain.

        Checks, on bytes and without decoding JSON: the header links to the previous hash,
        the seq is the next one, the timestamp is in the partition's day and not earlier than
        the last one, and the stored hash is SHA-256 of the body. Returns the first line that
        does not pass (for the full check, which names any failure), or ``None`` at the end.
        One tight loop over locals: this is the verifier's hot path.
        """
        prefix, seq, last_ts = self.prefix, self.seq, self.timestamp
        expected = b"%d" % seq
        cut = SEQ_AT + len(expected)
        sha256, count, size, missed = hashlib.sha256, 0, 0, None
        for raw in lines:
            timestamp = raw[cut + 14 : cut + 41]
            stored = raw[-67:-3]
            if not (
                raw.startswith(prefix)
                and raw[SEQ_AT:cut] == expected
                and raw[cut : cut + 14] == TS_MEMBER
                and raw[-76:-67] == HASH_MEMBER
                and raw[-3:] == _END
                and timestamp[:10] == day
                and timestamp >= last_ts
                and raw[cut + 41 : cut + 43] == _AFTER_TS
                and sha256(raw[:-76] + b"}").hexdigest().encode("ascii") == stored
            ):
                missed = raw
                break
            prefix = HEAD + stored + SEQ_MEMBER
            seq += 1
            expected = b"%d" % seq
            cut = SEQ_AT + len(expected)
            last_ts = timestamp
            count += 1
            size += len(raw)
        self.prefix, self.seq, self.timestamp = prefix, seq, last_ts
        self.lines += count
        self.size += size
        return missed


@dataclass(frozen=True, slots=True)
class _BadLine:
    """An unparseable line, held until we know whether a recovery record explains it."""

    name: str
    location: str
    line: int
    offset: int
    data: bytes
    terminated: bool
    error: str


class ChainChecker:
    """Checks hashes, links, sequence numbers and partition placement, line by line."""

    def __init__(self, *, max_failures: int = 100, windowed: bool = False) -> None:
        self.max_failures = max_failures
        self.failures: list[Failure] = []
        self.failure_count = 0
        self.notes: list[Note] = []
        self.checked = 0
        self.first: tuple[int, str] | None = None
        self._prev: _Previous | None = None
        self._windowed = windowed
        self._day: date | None = None
        self._bad: _BadLine | None = None
        self._resync = False

    @property
    def last(self) -> tuple[int, str] | None:
        return (self._prev.seq, self._prev.timestamp) if self._prev else None

    def set_anchor(self, anchor: Anchor) -> None:
        self._prev = _Previous(anchor.seq, anchor.hash, anchor.timestamp, anchor.location, 0)
        self._day = date.fromisoformat(anchor.timestamp[:10])

    def start_anywhere(self) -> None:
        """Accept the first record read as a starting point (a chunk of a longer segment)."""
        self._resync = True

    def tail(self) -> Anchor | None:
        """The last record checked, as an anchor the next stretch of the chain links to."""
        prev = self._prev
        return Anchor(prev.seq, prev.hash, prev.timestamp, prev.location) if prev else None

    def add_failure(self, failure: Failure) -> None:
        self.failure_count += 1
        if len(self.failures) < self.max_failures:
            self.failures.append(failure)

    def feed(self, name: str, location: str, day: date, lines: Iterable[bytes]) -> None:
        """Check one segment's lines (each with its trailing newline, if it has one).

        Records that continue the chain exactly are confirmed by :meth:`_Fast.run`, a fast
        byte-level test; anything else takes the full path, which names the failure.
        """
        new_day = day != self._day
        self._day = day
        segment = _Segment(name, location, day.isoformat(), new_day)
        day_bytes = segment.day_prefix.encode("ascii")
        offset, line_no = 0, 0
        remaining = iter(lines)
        while True:
            fast = self._fast_state()
            if fast is None:
                raw = next(remaining, None)
            else:
                raw = fast.run(remaining, day_bytes)
                line_no, offset = line_no + fast.lines, offset + fast.size
                self._leave_fast_path(fast, location, line_no)
            if raw is None:
                return
            line_no += 1
            self._check_line(segment, raw, line_no, offset)
            offset += len(raw)

    def _fast_state(self) -> _Fast | None:
        """The running state of the fast path, when nothing is pending that needs the full one."""
        prev = self._prev
        if prev is None or self._bad is not None or self._resync or self.first is None:
            return None
        return _Fast(
            prefix=HEAD + prev.hash.encode("ascii") + SEQ_MEMBER,
            seq=prev.seq + 1,
            timestamp=prev.timestamp.encode("ascii", "replace"),
        )

    def _leave_fast_path(self, fast: _Fast, location: str, line_no: int) -> None:
        if fast.lines:
            self.checked += fast.lines
            self._prev = _Previous(
                fast.seq - 1,
                fast.prefix[HEAD_LEN : HEAD_LEN + 64].decode("ascii"),
                fast.timestamp.decode("ascii"),
                location,
                line_no,
            )

    def _check_line(self, segment: _Segment, raw: bytes, line_no: int, offset: int) -> None:
        terminated = raw.endswith(b"\n")
        line = raw[:-1] if terminated else raw
        location = segment.location
        try:
            header = parse_header(line)
        except MalformedLine as exc:
            bad = _BadLine(segment.name, location, line_no, offset, line, terminated, str(exc))
            self._hold_bad(bad)
            return
        if self._bad is not None:
            self._settle_bad(line)
        self.checked += 1
        if self.first is None:
            self.first = (header.seq, header.timestamp)
        reason, message, related = self._check(
            header, line_no == 1, segment.new_day, segment.day_prefix
        )
        if reason is not None:
            self.add_failure(
                Failure(
                    reason,
                    message,
                    location,
                    line=line_no,
                    offset=offset,
                    seq=header.seq,
                    event_id=_event_id(line),
                    timestamp=header.timestamp,
                    related=related,
                )
            )
        self._prev = _Previous(header.seq, header.hash, header.timestamp, location, line_no)

    def _check(
        self, header: LineHeader, first_in_segment: bool, new_day: bool, day_prefix: str
    ) -> tuple[Reason | None, str, tuple[str, ...]]:
        if body_hash(header) != header.hash:
            return Reason.HASH_MISMATCH, "the stored hash does not match the record's bytes", ()
        prev = self._prev
        if self._resync:
            self._resync = False
            return None, "", ()
        if prev is None:
            if header.seq != 0:
                before = "before the window" if self._windowed else "in the log"
                return (
                    Reason.MISSING_PARTITION,
                    f"no partition {before} holds seq 0..{header.seq - 1}; "
                    "the chain's start is missing",
                    (),
                )
            if header.previous_hash != GENESIS_HASH:
                return Reason.BROKEN_LINK, "seq 0 does not link to the genesis hash", ()
            return None, "", ()
        evidence = (f"{prev.location} line {prev.line} (seq {prev.seq})",)
        expected = prev.seq + 1
        if header.seq > expected:
            missing = f"seq {expected}..{header.seq - 1} missing"
            if first_in_segment:
                kind = Reason.MISSING_PARTITION if new_day else Reason.MISSING_SEGMENT
                return kind, f"{missing} before this partition", evidence
            return Reason.SEQ_GAP, missing, evidence
        if header.seq < expected:
            return (
                Reason.SEQ_OUT_OF_ORDER,
                f"expected seq {expected} after seq {prev.seq}, found {header.seq}",
                evidence,
            )
        if header.previous_hash != prev.hash:
            return (
                Reason.BROKEN_LINK,
                f"previousHash {header.previous_hash[:16]}… does not match the hash "
                f"{prev.hash[:16]}… of seq {prev.seq}",
                evidence,
            )
        if header.timestamp[:10] != day_prefix or len(header.timestamp) != 27:
            return (
                Reason.PARTITION_MISMATCH,
                f"timestamp {header.timestamp} is not in partition {day_prefix}",
                (),
            )
        if header.timestamp < prev.timestamp:
            return (
                Reason.TIMESTAMP_REGRESSION,
                f"timestamp is earlier than seq {prev.seq}'s {prev.timestamp}",
                evidence,
            )
        return None, "", ()

    def _hold_bad(self, bad: _BadLine) -> None:
        if self._bad is not None:
            self._fail_bad(self._bad)
        self._bad = bad

    def _settle_bad(self, line: bytes) -> None:
        """A record follows an unparseable line: is it the recovery record that explains it?"""
        bad, self._bad = self._bad, None
        assert bad is not None
        if _RECOVERY_MARK in line and _explains(_payload(line), bad):
            self.notes.append(
                Note(
                    "crash_recovery",
                    f"{len(bad.data)} torn bytes at offset {bad.offset} (line {bad.line}) were "
                    "left by an interrupted write and are named by the next record's "
                    f"{RECOVERY_EVENT} event",
                    bad.location,
                )
            )
            return
        self._fail_bad(bad)

    def _fail_bad(self, bad: _BadLine) -> None:
        """Report an unexplained bad line; the next record starts a fresh link (resync)."""
        self._resync = True
        reason = Reason.INVALID_JSON
        try:
            json.loads(bad.data)
            reason = Reason.MALFORMED_RECORD
        except ValueError:
            pass
        self.add_failure(Failure(reason, bad.error, bad.location, line=bad.line, offset=bad.offset))

    def finish(self) -> None:
        """Settle a trailing unparseable line at the end of what was read.

        An unterminated fragment at the very end is what a crashed (or still running) write
        leaves; it fails verification until a writer restarts and records the recovery.
        """
        bad, self._bad = self._bad, None
        if bad is None:
            return
        if bad.terminated:
            self._fail_bad(bad)
            return
        self.add_failure(
            Failure(
                Reason.UNTERMINATED_TAIL,
                f"the last {len(bad.data)} bytes are an unfinished write ({bad.error})",
                bad.location,
                line=bad.line,
                offset=bad.offset,
            )
        )


def _explains(payload: Any, bad: _BadLine) -> bool:
    if not isinstance(payload, dict):
        return False
    return bool(
        payload.get("file") == bad.name
        and payload.get("offset") == bad.offset
        and payload.get("length") == len(bad.data)
        and payload.get("sha256") == hashlib.sha256(bad.data).hexdigest()
    )


def _payload(line: bytes) -> Any:
    try:
        return decode_record(line).get("payload")
    except MalformedLine:
        return None


def _event_id(line: bytes) -> str | None:
    try:
        value = json.loads(line).get("eventId")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
