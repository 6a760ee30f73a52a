"""Turning pending events into sealed, chained records: the writer's half of the chain.

Pure: given the current tail of the log and a batch of events, produce the lines to append
and the new tail. Every driver (local files, S3 segments) sequences through this one function,
so the rules below hold for all of them:

* ``seq`` continues from the tail with no gaps; ``previousHash`` is the tail's hash;
* one timestamp per batch, never earlier than the tail's (a wall clock stepping back does not
  reorder the log), so the UTC day of a record never decreases along the chain.
"""

from __future__ import annotations

import operator
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from .errors import AuditPayloadError
from .records import GENESIS_HASH, OPENED_BODY, encode_payload, encoded_event_type, seal_opened

#: ``tuple.__new__`` builds a named tuple without its Python-level ``__new__`` (hot paths).
_new_tuple = tuple.__new__


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
    """An event accepted from a caller, payload already canonically encoded (and validated).

    ``payload_json`` is the canonical encoding as the ASCII bytes that go into the line.
    """

    event_type: str
    payload_json: bytes
    payload: Mapping[str, Any]

    @classmethod
    def create(cls, event_type: str, payload: Mapping[str, Any]) -> PendingEvent:
        if type(payload) is not dict and not isinstance(payload, Mapping):
            raise AuditPayloadError(
                f"the payload of {event_type!r} must be a JSON object, not {type(payload).__name__}"
            )
        # tuple.__new__ rather than cls(...): a named tuple's __new__ is a Python function,
        # and this runs once per event on the caller's thread.
        return _new_tuple(cls, (event_type, encode_payload(payload), payload))


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


#: Byte 6 of a version-4 UUID carries the version (4), byte 8 the RFC 4122 variant (10xx).
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))
_UUID_GROUPS = operator.itemgetter(
    slice(0, 8), slice(8, 12), slice(12, 16), slice(16, 20), slice(20, 32)
)


def new_event_ids(count: int) -> list[str]:
    """Random version-4 UUIDs in canonical text form, from one draw of OS entropy per batch.

    The version and variant bits of every id are set with two slice translations, and each
    id is cut into its five groups by one ``itemgetter`` call: no Python loop per byte.
    """
    raw = bytearray(secrets.token_bytes(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    text, join = raw.hex(), "-".join
    return [join(_UUID_GROUPS(text[i : i + 32])) for i in range(0, 32 * count, 32)]


def seal_batch(
    tail: ChainTail, events: Sequence[PendingEvent], now: datetime
) -> list[SealedRecord]:
    """Chain ``events`` after ``tail``; the last returned record is the new tail.

    This loop is the writer's per-event cost, so it works on bytes throughout (each
    ``previousHash`` is the previous digest already encoded) and builds records with
    ``tuple.__new__``; :func:`~.records.seal_opened` defines the line.
    """
    timestamp = max(format_timestamp(now), tail.timestamp)
    stamp = timestamp.encode("ascii")
    sealed: list[SealedRecord] = []
    append = sealed.append
    seq, previous = tail.next_seq, tail.hash
    linked = previous.encode("ascii")
    for event, event_id in zip(events, new_event_ids(len(events)), strict=True):
        event_type = event.event_type
        opened = OPENED_BODY % (
            linked,
            seq,
            stamp,
            event_id.encode("ascii"),
            encoded_event_type(event_type),
            event.payload_json,
        )
        digest, line = seal_opened(opened)
        fields = (seq, event_id, timestamp, event_type, previous, digest, line, event.payload)
        append(_new_tuple(SealedRecord, fields))
        seq, previous, linked = seq + 1, digest, digest.encode("ascii")
    return sealed
