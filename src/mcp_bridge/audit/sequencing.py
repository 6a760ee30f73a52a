"""Turning pending events into sealed, chained records: the writer's half of the chain.

Pure: given the current tail of the log and a batch of events, produce the lines to append
and the new tail. Every driver (local files, S3 segments) sequences through this one function,
so the rules below hold for all of them:

* ``seq`` continues from the tail with no gaps; ``previousHash`` is the tail's hash;
* one timestamp per batch, never earlier than the tail's (a wall clock stepping back does not
  reorder the log), so the UTC day of a record never decreases along the chain.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from .errors import AuditPayloadError
from .records import GENESIS_HASH, encode_json, seal_record


@dataclass(frozen=True, slots=True)
class ChainTail:
    """The last record of the log: what the next record links to."""

    seq: int
    hash: str
    timestamp: str

    @property
    def next_seq(self) -> int:
        return self.seq + 1


#: The tail of an empty log: the first record gets seq 0 and links to the genesis hash.
EMPTY_TAIL = ChainTail(seq=-1, hash=GENESIS_HASH, timestamp="")


class PendingEvent(NamedTuple):
    """An event accepted from a caller, payload already canonically encoded (and validated)."""

    event_type: str
    payload_json: str
    payload: Mapping[str, Any]

    @classmethod
    def create(cls, event_type: str, payload: Mapping[str, Any]) -> PendingEvent:
        if type(payload) is not dict and not isinstance(payload, Mapping):
            raise AuditPayloadError(
                f"the payload of {event_type!r} must be a JSON object, not {type(payload).__name__}"
            )
        return cls(event_type, encode_json(payload), payload)


class SealedRecord(NamedTuple):
    """A record ready to store: its line bytes plus the fields callers and drivers need.

    A named tuple rather than a dataclass: one is built per event on the hot path.
    """

    seq: int
    event_id: str
    timestamp: str
    event_type: str
    previous_hash: str
    hash: str
    line: bytes
    payload: Mapping[str, Any]

    @property
    def day(self) -> date:
        return date.fromisoformat(self.timestamp[:10])

    def as_dict(self) -> dict[str, Any]:
        """The stored record as a dict (what ``record_event`` returns)."""
        return {
            "v": 1,
            "previousHash": self.previous_hash,
            "seq": self.seq,
            "timestamp": self.timestamp,
            "eventId": self.event_id,
            "eventType": self.event_type,
            "payload": self.payload,
            "hash": self.hash,
        }

    @property
    def tail(self) -> ChainTail:
        return ChainTail(self.seq, self.hash, self.timestamp)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-27T03:17:20.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_event_ids(count: int) -> list[str]:
    """Random version-4 UUIDs in canonical text form, from one draw of OS entropy per batch."""
    raw = bytearray(secrets.token_bytes(16 * count))
    for at in range(0, 16 * count, 16):
        raw[at + 6] = (raw[at + 6] & 0x0F) | 0x40
        raw[at + 8] = (raw[at + 8] & 0x3F) | 0x80
    text = raw.hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def seal_batch(
    tail: ChainTail, events: Sequence[PendingEvent], now: datetime
) -> list[SealedRecord]:
    """Chain ``events`` after ``tail``; the last returned record is the new tail."""
    timestamp = max(format_timestamp(now), tail.timestamp)
    sealed: list[SealedRecord] = []
    seq, previous = tail.next_seq, tail.hash
    for event, event_id in zip(events, new_event_ids(len(events)), strict=True):
        event_type = event.event_type
        digest, line = seal_record(
            previous, seq, timestamp, event_id, event_type, event.payload_json
        )
        sealed.append(
            SealedRecord(
                seq, event_id, timestamp, event_type, previous, digest, line, event.payload
            )
        )
        seq, previous = seq + 1, digest
    return sealed
