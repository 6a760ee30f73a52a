"""The audit record format: canonical encoding, sealing and parsing of one record line.

Pure functions only (no I/O), so that every storage driver and every verifier shares one
definition of the bytes that are hashed. The format is specified in ``docs/audit-format.md``.

A record line is the canonical encoding of the record without ``hash`` (the *body*), with its
closing brace replaced by ``,"hash":"<64 hex>"}`` and a newline. The hash is SHA-256 over the
body, so a verifier hashes a byte slice of the line and never re-serialises JSON.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from json import encoder as json_encoder
from typing import Any

from .errors import AuditPayloadError

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64

#: Envelope members in canonical order; ``payload`` is always the last member of the body.
ENVELOPE_FIELDS = ("v", "previousHash", "seq", "timestamp", "eventId", "eventType", "payload")

_PAYLOAD_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)
# The C encoder behind ``_PAYLOAD_ENCODER``, built once: same output, no per-call set-up.
# (Not in typeshed, hence the lookup by name; without the C accelerator we use the encoder.)
_make_c_encoder: Callable[..., Callable[[Any, int], tuple[str, ...]]] | None = getattr(
    json_encoder, "c_make_encoder", None
)
_C_ENCODER = (
    _make_c_encoder(
        None, None, json_encoder.encode_basestring_ascii, None, ":", ",", True, False, False
    )
    if _make_c_encoder is not None
    else None
)
# The byte layout of a sealed line, shared with the verifier's fast path (chain.py).
HEAD = b'{"v":1,"previousHash":"'
HEAD_LEN = len(HEAD)
SEQ_MEMBER = b'","seq":'
SEQ_AT = HEAD_LEN + 64 + len(SEQ_MEMBER)
TS_MEMBER = b',"timestamp":"'
TS_LEN = len("2026-01-01T00:00:00.000000Z")
HASH_MEMBER = b',"hash":"'
_HASH_TAIL_LEN = len(HASH_MEMBER) + 64 + 3  # ,"hash":"<64 hex>"}\n
_HEX = re.compile(rb"[0-9a-f]{64}\Z")


def encode_json(value: Any) -> str:
    """Canonical JSON text of ``value``: sorted keys, no whitespace, ASCII with ``\\u`` escapes.

    Integers are written exactly (any size) and floats in their shortest round-trip form, so
    decoding and re-encoding yields the same text. NaN and infinities are not JSON: refused.
    """
    try:
        if _C_ENCODER is not None:
            return "".join(_C_ENCODER(value, 0))
        return _PAYLOAD_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise AuditPayloadError(f"payload is not recordable as JSON: {exc}") from exc


def encode_payload(value: Any) -> bytes:
    """:func:`encode_json` as the ASCII bytes that go into a record line."""
    return encode_json(value).encode("ascii")


@functools.lru_cache(maxsize=1024)
def encoded_event_type(event_type: str) -> bytes:
    """The ``eventType`` member's value as it appears in a line (a JSON string, as bytes)."""
    return encode_payload(event_type)


#: The body of a record without its closing brace: previous hash, seq, timestamp, event id,
#: encoded event type and encoded payload, all bytes but seq. ``seal_opened`` closes it.
OPENED_BODY = (
    b'{"v":1,"previousHash":"%s","seq":%d,"timestamp":"%s",'
    b'"eventId":"%s","eventType":%s,"payload":%s'
)
_LINE = b"%s" + HASH_MEMBER + b'%s"}\n'


def seal_opened(opened: bytes) -> tuple[str, bytes]:
    """Hash the body ``opened + b"}"``; return ``(hash, line)`` (see the module docstring).

    The writer formats the body without its closing brace so that the stored line
    (``opened + ',"hash":"…"}'``) is built with one copy rather than a slice and three.
    """
    digest = hashlib.sha256(opened + b"}").hexdigest()
    return digest, _LINE % (opened, digest.encode("ascii"))


def encode_body(
    *, seq: int, previous_hash: str, timestamp: str, event_id: str, event_type: str, payload: str
) -> bytes:
    """The canonical body (the record without ``hash``) with ``payload`` already encoded."""
    return _opened(previous_hash, seq, timestamp, event_id, event_type, payload) + b"}"


def _opened(
    previous_hash: str, seq: int, timestamp: str, event_id: str, event_type: str, payload: str
) -> bytes:
    fields = (previous_hash.encode("ascii"), seq, timestamp.encode("ascii"))
    tail = (event_id.encode("ascii"), encoded_event_type(event_type), payload.encode("ascii"))
    return OPENED_BODY % (fields + tail)


def seal(body: bytes) -> tuple[str, bytes]:
    """Hash a body and return ``(hash, line)`` where line is the stored JSONL line."""
    return seal_opened(body[:-1])


def seal_record(
    previous_hash: str, seq: int, timestamp: str, event_id: str, event_type: str, payload: str
) -> tuple[str, bytes]:
    """``seal(encode_body(...))`` with positional arguments (tests and tools build lines)."""
    return seal_opened(_opened(previous_hash, seq, timestamp, event_id, event_type, payload))


def compute_event_hash(event: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical encoding of ``event`` without its ``hash`` member.

    Accepts a decoded record (for example from :func:`json.loads` of a stored line) and returns
    the hash the writer stored, which is how a third party re-derives it from parsed JSON.
    """
    missing = [name for name in ENVELOPE_FIELDS if name not in event]
    extra = sorted(set(event) - set(ENVELOPE_FIELDS) - {"hash"})
    if missing or extra:
        raise AuditPayloadError(
            f"not a version-{FORMAT_VERSION} record: missing {missing}, unexpected {extra}"
        )
    body = encode_body(
        seq=int(event["seq"]),
        previous_hash=str(event["previousHash"]),
        timestamp=str(event["timestamp"]),
        event_id=str(event["eventId"]),
        event_type=str(event["eventType"]),
        payload=encode_json(event["payload"]),
    )
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class LineHeader:
    """What a verifier needs from one line, read by position without decoding the payload."""

    seq: int
    previous_hash: str
    timestamp: str
    hash: str
    body: bytes


class MalformedLine(ValueError):
    """A line that is not a sealed version-1 record; the message says which part is wrong."""


def parse_header(line: bytes) -> LineHeader:
    """Split a stored line (without its newline) into header fields and hashed body.

    Raises :class:`MalformedLine` when the line does not have the sealed record shape.
    """
    if not line.startswith(HEAD) or len(line) < SEQ_AT + _HASH_TAIL_LEN:
        raise MalformedLine("line does not start like a version-1 record")
    tail_at = len(line) - (_HASH_TAIL_LEN - 1)
    if line[tail_at : tail_at + len(HASH_MEMBER)] != HASH_MEMBER or not line.endswith(b'"}'):
        raise MalformedLine("line does not end with the hash member")
    stored = line[tail_at + len(HASH_MEMBER) : -2]
    previous = line[HEAD_LEN : HEAD_LEN + 64]
    if not _HEX.match(stored) or not _HEX.match(previous):
        raise MalformedLine("hash or previousHash is not 64 lowercase hex digits")
    ts_at = line.find(TS_MEMBER, SEQ_AT, SEQ_AT + 24)
    seq_text = line[SEQ_AT:ts_at]
    if ts_at < 0 or not seq_text.isdigit() or (len(seq_text) > 1 and seq_text[0] == 48):
        raise MalformedLine("seq is not a non-negative integer")
    ts_from = ts_at + len(TS_MEMBER)
    return LineHeader(
        seq=int(seq_text),
        previous_hash=previous.decode("ascii"),
        timestamp=line[ts_from : ts_from + TS_LEN].decode("ascii", "replace"),
        hash=stored.decode("ascii"),
        body=line[:tail_at] + b"}",
    )


def peek_seq(line: bytes) -> int | None:
    """The seq of a line that starts like a record, its tail not checked: what a search by
    seq needs per line it passes (a fraction of :func:`parse_header`'s cost)."""
    if not line.startswith(HEAD):
        return None
    ts_at = line.find(TS_MEMBER, SEQ_AT, SEQ_AT + 24)
    seq_text = line[SEQ_AT:ts_at]
    return int(seq_text) if ts_at > 0 and seq_text.isdigit() else None


def decode_record(line: bytes) -> dict[str, Any]:
    """Decode a full record (payload included); raises :class:`MalformedLine` if not JSON."""
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedLine(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedLine("not a JSON object")
    return value


def body_hash(header: LineHeader) -> str:
    """Recompute the hash of a parsed line from its body bytes."""
    return hashlib.sha256(header.body).hexdigest()
