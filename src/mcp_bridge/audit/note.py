"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys: parse, format, sign, open.

Pure (no I/O). Keys use the signed-note text forms, so Go's ``golang.org/x/mod/sumdb/note``
and other C2SP tools read them:

- verifier key: ``<name>+<hex key id>+base64(0x01 || 32-byte public key)``
- signer key:   ``PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || 32-byte seed)``

with key id = ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``. Parsing is strict: a
note that does not follow the spec is rejected with a :class:`NoteError` whose ``reason``
says why; signatures by unknown keys are ignored, as the spec requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
SIGNATURE_PREFIX = "— "  # em dash, space
#: The spec asks verifiers to accept at least 16 signatures; we accept up to 100 (as Go does).
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_HEX_ID = re.compile(r"[0-9a-f]{8}\Z")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(ValueError):
    """A note, key or signature that cannot be used; ``reason`` is a stable code."""

    def __init__(self, message: str, *, reason: str = "malformed_note") -> None:
        super().__init__(message)
        self.reason = reason


def decode_base64(
    text: str, what: str, *, reason: str = "malformed_note", secret: bool = False
) -> bytes:
    """Standard base64 (RFC 4648 §4) in its one canonical spelling, else :class:`NoteError`."""
    shown = "" if secret else f": {text[:60]!r}"
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64{shown}", reason=reason) from None
    if base64.b64encode(data).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64{shown}", reason=reason)
    return data


def valid_key_name(name: str) -> bool:
    """Key names are non-empty and contain neither Unicode spaces nor ``+``."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class Verifier:
    """An Ed25519 verifier key: name, key id and public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_text(cls, text: str) -> Verifier:
        """Parse ``<name>+<hex id>+<base64(0x01 || key)>``; the id must match the key."""
        name, material = _split_key(text.strip(), "verifier key")
        return cls(name, key_id(name, material), material)

    def to_text(self) -> str:
        data = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{data}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """An Ed25519 signer key (the seed is secret: keep it out of logs and reports)."""

    name: str
    key_id: bytes
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        if not valid_key_name(name):
            raise NoteError(f"key name {name!r} is empty or has a space or '+'", reason="bad_key")
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(name, key_id(name, _public_of(seed)), seed)

    @classmethod
    def from_text(cls, text: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``."""
        text = text.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise NoteError("a signer key starts with PRIVATE+KEY+", reason="bad_key")
        name, seed = _split_key(text[len(_PRIVATE_PREFIX) :], "signer key", secret=True)
        return cls(name, key_id(name, _public_of(seed)), seed)

    def to_text(self) -> str:
        data = base64.b64encode(bytes([ED25519]) + self.seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id.hex()}+{data}"

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, _public_of(self.seed))

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id.hex()})"


def _public_of(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def _split_key(text: str, what: str, *, secret: bool = False) -> tuple[str, bytes]:
    """``name+hexid+base64(0x01 || 32 bytes)`` → (name, 32 bytes), the id checked."""
    parts = text.split("+", 2)  # the base64 part may itself contain '+'
    if len(parts) != 3:
        raise NoteError(f"a {what} has three parts joined by '+'", reason="bad_key")
    name, hex_id, data = parts
    if not valid_key_name(name):
        raise NoteError(f"{what}: key name {name!r} is not valid", reason="bad_key")
    if not _HEX_ID.match(hex_id):
        raise NoteError(f"{what}: key id must be 8 lowercase hex digits", reason="bad_key")
    raw = decode_base64(data, f"{what} material", reason="bad_key", secret=secret)
    if len(raw) != 33 or raw[0] != ED25519:
        raise NoteError(f"{what}: not an Ed25519 key (type 0x01, 32 bytes)", reason="bad_key")
    material = raw[1:]
    public = _public_of(material) if secret else material
    if key_id(name, public).hex() != hex_id:
        raise NoteError(f"{what}: key id {hex_id} does not match the key", reason="bad_key")
    return name, material


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: key name, key id and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        data = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {data}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed, not yet verified note: its text (ending in newline) and its signatures."""

    text: str
    signatures: tuple[Signature, ...]

    def to_bytes(self) -> bytes:
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()


def parse_note(data: bytes) -> Note:
    """Split a signed note into text and signatures, enforcing the spec's syntax."""
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
    try:
        message = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None
    if _CONTROL.search(message):
        raise NoteError("note contains a control character other than newline")
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block:
        raise NoteError("note has no signature lines after its last blank line")
    if not block.endswith("\n"):
        raise NoteError("note's signature block does not end in a newline (trailing data?)")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures", reason="too_many")
    return Note(text, tuple(_parse_signature(line) for line in lines))


def _parse_signature(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"not a signature line: {line[:60]!r}")
    name, _, data = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not valid_key_name(name) or not data or " " in data:
        raise NoteError(f"malformed signature line: {line[:60]!r}")
    raw = decode_base64(data, f"signature of {name}")
    if len(raw) < 5:
        raise NoteError(f"signature of {name} is too short")
    return Signature(name, raw[:4], raw[4:])


def sign_note(text: str, signers: Sequence[Signer]) -> bytes:
    """The signed note of ``text`` (which must end in a newline) by each of ``signers``."""
    if not text.endswith("\n") or "\n\n" in text or _CONTROL.search(text):
        raise NoteError("note text must end in newline and have no blank lines or controls")
    payload = text.encode()
    sigs = tuple(Signature(s.name, s.key_id, s.sign(payload)) for s in signers)
    return Note(text, sigs).to_bytes()


def open_note(data: bytes, verifiers: Sequence[Verifier]) -> Note:
    """Parse and verify: the note comes back only if a known key's signature verifies.

    Signatures whose (name, key id) matches no verifier are ignored. A known key's signature
    that fails rejects the whole note (``bad_signature``); a note no known key signed is
    rejected (``unknown_key``): typically a checkpoint signed with another key.
    """
    note = parse_note(data)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = False
    payload = note.text.encode()
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verify(payload, sig.signature):
            raise NoteError(
                f"signature by {sig.name}+{sig.key_id.hex()} does not verify",
                reason="bad_signature",
            )
        verified = True
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        wanted = ", ".join(v.to_text().rsplit("+", 1)[0] for v in verifiers)
        raise NoteError(
            f"note is not signed by a known key (signed by {names}; expected {wanted})",
            reason="unknown_key",
        )
    return note
