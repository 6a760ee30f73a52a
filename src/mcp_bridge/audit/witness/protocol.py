"""The C2SP tlog-witness ``add-checkpoint`` exchange: request codec and the witness's decision.

Pure (no I/O). :func:`decide` applies the spec's checks in its order and names the status code
of each refusal: 400 malformed or old size above the checkpoint's, 404 unknown origin, 403 no
valid signature by the log's key, 409 old size not the size last cosigned (the body,
``text/x.tlog.size``, tells the client that size), 422 empty tree with a non-empty root, a
proof where none is possible, or a proof that does not verify (which includes a second root
for the same size: the split view a witness exists to catch). Only an :class:`Accept` may be
cosigned; the caller persists it before answering.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..checkpoint import Checkpoint, CheckpointError, open_checkpoint, parse_checkpoint
from ..merkle import EMPTY_ROOT, HASH_SIZE, ProofError, verify_consistency
from ..note import NoteError, Verifier, decode_base64, parse_note

MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = 1 << 20
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD = re.compile(r"old (0|[1-9][0-9]{0,18})\Z")


class RequestError(ValueError):
    """A request body that does not follow the add-checkpoint syntax (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """A parsed add-checkpoint request: the old size, the proof and the checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes


def format_request(old_size: int, proof: list[bytes], note: bytes) -> bytes:
    """The request body: ``old <size>``, one base64 hash per line, a blank line, the note."""
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n").encode() + note


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse a request body strictly; :class:`RequestError` says what is wrong."""
    if len(body) > MAX_REQUEST_BYTES:
        raise RequestError(f"request is larger than {MAX_REQUEST_BYTES} bytes")
    head, blank, note = body.partition(b"\n\n")
    if not blank:
        raise RequestError("request has no blank line between the proof and the checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise RequestError("the old size and proof lines must be ASCII") from None
    match = _OLD.match(lines[0])
    if match is None:
        raise RequestError("the first line must be 'old <size>' (decimal, no leading zeros)")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise RequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            digest = decode_base64(line, "consistency proof line")
        except NoteError as exc:
            raise RequestError(str(exc)) from None
        if len(digest) != HASH_SIZE:
            raise RequestError(f"a consistency proof line holds {len(digest)} bytes, not 32")
        proof.append(digest)
    return AddCheckpoint(int(match.group(1)), tuple(proof), note)


@dataclass(frozen=True, slots=True)
class Accept:
    """The checkpoint may be cosigned (after the new state is persisted)."""

    checkpoint: Checkpoint
    text: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """The spec's answer to a request that must not be cosigned."""

    status: int
    reason: str
    message: str
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"

    def response_body(self) -> bytes:
        return self.body or (self.message + "\n").encode()


def origin_of(note: bytes) -> str:
    """The origin line of a checkpoint note (unverified; used only to pick the log's key)."""
    try:
        return parse_checkpoint(parse_note(note).text).origin
    except NoteError as exc:
        raise RequestError(f"the checkpoint is malformed: {exc}") from None


def decide(
    request: AddCheckpoint, logs: Mapping[str, Verifier], latest: Checkpoint | None
) -> Accept | Refuse:
    """The witness's verdict on ``request`` given the latest checkpoint it cosigned."""
    try:
        origin = origin_of(request.note)
    except RequestError as exc:
        return Refuse(400, "malformed", str(exc))
    verifier = logs.get(origin)
    if verifier is None:
        return Refuse(404, "unknown_log", f"this witness does not know the log {origin!r}")
    try:
        checkpoint = open_checkpoint(request.note, verifier, origin=origin)
    except CheckpointError as exc:
        return Refuse(400, "malformed", str(exc))
    except NoteError as exc:
        return Refuse(403, exc.reason, f"the checkpoint is not signed by the log's key: {exc}")
    if request.old_size > checkpoint.size:
        return Refuse(400, "bad_sizes", f"old size {request.old_size} > {checkpoint.size}")
    known = latest.size if latest is not None else 0
    if request.old_size != known:
        return Refuse(
            409,
            "size_mismatch",
            f"the latest checkpoint cosigned for this log has size {known}",
            body=f"{known}\n".encode(),
            content_type=SIZE_CONTENT_TYPE,
        )
    problem = _consistency_problem(request, checkpoint, latest)
    if problem is not None:
        return Refuse(422, "inconsistent", problem)
    return Accept(checkpoint, checkpoint.text())


def _consistency_problem(
    request: AddCheckpoint, checkpoint: Checkpoint, latest: Checkpoint | None
) -> str | None:
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        return "a checkpoint of size 0 must carry the root of the empty tree"
    if request.old_size == 0:
        return "no consistency proof is possible from size 0" if request.proof else None
    assert latest is not None  # old_size == latest size > 0
    try:
        verify_consistency(
            latest.size, checkpoint.size, latest.root, checkpoint.root, request.proof
        )
    except ProofError as exc:
        return f"not consistent with the checkpoint of size {latest.size} cosigned before: {exc}"
    return None
