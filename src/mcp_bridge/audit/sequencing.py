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
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .records import GENESIS_HASH, encode_body, encode_json, seal


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


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event accepted from a caller, payload already canonically encoded (and validated)."""

    event_type: str
    payload_json: str
    payload: Mapping[str, Any]

    @classmethod
    def create(cls, event_type: str, payload: Mapping[str, Any]) -> PendingEvent:
        return cls(event_type, encode_json(payload), payload)


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A record ready to store: its line bytes plus the fields callers and drivers need."""

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
    """Random (version 4) UUIDs, drawn with one call to the OS entropy source per batch."""
    entropy = secrets.token_bytes(16 * count)
    return [str(uuid.UUID(bytes=entropy[i : i + 16], version=4)) for i in range(0, 16 * count, 16)]


def seal_batch(
    tail: ChainTail, events: Sequence[PendingEvent], now: datetime
) -> list[SealedRecord]:
    """Chain ``events`` after ``tail``; the last returned record is the new tail."""
    timestamp = max(format_timestamp(now), tail.timestamp)
    sealed: list[SealedRecord] = []
    seq, previous = tail.next_seq, tail.hash
    for event, event_id in zip(events, new_event_ids(len(events)), strict=True):
        body = encode_body(
            seq=seq,
            previous_hash=previous,
            timestamp=timestamp,
            event_id=event_id,
            event_type=event.event_type,
            payload=event.payload_json,
        )
        digest, line = seal(body)
        sealed.append(
            SealedRecord(
                seq, event_id, timestamp, event.event_type, previous, digest, line, event.payload
            )
        )
        seq, previous = seq + 1, digest
    return sealed
