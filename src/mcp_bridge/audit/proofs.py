"""Proof bundles for one record (C2SP tlog-proof) and finding the record to prove.

Pure: the log is read through a :class:`~.engine.RecordSource`, tiles through a fetch function.

A bundle is a c2sp.org/tlog-proof@v1 text whose ``extra`` line carries the stored record line
(base64), so an auditor needs nothing else::

    c2sp.org/tlog-proof@v1
    extra <base64 of the record's stored JSONL line, without its newline>
    index <seq>
    <inclusion proof: one base64 SHA-256 hash per line, leaf's sibling first>

    <the signed checkpoint note, verbatim>

To check it (:func:`check_bundle`): decode the record, check its ``hash`` is SHA-256 of its body
(the line without ``,"hash":…``), leaf hash = SHA-256(0x00 || the 32 hash bytes), check the
checkpoint's signature with the log's verifier key, then the inclusion proof of that leaf at
``index`` (which must be the record's ``seq``) against the checkpoint's root.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from .checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from .engine import RecordSource, Segment
from .merkle import ProofError, inclusion_proof, leaf_hash, verify_inclusion
from .note import NoteError, Verifier, decode_base64, parse_note
from .records import MalformedLine, body_hash, parse_header
from .tiles import TileError, TileFetcher, TileHashes

HEADER = "c2sp.org/tlog-proof@v1"
MAX_BUNDLE_BYTES = 1 << 20


class BundleError(ValueError):
    """A bundle that is malformed or does not prove what it claims; ``reason`` says which."""

    def __init__(self, message: str, *, reason: str = "malformed_bundle") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Located:
    """A record found in the log: its stored line and where it is."""

    seq: int
    line: bytes
    location: str


@dataclass(frozen=True, slots=True)
class Bundle:
    """The parts of a tlog-proof bundle."""

    record: bytes
    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: bytes

    def to_text(self) -> str:
        lines = [
            HEADER,
            f"extra {base64.b64encode(self.record).decode()}",
            f"index {self.index}",
            *(base64.b64encode(h).decode() for h in self.proof),
            "",
        ]
        return "\n".join(lines) + "\n" + self.checkpoint_note.decode("utf-8")


def parse_bundle(data: bytes) -> Bundle:
    """Split a tlog-proof text into its parts (strictly: one spelling of each line)."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError("bundle is not UTF-8 text") from None
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise BundleError("bundle has no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise BundleError(f"bundle does not start with {HEADER}")
    if len(lines) < 3 or not lines[1].startswith("extra ") or not lines[2].startswith("index "):
        raise BundleError("bundle needs an 'extra' line (the record) and an 'index' line")
    try:
        record = decode_base64(lines[1][len("extra ") :], "the record (extra line)")
        proof = tuple(decode_base64(line, "an inclusion proof hash") for line in lines[3:])
    except NoteError as exc:
        raise BundleError(str(exc)) from None
    index_text = lines[2][len("index ") :]
    if not index_text.isdigit() or (len(index_text) > 1 and index_text[0] == "0"):
        raise BundleError(f"index {index_text[:30]!r} is not a decimal without leading zeros")
    return Bundle(record, int(index_text), proof, note.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Proven:
    """What a valid bundle proves: this record is leaf ``seq`` of this signed checkpoint."""

    seq: int
    event_id: str
    event_type: str
    timestamp: str
    record_hash: str
    checkpoint: Checkpoint


def check_bundle(data: bytes, verifier: Verifier) -> Proven:
    """Verify a bundle offline; raise :class:`BundleError` (or ``NoteError``) if it fails."""
    bundle = parse_bundle(data)
    try:
        header = parse_header(bundle.record)
    except MalformedLine as exc:
        raise BundleError(f"the record is not a sealed audit record: {exc}") from None
    if body_hash(header) != header.hash:
        raise BundleError("the record's hash does not match its bytes", reason="hash_mismatch")
    if header.seq != bundle.index:
        raise BundleError(
            f"the record has seq {header.seq} but the proof is for index {bundle.index}",
            reason="wrong_index",
        )
    checkpoint = open_checkpoint(bundle.checkpoint_note, verifier)
    try:
        verify_inclusion(
            bundle.index,
            checkpoint.size,
            leaf_hash(bytes.fromhex(header.hash)),
            bundle.proof,
            checkpoint.root,
        )
    except ProofError as exc:
        raise BundleError(f"inclusion proof fails: {exc}", reason="proof_mismatch") from None
    event_id, event_type = _identity(bundle.record)
    return Proven(header.seq, event_id, event_type, header.timestamp, header.hash, checkpoint)


def _identity(record: bytes) -> tuple[str, str]:
    decoded = json.loads(record)
    return str(decoded.get("eventId", "")), str(decoded.get("eventType", ""))


def make_bundle(
    record: Located, checkpoint_note: bytes, fetch: TileFetcher
) -> tuple[Bundle, TileHashes]:
    """The bundle for ``record`` in the tree of the (already chosen) checkpoint, from tiles."""
    try:
        checkpoint = parse_checkpoint(parse_note(checkpoint_note).text)
    except NoteError as exc:
        raise BundleError(f"the checkpoint is not readable: {exc}") from None
    if record.seq >= checkpoint.size:
        raise BundleError(
            f"record seq {record.seq} is not covered yet: the newest checkpoint has "
            f"{checkpoint.size} records; retry after the next checkpoint",
            reason="not_covered",
        )
    line = record.line.rstrip(b"\n")
    header = parse_header(line)
    if body_hash(header) != header.hash:
        raise BundleError(
            f"record seq {record.seq} in {record.location} does not match its stored hash: it "
            "was changed after it was written (run verify)",
            reason="hash_mismatch",
        )
    nodes = TileHashes(checkpoint.size, fetch)
    try:
        proof = inclusion_proof(record.seq, checkpoint.size, nodes)
    except TileError as exc:
        raise BundleError(f"no inclusion proof: {exc}", reason="tile_missing") from None
    try:
        verify_inclusion(
            record.seq, checkpoint.size, leaf_hash(bytes.fromhex(header.hash)), proof,
            checkpoint.root,
        )  # fmt: skip
    except ProofError:
        raise BundleError(
            f"record seq {record.seq} in {record.location} is not the leaf the signed tree "
            "holds: the log or the tiles were changed (run verify --vkey)",
            reason="proof_mismatch",
        ) from None
    return Bundle(line, record.seq, tuple(proof), checkpoint_note), nodes


def locate_seq(source: RecordSource, seq: int) -> Located | None:
    """The record with ``seq``: a binary search over segments by their first record, then a
    scan of one segment (never the whole log)."""
    segments = list(source.segments(None, None))
    low, high = 0, len(segments)
    while high - low > 1:
        middle = (low + high) // 2
        first = _first_seq(segments[middle])
        if first is not None and first <= seq:
            low = middle
        else:
            high = middle
    for segment in segments[low : low + 2]:
        for raw in segment.open_lines():
            header = _header(raw)
            if header is not None and header[0] == seq:
                return Located(seq, raw, segment.location)
            if header is not None and header[0] > seq:
                return None
    return None


def locate_event(source: RecordSource, event_id: str, days: Sequence[Segment]) -> Located | None:
    """The record with ``eventId``: a byte search through ``days``' segments, newest first."""
    needle = b'"eventId":"' + event_id.encode("ascii", "replace") + b'"'
    for segment in reversed(days):
        for raw in segment.open_lines():
            if needle in raw:
                header = _header(raw)
                if header is not None:
                    return Located(header[0], raw, segment.location)
    return None


def _first_seq(segment: Segment) -> int | None:
    for raw in segment.open_lines():
        header = _header(raw)
        return header[0] if header is not None else None
    return None


def _header(raw: bytes) -> tuple[int, str] | None:
    try:
        header = parse_header(raw.rstrip(b"\n"))
    except MalformedLine:
        return None
    return header.seq, header.hash


def b64(items: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(item).decode() for item in items]
