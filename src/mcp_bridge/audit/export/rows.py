"""One exported record: its envelope, where it was stored, whether it verified, its payload.

A row is built only from a line the verifier has just judged, so ``verified`` is the checker's
verdict on exactly these bytes. ``payload_json`` is the canonical encoding of the payload (the
same bytes the writer hashed), so a copy can be re-verified: see :func:`record_hash`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..records import MalformedLine, decode_record, encode_body, encode_json, parse_header


@dataclass(frozen=True, slots=True)
class ExportRow:
    """A record as exported. ``checkpoint_tree_size`` stays ``None`` until checkpoints exist."""

    seq: int
    hash: str
    previous_hash: str
    timestamp: str
    event_id: str
    event_type: str
    version: int
    payload: Any
    payload_json: str
    partition: str
    segment: str
    line: int
    verified: bool
    checkpoint_tree_size: int | None = None

    @property
    def day(self) -> str:
        """``YYYY-MM-DD``: the Hive partition value of this row (its partition's day)."""
        return self.partition.replace("/", "-")


Covering = Callable[[int], int | None]


def build_row(
    raw: bytes,
    *,
    partition: str,
    segment: str,
    line: int,
    verified: bool,
    min_seq: int = 0,
    covering: Covering | None = None,
) -> ExportRow | None:
    """The row for one stored line; ``None`` when it is not a sealed record or before ``min_seq``.

    The header is read exactly as the checker reads it, so a line the checker could not parse
    never becomes a row that looks verified; records before ``min_seq`` are not decoded.
    """
    text = raw.rstrip(b"\n")
    try:
        header = parse_header(text)
        if header.seq < min_seq:
            return None
        record = decode_record(text)
    except MalformedLine:
        return None
    payload = record.get("payload")
    return ExportRow(
        seq=header.seq,
        hash=header.hash,
        previous_hash=header.previous_hash,
        timestamp=header.timestamp,
        event_id=str(record.get("eventId", "")),
        event_type=str(record.get("eventType", "")),
        version=int(record.get("v", 0)),
        payload=payload,
        payload_json=encode_json(payload),
        partition=partition,
        segment=segment,
        line=line,
        verified=verified,
        checkpoint_tree_size=covering(header.seq) if covering is not None else None,
    )


def record_hash(
    *, seq: int, previous_hash: str, timestamp: str, event_id: str, event_type: str, payload: str
) -> str:
    """The record hash re-derived from exported columns (``payload`` = ``payload_json``)."""
    body = encode_body(
        seq=seq,
        previous_hash=previous_hash,
        timestamp=timestamp,
        event_id=event_id,
        event_type=event_type,
        payload=payload,
    )
    return hashlib.sha256(body).hexdigest()
