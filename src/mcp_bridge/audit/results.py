"""Verification results: typed failures with evidence, rendering to text and JSON.

A failure says where (file or object key, line, byte offset, seq, eventId, timestamp), why
(a stable reason code) and what to do. The JSON schema is documented in
``docs/mcp-bridge/audit-trail.md`` and versioned by ``schema``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

REPORT_SCHEMA = "mcp-bridge/verification-report/v1"


class Reason(StrEnum):
    """Why a record (or object) failed verification."""

    HASH_MISMATCH = "hash_mismatch"
    BROKEN_LINK = "broken_link"
    SEQ_GAP = "seq_gap"
    SEQ_OUT_OF_ORDER = "seq_out_of_order"
    INVALID_JSON = "invalid_json"
    MALFORMED_RECORD = "malformed_record"
    UNTERMINATED_TAIL = "unterminated_tail"
    MISSING_PARTITION = "missing_partition"
    MISSING_SEGMENT = "missing_segment"
    PARTITION_MISMATCH = "partition_mismatch"
    TIMESTAMP_REGRESSION = "timestamp_regression"
    OBJECT_LOCK_MISSING = "object_lock_missing"
    OBJECT_LOCK_MODE = "object_lock_mode"
    OBJECT_LOCK_RETENTION = "object_lock_retention"
    OBJECT_OVERWRITTEN = "object_overwritten"
    OBJECT_DELETED = "object_deleted"
    UNEXPECTED_OBJECT = "unexpected_object"
    MISROUTED_SEGMENT = "misrouted_segment"
    KMS_KEY = "kms_key"
    EMPTY_STORE = "empty_store"
    WINDOW_ANCHOR = "window_anchor"
    UNEXPECTED_FILE = "unexpected_file"
    RECORD_TOO_LARGE = "record_too_large"
    CHECKPOINT_SIGNATURE = "checkpoint_signature"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    CHECKPOINT_INCONSISTENT = "checkpoint_inconsistent"
    CHECKPOINT_DELETED = "checkpoint_deleted"
    LOG_TRUNCATED = "log_truncated"
    UNCOVERED_RECORDS = "uncovered_records"
    TILE_MISSING = "tile_missing"


_QUARANTINE = "quarantine the named files or objects (copy, never delete) and escalate"
_COMPARE = "compare the log with backups and the checkpoint mirror"
CHECKPOINT_HINTS: dict[Reason, str] = {
    Reason.CHECKPOINT_SIGNATURE: (
        "the checkpoint was not signed with the signing key: check --vkey / AUDIT_VERIFY_KEY; if "
        f"the key is right, someone replaced the checkpoint; {_QUARANTINE}"
    ),
    Reason.CHECKPOINT_MISMATCH: f"the log differs from what was signed; {_COMPARE}; {_QUARANTINE}",
    Reason.CHECKPOINT_INCONSISTENT: (
        f"two signed checkpoints disagree about the log's history; {_COMPARE}; {_QUARANTINE}"
    ),
    Reason.CHECKPOINT_DELETED: (
        "a checkpoint was removed from the store; restore it from the mirror (its copy proves "
        f"what the log held), then verify again; {_QUARANTINE}"
    ),
    Reason.LOG_TRUNCATED: (
        "records the named checkpoint covers are missing: restore them from backup or a "
        f"versioned bucket, then verify again; {_QUARANTINE}"
    ),
    Reason.UNCOVERED_RECORDS: (
        "records no checkpoint covers although a writer would have: they were appended after "
        "the writer stopped, or by someone without the signing key; check whether a writer ran "
        f"then (its logs), {_QUARANTINE}"
    ),
    Reason.TILE_MISSING: (
        "a hash tile the proof needs is missing or damaged; restore it from backup (tiles can "
        "be rebuilt from an intact log), then verify again"
    ),
}
HINTS: dict[Reason, str] = {
    Reason.HASH_MISMATCH: f"the record changed after it was written; {_QUARANTINE}",
    Reason.BROKEN_LINK: (
        "the record before this one was altered, replaced or removed; "
        f"compare both with backups; {_QUARANTINE}"
    ),
    Reason.SEQ_GAP: f"records are missing here; restore them from backup; {_QUARANTINE}",
    Reason.SEQ_OUT_OF_ORDER: f"records were moved or duplicated; {_QUARANTINE}",
    Reason.INVALID_JSON: f"this line is not a record; {_QUARANTINE}",
    Reason.MALFORMED_RECORD: f"this line is JSON but not a sealed record; {_QUARANTINE}",
    Reason.UNTERMINATED_TAIL: (
        "the log ends in a torn write: if a writer crashed, start it again (it records a "
        "chain.recovered event naming these bytes) and verify again; otherwise "
        f"{_QUARANTINE}"
    ),
    Reason.MISSING_PARTITION: (
        "a partition (day) or its start is missing; restore the named seq range from backup "
        "or a versioned bucket, then verify again"
    ),
    Reason.MISSING_SEGMENT: (
        "a segment within a day is missing; restore the named seq range from backup, then "
        "verify again"
    ),
    Reason.PARTITION_MISMATCH: f"a record sits in a partition its timestamp does not match; "
    f"{_QUARANTINE}",
    Reason.TIMESTAMP_REGRESSION: f"timestamps go backwards along the chain; {_QUARANTINE}",
    Reason.OBJECT_LOCK_MISSING: (
        "the object has no Object Lock retention; check the bucket's Object Lock configuration "
        "and the writer's IAM policy (runbook §4 'Missing Object Lock metadata')"
    ),
    Reason.OBJECT_LOCK_MODE: "the object's lock mode differs from policy; review bucket defaults",
    Reason.OBJECT_LOCK_RETENTION: (
        "the object's retention ends too early; extend it (put-object-retention) and check "
        "AUDIT_S3_OBJECT_LOCK_DAYS"
    ),
    Reason.OBJECT_OVERWRITTEN: (
        "a newer version hides the written one; the verifier checked the oldest version; "
        f"{_QUARANTINE}"
    ),
    Reason.OBJECT_DELETED: (
        f"a delete marker hides this object; the data is still in its locked version; {_QUARANTINE}"
    ),
    Reason.UNEXPECTED_OBJECT: f"an object the writer never creates is in the log prefix; "
    f"{_QUARANTINE}",
    Reason.MISROUTED_SEGMENT: (
        "a segment was written without claiming its seq on the previous record's day, which "
        f"is how two writers could both win one seq; {_QUARANTINE}"
    ),
    Reason.KMS_KEY: "the object is not encrypted with the required KMS key; review key rotation",
    Reason.EMPTY_STORE: (
        "check the path or s3:// prefix (a typo verifies nothing); for a brand-new deployment "
        "that has not written yet, pass --allow-empty"
    ),
    Reason.WINDOW_ANCHOR: (
        "a line next to the window, which should be the record it links to, is not a record; "
        f"verify the neighbouring days too; {_QUARANTINE}"
    ),
    Reason.UNEXPECTED_FILE: (
        "a partition name holds something other than a regular file (FIFO, device, symlink, "
        f"folder); it was not read; {_QUARANTINE}"
    ),
    Reason.RECORD_TOO_LARGE: (
        "a line is longer than the maximum record size and was not read; if records this large "
        f"are legitimate raise --max-record-bytes, otherwise {_QUARANTINE}"
    ),
    **CHECKPOINT_HINTS,
}


@dataclass(frozen=True, slots=True)
class Failure:
    """One verification failure and its evidence."""

    reason: Reason
    message: str
    location: str
    line: int | None = None
    offset: int | None = None
    seq: int | None = None
    event_id: str | None = None
    timestamp: str | None = None
    related: tuple[str, ...] = ()

    @property
    def hint(self) -> str:
        return HINTS[self.reason]

    def where(self) -> str:
        parts = [self.location]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.seq is not None:
            parts.append(f"seq {self.seq}")
        if self.event_id:
            parts.append(f"eventId {self.event_id}")
        if self.timestamp:
            parts.append(self.timestamp)
        return ", ".join(parts)

    def render(self) -> str:
        text = f"{self.reason.value}: {self.where()}: {self.message}"
        if self.related:
            text += "\n    involves: " + ", ".join(self.related)
        return f"{text}\n    what to do: {self.hint}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reason"] = self.reason.value
        data["related"] = list(self.related)
        data["hint"] = self.hint
        return data


@dataclass(frozen=True, slots=True)
class Note:
    """Something an auditor should see that is not a failure (e.g. a recorded crash recovery)."""

    kind: str
    message: str
    location: str

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{self.kind}: {where}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class VerificationResult:
    """The outcome of one verification run; ``ok`` only if no failure was found."""

    ok: bool
    checked_events: int
    message: str = ""
    failures: list[Failure] = field(default_factory=list)
    failure_count: int = 0
    notes: list[Note] = field(default_factory=list)
    source: str = ""
    window_start: str | None = None
    window_end: str | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    partitions: list[str] = field(default_factory=list)
    segments_read: int = 0
    elapsed_seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    #: How the window's start was proven: the record before it, or the start of the log.
    anchored_by: str = ""
    #: How the window's end was proven: the first record after it, or the end of the log.
    closed_by: str = ""

    @property
    def earliest_failure(self) -> Failure | None:
        return self.failures[0] if self.failures else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "ok": self.ok,
            "message": self.message,
            "source": self.source,
            "window": {
                "start": self.window_start,
                "end": self.window_end,
                "anchoredBy": self.anchored_by,
                "closedBy": self.closed_by,
            },
            "checkedEvents": self.checked_events,
            "firstSeq": self.first_seq,
            "lastSeq": self.last_seq,
            "firstTimestamp": self.first_timestamp,
            "lastTimestamp": self.last_timestamp,
            "partitions": self.partitions,
            "segmentsRead": self.segments_read,
            "elapsedSeconds": round(self.elapsed_seconds, 3),
            "failureCount": self.failure_count,
            "failures": [failure.to_dict() for failure in self.failures],
            "notes": [note.to_dict() for note in self.notes],
            "stats": self.stats,
        }

    def render_text(self) -> str:
        """Human report: the earliest failure first, then the others, notes, then a summary."""
        lines: list[str] = []
        if self.failures:
            lines.append(f"FAILED: earliest failing record: {self.failures[0].render()}")
            lines.extend(f"also: {failure.render()}" for failure in self.failures[1:])
            hidden = self.failure_count - len(self.failures)
            if hidden > 0:
                lines.append(f"... and {hidden:,} more failures (raise --max-failures to list)")
        lines.extend(f"note: {note.render()}" for note in self.notes)
        lines.append(self.summary())
        if self.anchored_by:
            lines.append(f"window start: {self.anchored_by}")
        if self.closed_by:
            lines.append(f"window end: {self.closed_by}")
        return "\n".join(lines)

    def summary(self) -> str:
        window = f"{self.window_start or 'beginning'}..{self.window_end or 'end'}"
        status = "verified" if self.ok else f"FAILED with {self.failure_count:,} failure(s)"
        text = f"{status}: {self.checked_events:,} events in window {window} of {self.source}"
        if self.first_seq is not None:
            text += (
                f"; seq {self.first_seq}..{self.last_seq}, "
                f"{self.first_timestamp} .. {self.last_timestamp}"
            )
        text += (
            f"; {len(self.partitions)} partition(s), {self.segments_read} file(s)/object(s) read"
            f" in {self.elapsed_seconds:.2f}s"
        )
        return text
