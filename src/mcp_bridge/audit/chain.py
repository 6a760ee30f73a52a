"""The verifier's half of the chain: a streaming checker over record lines.

Pure: it is fed segments (a file or an object) as iterables of raw lines, in chain order, and
keeps only the previous record in memory, so memory stays flat whatever the log size.
After a failure it resynchronises on the failing record, so one tamper yields one failure and
later, independent tampers are still found.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import islice
from typing import Any, Protocol

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
#: The fast path hands over confirmed record hashes in batches of at most this many lines.
FAST_BATCH = 4096
_RECOVERY_MARK = b'"eventType":"chain.recovered"'
_END = b'"}\n'
_AFTER_TS = b'",'


class RecordHashes(Protocol):
    """Where the checker sends the hash of every record the chain moves on to, in order
    (the Merkle tree of ``verify --vkey``, :class:`~.tree_stream.TreeFeed`)."""

    def add(self, seq: int, hexes: list[bytes]) -> None:
        """Records ``seq, seq + 1, ...`` have these hashes (hex, as stored)."""
        ...

    def broken(self, at: int) -> None:
        """The record given for seq ``at`` was not the genuine one after all."""
        ...


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a record, held until we know whether a recovery record explains it.

    ``anchoring`` marks a line found next to a verification window while looking for the
    record the window links to: unexplained, it is reported as ``window_anchor``.
    """

    name: str
    location: str
    line: int | None
    offset: int
    data: bytes
    terminated: bool
    error: str
    anchoring: bool = False


@dataclass(frozen=True, slots=True)
class Anchor:
    """The last record before a verification window (what the window's first record links to).

    ``trailing`` are the non-record lines found after it, oldest first (a torn write that the
    window's first record may explain, or damage that is reported as an anchoring failure).
    """

    seq: int
    hash: str
    timestamp: str
    location: str
    line: int | None = None
    trailing: tuple[BadLine, ...] = ()

    def describe(self) -> str:
        where = _where(self.location, self.line)
        return f"anchored on seq {self.seq} ({where}), the last record before the window"


@dataclass(frozen=True, slots=True)
class FollowingLine:
    """The first line after a verification window: the next segment's first line."""

    name: str
    location: str
    day: date
    line: bytes


class OversizedLine(bytes):
    """The first bytes of a line longer than the maximum record size (the rest was skipped).

    Readers yield it instead of the line, so no input makes memory grow without bound;
    ``length`` is the line's real length in bytes, ``limit`` the maximum it exceeded.
    """

    length: int
    limit: int

    def __new__(cls, head: bytes, length: int, limit: int) -> OversizedLine:
        made = super().__new__(cls, head)
        made.length, made.limit = length, limit
        return made


@dataclass(slots=True)
class _Previous:
    seq: int
    hash: str
    timestamp: str
    location: str
    line: int | None

    def describe(self) -> str:
        return f"{_where(self.location, self.line)} (seq {self.seq})"


@dataclass(frozen=True, slots=True)
class _Segment:
    name: str
    location: str
    day_prefix: str
    new_day: bool
    prior_day: date | None


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
    hashes: list[bytes] = field(default_factory=list)

    def run(self, lines: Iterable[bytes], day: bytes) -> bytes | None:
        """Confirm lines while each is a terminated record that exactly continues the chain.

        Checks, on bytes and without decoding JSON: the header links to the previous hash,
        the seq is the next one, the timestamp is in the partition's day and not earlier than
        the last one, and the stored hash is SHA-256 of the body. Returns the first line that
        does not pass (for the full check, which names any failure), or ``None`` at the end.
        The confirmed records' hashes (hex, as stored) are kept in ``hashes`` for the Merkle
        tree (``verify --vkey``). One tight loop over locals: this is the verifier's hot path.
        """
        prefix, seq, last_ts = self.prefix, self.seq, self.timestamp
        expected = b"%d" % seq
        cut = SEQ_AT + len(expected)
        sha256, count, size, missed = hashlib.sha256, 0, 0, None
        keep = self.hashes.append
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
            keep(stored)
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


@dataclass(slots=True)
class _Gap:
    """A forward jump in seq, reported at once but kept open: if the skipped records turn up
    later (a *backfill* that links to ``before``), they were moved, not deleted, and the
    report is rewritten to name the moved records instead."""

    before: _Previous
    jump: _Previous
    jump_link: str
    index: int | None
    forward_tail: _Previous | None = None
    backfill_first: _Previous | None = None


class ChainChecker:
    """Checks hashes, links, sequence numbers and partition placement, line by line."""

    def __init__(
        self,
        *,
        max_failures: int = 100,
        windowed: bool = False,
        hashes: RecordHashes | None = None,
    ) -> None:
        self.max_failures = max_failures
        self.hashes = hashes
        self.failures: list[Failure] = []
        self.failure_count = 0
        self.notes: list[Note] = []
        self.checked = 0
        self.first: tuple[int, str] | None = None
        self._prev: _Previous | None = None
        self._windowed = windowed
        self._day: date | None = None
        self._bad: BadLine | None = None
        self._resync = False
        self._probing = False
        self._gap: _Gap | None = None
        self._rival: _Previous | None = None

    @property
    def last(self) -> tuple[int, str] | None:
        return (self._prev.seq, self._prev.timestamp) if self._prev else None

    def set_anchor(self, anchor: Anchor) -> None:
        """Start from the record before the window; hold the non-record lines found after it."""
        self._prev = _Previous(
            anchor.seq, anchor.hash, anchor.timestamp, anchor.location, anchor.line
        )
        self._day = date.fromisoformat(anchor.timestamp[:10])
        if self.hashes is not None:
            self.hashes.add(anchor.seq, [anchor.hash.encode("ascii")])
        for bad in anchor.trailing:
            self._hold_bad(bad)

    def start_anywhere(self) -> None:
        """Accept the first record read as a starting point (a chunk of a longer segment)."""
        self._resync = True

    def tail(self) -> Anchor | None:
        """The last record checked, as an anchor the next stretch of the chain links to."""
        prev = self._prev
        return Anchor(prev.seq, prev.hash, prev.timestamp, prev.location) if prev else None

    def add_failure(self, failure: Failure) -> int | None:
        """Record a failure; its index in :attr:`failures`, or ``None`` beyond the cap."""
        self.failure_count += 1
        if len(self.failures) < self.max_failures:
            self.failures.append(failure)
            return len(self.failures) - 1
        return None

    def feed(self, name: str, location: str, day: date, lines: Iterable[bytes]) -> None:
        """Check one segment's lines (each with its trailing newline, if it has one).

        Records that continue the chain exactly are confirmed by :meth:`_Fast.run`, a fast
        byte-level test; anything else takes the full path, which names the failure.
        """
        new_day = day != self._day
        segment = _Segment(name, location, day.isoformat(), new_day, self._day)
        self._day = day
        day_bytes = segment.day_prefix.encode("ascii")
        offset, line_no = 0, 0
        remaining = iter(lines)
        while True:
            fast = self._fast_state()
            if fast is None:
                raw = next(remaining, None)
            else:
                raw = fast.run(islice(remaining, FAST_BATCH), day_bytes)
                line_no, offset = line_no + fast.lines, offset + fast.size
                self._leave_fast_path(fast, location, line_no)
                if raw is None and fast.lines == FAST_BATCH:
                    continue  # a full batch: more lines may follow
            if raw is None:
                return
            line_no += 1
            self._check_line(segment, raw, line_no, offset)
            offset += raw.length if isinstance(raw, OversizedLine) else len(raw)

    def close_with(self, following: FollowingLine | None) -> str:
        """Check that the first record after the window continues it; say how it closed.

        The following record is checked like any other (a torn write at the window's end
        may be explained by it) but is not counted: it belongs to the next window.
        """
        if following is None:
            return "the window reaches the end of the log"
        try:
            header = parse_header(following.line.rstrip(b"\n"))
        except MalformedLine as exc:
            self.add_failure(
                Failure(
                    Reason.WINDOW_ANCHOR,
                    f"the first line after the window is not a record ({exc}); the window's "
                    "end cannot be proven",
                    following.location,
                    line=1,
                    offset=0,
                )
            )
            return f"not proven: {following.location} line 1 is not a record"
        self._probing = True
        try:
            self.feed(following.name, following.location, following.day, [following.line])
        finally:
            self._probing = False
        return f"closed by seq {header.seq} in {following.location} line 1"

    def _fast_state(self) -> _Fast | None:
        """The running state of the fast path, when nothing is pending that needs the full one."""
        prev = self._prev
        if (
            prev is None
            or self._bad is not None
            or self._resync
            or self.first is None
            or self._rival is not None
            or self._probing
        ):
            return None
        return _Fast(
            prefix=HEAD + prev.hash.encode("ascii") + SEQ_MEMBER,
            seq=prev.seq + 1,
            timestamp=prev.timestamp.encode("ascii", "replace"),
        )

    def _leave_fast_path(self, fast: _Fast, location: str, line_no: int) -> None:
        if fast.lines:
            if self.hashes is not None:
                self.hashes.add(fast.seq - fast.lines, fast.hashes)
            self.checked += fast.lines
            self._prev = _Previous(
                fast.seq - 1,
                fast.prefix[HEAD_LEN : HEAD_LEN + 64].decode("ascii"),
                fast.timestamp.decode("ascii"),
                location,
                line_no,
            )

    def _check_line(self, segment: _Segment, raw: bytes, line_no: int, offset: int) -> None:
        location = segment.location
        if isinstance(raw, OversizedLine):
            self._oversized(raw, location, line_no, offset)
            return
        terminated = raw.endswith(b"\n")
        line = raw[:-1] if terminated else raw
        try:
            header = parse_header(line)
        except MalformedLine as exc:
            bad = BadLine(segment.name, location, line_no, offset, line, terminated, str(exc))
            self._hold_bad(bad)
            return
        if self._bad is not None:
            self._settle_bad(line)
        if not self._probing:
            self.checked += 1
            if self.first is None:
                self.first = (header.seq, header.timestamp)
        record = _Previous(header.seq, header.hash, header.timestamp, location, line_no)
        verdict = self._check(header, record, segment)
        if verdict.failure is not None:
            failure = replace(verdict.failure, offset=offset, event_id=_event_id(line))
            index = self.add_failure(failure)
            if self._gap is not None and self._gap.jump is record:
                self._gap.index = index
        if verdict.advance and not self._probing:
            self._prev = record
            if self.hashes is not None:
                self.hashes.add(header.seq, [header.hash.encode("ascii")])

    def _oversized(self, raw: OversizedLine, location: str, line_no: int, offset: int) -> None:
        if self._bad is not None:
            self._fail_bad(self._bad)
            self._bad = None
        self._resync = True
        self.add_failure(
            Failure(
                Reason.RECORD_TOO_LARGE,
                f"the line is {raw.length:,} bytes, more than the maximum record size of "
                f"{raw.limit:,} bytes; it was skipped unread",
                location,
                line=line_no,
                offset=offset,
            )
        )

    def _check(self, header: LineHeader, record: _Previous, segment: _Segment) -> _Verdict:
        if body_hash(header) != header.hash:
            return _Verdict(
                _failure(
                    Reason.HASH_MISMATCH,
                    "the stored hash does not match the record's bytes",
                    record,
                )
            )
        if self._resync:
            self._resync = False
            return _OK
        prev = self._prev
        if prev is None:
            return _Verdict(self._chain_start(header, record))
        prev = self._settle_pending(header, prev)
        expected = prev.seq + 1
        if header.seq > expected:
            return _Verdict(self._jump(header, record, prev, segment))
        if header.seq < expected:
            return self._behind(header, record, prev, segment)
        if header.previous_hash != prev.hash:
            return _Verdict(
                _failure(
                    Reason.BROKEN_LINK,
                    f"previousHash {header.previous_hash[:16]}… does not match the hash "
                    f"{prev.hash[:16]}… of seq {prev.seq}",
                    record,
                    prev,
                )
            )
        return _Verdict(_placement(header, record, prev, segment.day_prefix))

    def _chain_start(self, header: LineHeader, record: _Previous) -> Failure | None:
        if header.seq != 0:
            before = "before the window" if self._windowed else "in the log"
            return _failure(
                Reason.MISSING_PARTITION,
                f"no partition {before} holds seq 0..{header.seq - 1}; "
                "the chain's start is missing",
                record,
            )
        if header.previous_hash != GENESIS_HASH:
            return _failure(Reason.BROKEN_LINK, "seq 0 does not link to the genesis hash", record)
        return None

    def _jump(
        self, header: LineHeader, record: _Previous, prev: _Previous, segment: _Segment
    ) -> Failure:
        """Records are missing before this one (or were moved: see :class:`_Gap`)."""
        self._gap = _Gap(prev, record, header.previous_hash, None)
        return _gap_failure(prev, record, segment)

    def _behind(
        self, header: LineHeader, record: _Previous, prev: _Previous, segment: _Segment
    ) -> _Verdict:
        """A record whose seq the chain has already passed: duplicated, inserted or moved."""
        if header.hash == prev.hash:
            return _Verdict(
                _failure(
                    Reason.SEQ_OUT_OF_ORDER,
                    f"a duplicate of the record at {prev.describe()}",
                    record,
                    prev,
                ),
                advance=False,
            )
        if header.seq == prev.seq and self._rival is None:
            self._rival = record  # which of the two is genuine: the next record decides
            return _Verdict(None, advance=False)
        gap = self._gap
        if (
            gap is not None
            and gap.forward_tail is None
            and header.seq == gap.before.seq + 1
            and header.previous_hash == gap.before.hash
        ):
            gap.forward_tail, gap.backfill_first = prev, record
            return _Verdict(_placement(header, record, gap.before, segment.day_prefix))
        return _Verdict(
            _failure(
                Reason.SEQ_OUT_OF_ORDER,
                f"seq {header.seq} repeats or goes back: the chain is already at seq {prev.seq} "
                f"({prev.describe()}); a moved, duplicated or inserted record",
                record,
                prev,
            ),
            advance=False,
        )

    def _settle_pending(self, header: LineHeader, prev: _Previous) -> _Previous:
        """Decide a pending rival or backfill now that the next record is known."""
        rival = self._rival
        if rival is not None:
            self._rival = None
            prev = self._settle_rival(header, prev, rival)
        gap = self._gap
        if gap is None or gap.forward_tail is None:
            return prev
        continues = header.seq == prev.seq + 1 and header.previous_hash == prev.hash
        complete = prev.seq == gap.jump.seq - 1 and gap.jump_link == prev.hash
        if complete or not continues:
            self._gap = None
            self._report_backfill(gap, prev, complete)
            self._prev = prev = gap.forward_tail
        return prev

    def _settle_rival(self, header: LineHeader, prev: _Previous, rival: _Previous) -> _Previous:
        """Two records share a seq: the one the next record does not link to was inserted."""
        if header.previous_hash == rival.hash and header.previous_hash != prev.hash:
            intruder, genuine = prev, rival
        else:
            intruder, genuine = rival, prev
        self.add_failure(_inserted(intruder, genuine))
        if genuine is rival and self.hashes is not None:
            self.hashes.broken(rival.seq)  # the tree was given the intruder's hash
        self._prev = genuine
        return genuine

    def _report_backfill(self, gap: _Gap, last: _Previous, complete: bool) -> None:
        """The records a gap skipped turned up later: name the moved block, not its neighbours."""
        first, tail = gap.backfill_first, gap.forward_tail
        assert first is not None and tail is not None
        moved = _moved(gap.before, gap.jump, tail, first, last)
        if complete:
            if gap.index is not None:
                self.failures[gap.index] = moved
            else:
                self.add_failure(moved)
            return
        self.add_failure(moved)
        if gap.index is not None:
            old = self.failures[gap.index]
            self.failures[gap.index] = replace(
                old,
                message=f"seq {last.seq + 1}..{gap.jump.seq - 1} missing "
                f"(seq {first.seq}..{last.seq} were found later, out of place)",
            )

    def _hold_bad(self, bad: BadLine) -> None:
        if self._bad is not None:
            self._fail_bad(self._bad)
        self._bad = bad

    def _settle_bad(self, line: bytes) -> None:
        """A record follows an unparseable line: is it the recovery record that explains it?"""
        bad, self._bad = self._bad, None
        assert bad is not None
        if _RECOVERY_MARK in line and _explains(_payload(line), bad):
            where = f"line {bad.line}" if bad.line else "its last line"
            self.notes.append(
                Note(
                    "crash_recovery",
                    f"{len(bad.data)} torn bytes at offset {bad.offset} ({where}) were "
                    "left by an interrupted write and are named by the next record's "
                    f"{RECOVERY_EVENT} event",
                    bad.location,
                )
            )
            return
        self._fail_bad(bad)

    def _fail_bad(self, bad: BadLine) -> None:
        """Report an unexplained bad line; the next record starts a fresh link (resync)."""
        self._resync = True
        if bad.anchoring:
            self.add_failure(
                Failure(
                    Reason.WINDOW_ANCHOR,
                    f"the line before the window is not a record ({bad.error}); the window "
                    "is anchored on the last valid record before it",
                    bad.location,
                    line=bad.line,
                    offset=bad.offset,
                )
            )
            return
        reason = Reason.INVALID_JSON
        try:
            json.loads(bad.data)
            reason = Reason.MALFORMED_RECORD
        except ValueError:
            pass
        self.add_failure(Failure(reason, bad.error, bad.location, line=bad.line, offset=bad.offset))

    def finish(self) -> None:
        """Settle what is pending at the end of what was read.

        An unterminated fragment at the very end is what a crashed (or still running) write
        leaves; it fails verification until a writer restarts and records the recovery.
        """
        if self._rival is not None and self._prev is not None:
            rival, self._rival = self._rival, None
            self.add_failure(_inserted(rival, self._prev))
        gap, self._gap = self._gap, None
        if gap is not None and gap.forward_tail is not None and self._prev is not None:
            complete = self._prev.seq == gap.jump.seq - 1 and gap.jump_link == self._prev.hash
            self._report_backfill(gap, self._prev, complete)
            self._prev = gap.forward_tail
        bad, self._bad = self._bad, None
        if bad is None:
            return
        if bad.terminated or bad.anchoring:
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


@dataclass(frozen=True, slots=True)
class _Verdict:
    """The outcome of checking one record: a failure (or none), and whether the chain moves on
    to it (a duplicate or an out-of-place record does not become the chain's tail)."""

    failure: Failure | None
    advance: bool = True


_OK = _Verdict(None)


def _failure(
    reason: Reason, message: str, record: _Previous, related: _Previous | None = None
) -> Failure:
    return Failure(
        reason,
        message,
        record.location,
        line=record.line,
        seq=record.seq,
        timestamp=record.timestamp,
        related=(related.describe(),) if related is not None else (),
    )


def _placement(
    header: LineHeader, record: _Previous, prev: _Previous, day_prefix: str
) -> Failure | None:
    """The record sits in the partition of its timestamp, which does not go backwards."""
    if header.timestamp[:10] != day_prefix or len(header.timestamp) != 27:
        return _failure(
            Reason.PARTITION_MISMATCH,
            f"timestamp {header.timestamp} is not in partition {day_prefix}",
            record,
        )
    if header.timestamp < prev.timestamp:
        return _failure(
            Reason.TIMESTAMP_REGRESSION,
            f"timestamp is earlier than seq {prev.seq}'s {prev.timestamp}",
            record,
            prev,
        )
    return None


def _gap_failure(prev: _Previous, record: _Previous, segment: _Segment) -> Failure:
    """Missing records, located where they must have been.

    Inside a segment the gap is at the record after it. Between the last record of one day and
    the first of the next calendar day, the records were at the end of the earlier file (or the
    start of the later one): the failure names the earlier side and both records. Across days
    with days in between, a whole partition may be missing: named at the later side.
    """
    missing = f"seq {prev.seq + 1}..{record.seq - 1} missing"
    if record.line != 1:
        return _failure(Reason.SEQ_GAP, missing, record, prev)
    if not segment.new_day:
        return _failure(Reason.MISSING_SEGMENT, f"{missing} before this segment", record, prev)
    prior = segment.prior_day
    if prior is not None and (date.fromisoformat(segment.day_prefix) - prior).days == 1:
        return Failure(
            Reason.SEQ_GAP,
            f"{missing} between the last record of this partition and the first of the next "
            f"day, {record.describe()}",
            prev.location,
            line=prev.line,
            seq=prev.seq,
            timestamp=prev.timestamp,
            related=(record.describe(),),
        )
    return _failure(Reason.MISSING_PARTITION, f"{missing} before this partition", record, prev)


def _inserted(intruder: _Previous, genuine: _Previous) -> Failure:
    return Failure(
        Reason.SEQ_OUT_OF_ORDER,
        f"seq {intruder.seq} repeats: {genuine.describe()} has the same seq and the chain "
        "continues from it, so this record was inserted",
        intruder.location,
        line=intruder.line,
        seq=intruder.seq,
        timestamp=intruder.timestamp,
        related=(genuine.describe(),),
    )


def _moved(
    before: _Previous, jump: _Previous, tail: _Previous, first: _Previous, last: _Previous
) -> Failure:
    """The shorter of the two swapped blocks is named as the one that moved."""
    if tail.seq - jump.seq <= last.seq - first.seq:
        return Failure(
            Reason.SEQ_OUT_OF_ORDER,
            f"seq {jump.seq}..{tail.seq} are out of place: they come before seq "
            f"{first.seq}..{last.seq} ({first.describe()}) but belong after seq {last.seq} "
            f"({last.describe()})",
            jump.location,
            line=jump.line,
            seq=jump.seq,
            timestamp=jump.timestamp,
            related=(first.describe(), last.describe()),
        )
    return Failure(
        Reason.SEQ_OUT_OF_ORDER,
        f"seq {first.seq}..{last.seq} are out of place: they come after seq "
        f"{jump.seq}..{tail.seq} but belong between seq {before.seq} ({before.describe()}) and "
        f"seq {jump.seq} ({jump.describe()})",
        first.location,
        line=first.line,
        seq=first.seq,
        timestamp=first.timestamp,
        related=(before.describe(), jump.describe()),
    )


def _where(location: str, line: int | None) -> str:
    return f"{location} line {line}" if line else location


def find_anchor(
    name: str, location: str, lines_back: Iterable[tuple[int, bytes, bool]], limit: int
) -> tuple[Anchor | None, int, list[BadLine]]:
    """Walk a segment's lines from its end to its last record (the record a window links to).

    Returns that record as an anchor (``None`` if the segment holds none), its byte offset, and
    the non-record lines passed on the way, newest first, at most ``limit`` of them: they are
    what the verifier found, reported as anchoring failures unless a recovery record explains
    a torn write among them.
    """
    bad_lines: list[BadLine] = []
    for offset, data, terminated in lines_back:
        if isinstance(data, OversizedLine):
            error = f"a line of {data.length:,} bytes, more than the maximum record size"
        else:
            try:
                header = parse_header(data)
            except MalformedLine as exc:
                error = str(exc)
            else:
                anchor = Anchor(header.seq, header.hash, header.timestamp, location)
                return anchor, offset, bad_lines
        bad_lines.append(BadLine(name, location, None, offset, data, terminated, error, True))
        if len(bad_lines) >= limit:
            break
    return None, 0, bad_lines


def _explains(payload: Any, bad: BadLine) -> bool:
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
