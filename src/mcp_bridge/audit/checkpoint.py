"""C2SP tlog-checkpoints (c2sp.org/tlog-checkpoint): the signed tree heads of the audit log.

Pure (no I/O). The note text is ``<origin>\\n<tree size>\\n<base64 root>\\n``; we write no
extension lines and accept them when reading, as the spec allows. :func:`open_checkpoint`
verifies the signature first and only then trusts the text.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from .merkle import HASH_SIZE
from .note import NoteError, Signer, Verifier, decode_base64, open_note, sign_note

_SIZE = re.compile(r"(0|[1-9][0-9]*)\Z")
_MAX_SIZE = (1 << 63) - 1


class CheckpointError(NoteError):
    """A checkpoint that is malformed, for another log, or not signed by the expected key."""

    def __init__(self, message: str, *, reason: str = "malformed_checkpoint") -> None:
        super().__init__(message, reason=reason)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: which log (origin), how many leaves, and the RFC 6962 root over them."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("a checkpoint's origin must be one non-empty line")
        if not 0 <= self.size <= _MAX_SIZE:
            raise CheckpointError(f"tree size {self.size} is out of range")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise CheckpointError("extension lines must be non-empty single lines")

    def text(self) -> str:
        """The note text that is signed."""
        root = base64.b64encode(self.root).decode()
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint in a note text, under the spec's rules (strictly; no guessing)."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has at least three lines: origin, size, root")
    origin, size, root, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty", reason="wrong_origin")
    if not _SIZE.match(size):
        raise CheckpointError(f"tree size {size[:30]!r} is not a decimal without leading zeros")
    value = int(size)
    if value > _MAX_SIZE:
        raise CheckpointError(f"tree size {size[:30]} is too large")
    try:
        digest = decode_base64(root, "checkpoint root hash")
    except NoteError as exc:
        raise CheckpointError(str(exc)) from None
    if len(digest) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash has {len(digest)} bytes, not {HASH_SIZE}")
    if any(not line for line in extensions):
        raise CheckpointError("checkpoint has an empty extension line")
    return Checkpoint(origin, value, digest, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> bytes:
    """The signed note of ``checkpoint``: the bytes written to ``_checkpoints/<size>``."""
    return sign_note(checkpoint.text(), [signer])


def open_checkpoint(data: bytes, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint note with ``verifier`` and parse it.

    Raises :class:`~.note.NoteError` (``reason``: ``malformed_note``, ``too_many``,
    ``bad_signature``, ``unknown_key``) or :class:`CheckpointError` (``malformed_checkpoint``,
    ``wrong_origin``). ``origin``, when given, must match the checkpoint's origin line.
    """
    note = open_note(data, [verifier])
    checkpoint = parse_checkpoint(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(
            f"checkpoint is for log {checkpoint.origin!r}, expected {origin!r}",
            reason="wrong_origin",
        )
    return checkpoint
