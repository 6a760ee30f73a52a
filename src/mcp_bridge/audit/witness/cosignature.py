"""C2SP tlog-cosignature ``cosignature/v1`` (Ed25519, timestamped): sign, parse, verify.

Pure (no I/O). A cosignature is a signed-note signature line whose payload is
``key id (4) || u64 big-endian timestamp || Ed25519 signature (64)`` over the message::

    cosignature/v1
    time <timestamp>
    <the checkpoint's note text>

The cosigner key id uses the algorithm byte 0x04: ``SHA-256(name || 0x0A || 0x04 || key)[:4]``,
so one Ed25519 key pair made by ``keygen`` (whose signer key carries type 0x01) serves as a
cosigner, and its cosigner verifier key is ``<name>+<hex id>+base64(0x04 || public key)``.
The key name is not signed, so one key must never serve two cosigners.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from ..note import Note, NoteError, Signature, Signer, decode_base64, parse_note, valid_key_name
from ..note import Verifier as NoteVerifier

COSIGNATURE_V1 = 0x04
_HEADER = "cosignature/v1\n"
_MAX_TIMESTAMP = (1 << 63) - 1
_PAYLOAD = 8 + 64


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || 0x04 || public key)[:4]``."""
    material = name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public_key
    return hashlib.sha256(material).digest()[:4]


def cosigned_message(text: str, timestamp: int) -> bytes:
    """The bytes a v1 cosignature signs: header, ``time`` line, then the checkpoint text."""
    return f"{_HEADER}time {timestamp}\n{text}".encode()


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: who (name, key id) and when (POSIX seconds) it was made."""

    name: str
    key_id: bytes
    timestamp: int
    line: str

    @property
    def who(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"


@dataclass(frozen=True, slots=True)
class CosignerVerifier:
    """A witness's public key as a ``cosignature/v1`` verifier."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_text(cls, text: str) -> CosignerVerifier:
        """Parse ``<name>+<hex id>+base64(0x04 || key)``; the id must match the key."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or not valid_key_name(parts[0]):
            raise NoteError(
                f"a witness key is <name>+<hex id>+<base64>: {text.strip()[:60]!r}",
                reason="bad_key",
            )
        name, hex_id, data = parts
        raw = decode_base64(data, "witness key material", reason="bad_key")
        if len(raw) != 33 or raw[0] != COSIGNATURE_V1:
            raise NoteError(
                f"witness key {name}: not a cosignature/v1 Ed25519 key (type 0x04, 32 bytes); "
                "print it with `python -m mcp_bridge.audit witness vkey --key FILE`",
                reason="bad_key",
            )
        public = raw[1:]
        if cosigner_key_id(name, public).hex() != hex_id:
            raise NoteError(f"witness key {name}: key id {hex_id} does not match", reason="bad_key")
        return cls(name, bytes.fromhex(hex_id), public)

    def to_text(self) -> str:
        data = base64.b64encode(bytes([COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{data}"

    @property
    def who(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"

    def matches(self, signature: Signature) -> bool:
        return signature.name == self.name and signature.key_id == self.key_id

    def verify(self, text: str, signature: Signature) -> Cosignature:
        """The cosignature ``signature`` makes over note ``text``, else :class:`NoteError`."""
        if not self.matches(signature):
            raise NoteError(f"not a signature by {self.who}", reason="unknown_key")
        if len(signature.signature) != _PAYLOAD:
            raise NoteError(f"cosignature by {self.who} is not {_PAYLOAD} bytes")
        (timestamp,) = struct.unpack(">Q", signature.signature[:8])
        if timestamp > _MAX_TIMESTAMP:
            raise NoteError(f"cosignature by {self.who} has a timestamp above 2^63-1")
        message = cosigned_message(text, timestamp)
        verifier = NoteVerifier(self.name, self.key_id, self.public_key)
        if not verifier.verify(message, signature.signature[8:]):
            raise NoteError(f"cosignature by {self.who} does not verify", reason="bad_signature")
        return Cosignature(self.name, self.key_id, timestamp, signature.line())


@dataclass(frozen=True, slots=True)
class Cosigner:
    """A witness's signing key (the ``keygen`` signer key) used for ``cosignature/v1``."""

    signer: Signer

    @property
    def verifier(self) -> CosignerVerifier:
        public = self.signer.verifier.public_key
        name = self.signer.name
        return CosignerVerifier(name, cosigner_key_id(name, public), public)

    def cosign(self, text: str, timestamp: int) -> Signature:
        """The signature line cosigning checkpoint note ``text`` at ``timestamp``."""
        if not 0 < timestamp <= _MAX_TIMESTAMP:
            raise ValueError(f"cosignature timestamp {timestamp} is out of range")
        signature = self.signer.sign(cosigned_message(text, timestamp))
        verifier = self.verifier
        return Signature(verifier.name, verifier.key_id, struct.pack(">Q", timestamp) + signature)


def cosignatures_in(note: Note, verifiers: list[CosignerVerifier]) -> list[Cosignature]:
    """Every cosignature in ``note`` by one of ``verifiers`` that verifies (one per key).

    Lines by other keys are ignored, as the spec requires; a known key's line that does not
    verify raises :class:`NoteError` (``bad_signature``) so that a forgery is reported, not
    silently skipped.
    """
    found: dict[bytes, Cosignature] = {}
    for signature in note.signatures:
        for verifier in verifiers:
            if verifier.matches(signature) and verifier.key_id not in found:
                found[verifier.key_id] = verifier.verify(note.text, signature)
    return list(found.values())


def attach(note_bytes: bytes, lines: bytes) -> Note:
    """The note ``note_bytes`` with the signature ``lines`` appended (as a witness returns
    them), parsed: what a client does with an add-checkpoint response."""
    return parse_note(note_bytes + lines)
