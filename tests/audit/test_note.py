"""C2SP signed notes and checkpoints: known answers, malformed inputs, unknown signatures.

Known answers: the verifier key and note of c2sp.org/signed-note ("Verifier keys" → "Example",
C2SP/C2SP ``signed-note.md`` at 5ba5ee83), and the signer key, text and signature in the
documentation of Go's ``golang.org/x/mod/sumdb/note`` (Ed25519 is deterministic, so our
signature must equal theirs byte for byte).
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_bridge.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from mcp_bridge.audit.note import (
    MAX_SIGNATURES,
    Note,
    NoteError,
    Signature,
    Signer,
    Verifier,
    open_note,
    parse_note,
    sign_note,
)

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
    "pRZb6KE6RyyBwJnAM=\n"
)
ORIGIN = "audit.example.com/test"


def test_the_specs_example_key_and_note() -> None:
    verifier = Verifier.from_text(SPEC_VKEY)
    assert verifier.name == "example.com/foo"
    assert verifier.key_id.hex() == "530d903a"
    assert verifier.to_text() == SPEC_VKEY
    note = open_note(SPEC_NOTE, [verifier])
    assert note.text == "This is an example message.\n"


def test_go_reference_signer_reproduces_its_signature() -> None:
    signer = Signer.from_text(GO_SKEY)
    assert signer.to_text() == GO_SKEY
    assert signer.verifier.to_text() == GO_VKEY
    assert signer.key_id.hex() == "c74f20a3"
    assert sign_note(GO_TEXT, [signer]) == (GO_TEXT + "\n" + GO_SIG).encode()
    assert open_note((GO_TEXT + "\n" + GO_SIG).encode(), [signer.verifier]).text == GO_TEXT
    assert "AYEKF" not in repr(signer)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
        ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "lowercase hex"),
        ("example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "base64"),
        ("example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "Ed25519"),
        ("example.com/foo+530d903a", "three parts"),
        ("example com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "not valid"),
        ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "not valid"),
    ],
)
def test_bad_verifier_keys_are_rejected(key: str, message: str) -> None:
    with pytest.raises(NoteError, match=message) as caught:
        Verifier.from_text(key)
    assert caught.value.reason == "bad_key"


def test_bad_signer_keys_are_rejected_without_echoing_the_secret() -> None:
    for key in (
        GO_SKEY[len("PRIVATE+KEY+") :],
        GO_SKEY[:-2] + "A=",
        GO_SKEY.replace("c74f", "d74f"),
    ):
        with pytest.raises(NoteError) as caught:
            Signer.from_text(key)
        assert "AYEKF" not in str(caught.value)


def _signed(text: str, *signers: Signer) -> bytes:
    return sign_note(text, list(signers))


SIGNER = Signer.generate("audit.example.com/key")
OTHER = Signer.generate("audit.example.com/other")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"no blank line\n\xe2\x80\x94 x AAAAAAA=\n", "no blank line"),
        (b"text\n\n", "no signature lines"),
        (b"text\n\n\xe2\x80\x94 k AAAAAAA=", "does not end in a newline"),
        (b"text\n\n\xe2\x80\x94 k AAAAAAA=\ntrailing", "does not end in a newline"),
        (b"text\n\n\xe2\x80\x94 k AAAAAAA=\ntrailing\n", "not a signature line"),
        (b"text\n\n\xe2\x80\x94 k AAAAAAA=\n\n", "no signature lines"),
        (b"text\n\n\xe2\x80\x94 k AAAA!AA=\n", "not valid base64"),
        (b"text\n\n\xe2\x80\x94 k AAAAAAB=\n", "not canonical base64"),
        (b"text\n\n\xe2\x80\x94 k AAAA\n", "too short"),
        (b"text\n\n- k AAAAAAA=\n", "not a signature line"),
        (b"text\n\n\xe2\x80\x94 k+x AAAAAAA=\n", "malformed signature line"),
        (b"te\x01xt\n\n\xe2\x80\x94 k AAAAAAA=\n", "control character"),
        (b"text\r\n\n\xe2\x80\x94 k AAAAAAA=\n", "control character"),
        (b"t\xffext\n\n\xe2\x80\x94 k AAAAAAA=\n", "UTF-8"),
    ],
)
def test_malformed_notes_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(NoteError, match=message) as caught:
        parse_note(data)
    assert caught.value.reason == "malformed_note"


def test_too_many_signatures_are_rejected_but_the_spec_minimum_is_accepted() -> None:
    text = "many\n"
    line = Signature("k", b"\0\0\0\0", b"x").line()
    accepted = (text + "\n" + line * 16).encode()
    assert len(parse_note(accepted).signatures) == 16
    with pytest.raises(NoteError, match="more than 100") as caught:
        parse_note((text + "\n" + line * (MAX_SIGNATURES + 1)).encode())
    assert caught.value.reason == "too_many"


def test_unknown_signatures_are_ignored_and_a_known_one_suffices() -> None:
    # A signature with our name but another id, one with our id but another name, and a
    # foreign witness: all ignored as the spec requires; ours verifies.
    impostor = Signature(SIGNER.name, b"\xff\xff\xff\xff", b"x" * 64)
    renamed = Signature("other.example", SIGNER.key_id, b"x" * 64)
    mine = parse_note(_signed("hello\n", SIGNER)).signatures[0]
    data = (*parse_note(_signed("hello\n", OTHER)).signatures, impostor, renamed, mine)
    note = open_note(Note("hello\n", data).to_bytes(), [SIGNER.verifier])
    assert note.text == "hello\n"


def test_a_note_only_another_key_signed_is_rejected_as_unknown_key() -> None:
    with pytest.raises(NoteError, match="not signed by a known key") as caught:
        open_note(_signed("hello\n", OTHER), [SIGNER.verifier])
    assert caught.value.reason == "unknown_key"


def test_a_known_key_signature_that_fails_rejects_the_note() -> None:
    data = _signed("hello\n", SIGNER).replace(b"hello", b"jello")
    with pytest.raises(NoteError, match="does not verify") as caught:
        open_note(data, [SIGNER.verifier])
    assert caught.value.reason == "bad_signature"


def test_sign_refuses_text_that_would_not_round_trip() -> None:
    for text in ("no newline", "blank\n\nline\n", "ctl\x07\n"):
        with pytest.raises(NoteError):
            sign_note(text, [SIGNER])


ROOT = bytes(range(32))


def test_checkpoint_round_trip_and_text() -> None:
    checkpoint = Checkpoint(ORIGIN, 12345, ROOT)
    assert checkpoint.text() == f"{ORIGIN}\n12345\n{base64.b64encode(ROOT).decode()}\n"
    data = sign_checkpoint(checkpoint, SIGNER)
    assert open_checkpoint(data, SIGNER.verifier, origin=ORIGIN) == checkpoint
    assert parse_checkpoint("o\n0\n" + base64.b64encode(ROOT).decode() + "\n").size == 0


def test_checkpoint_extension_lines_are_accepted_when_reading() -> None:
    text = f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\nextension one\nx\n"
    assert parse_checkpoint(text).extensions == ("extension one", "x")


B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("text", "message", "reason"),
    [
        (f"\n7\n{B64}\n", "origin line is empty", "wrong_origin"),
        (f"{ORIGIN}\n007\n{B64}\n", "leading zeros", "malformed_checkpoint"),
        (f"{ORIGIN}\n-7\n{B64}\n", "leading zeros", "malformed_checkpoint"),
        (f"{ORIGIN}\n+7\n{B64}\n", "leading zeros", "malformed_checkpoint"),
        (f"{ORIGIN}\n7 \n{B64}\n", "leading zeros", "malformed_checkpoint"),
        (f"{ORIGIN}\n{1 << 64}\n{B64}\n", "too large", "malformed_checkpoint"),
        (f"{ORIGIN}\n7\n{B64[:-1]}\n", "not valid base64", "malformed_checkpoint"),
        (f"{ORIGIN}\n7\n{B64[:-2]}9=\n", "not canonical base64", "malformed_checkpoint"),
        (
            f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\n",
            "31 bytes",
            "malformed_checkpoint",
        ),
        (f"{ORIGIN}\n7\n", "at least three lines", "malformed_checkpoint"),
        (f"{ORIGIN}\n7\n{B64}", "end in a newline", "malformed_checkpoint"),
    ],
)
def test_malformed_checkpoints_are_rejected(text: str, message: str, reason: str) -> None:
    with pytest.raises(CheckpointError, match=message) as caught:
        parse_checkpoint(text)
    assert caught.value.reason == reason


def test_checkpoint_for_another_origin_or_key_is_rejected() -> None:
    data = sign_checkpoint(Checkpoint("elsewhere.example/log", 3, ROOT), SIGNER)
    with pytest.raises(CheckpointError, match="expected") as caught:
        open_checkpoint(data, SIGNER.verifier, origin=ORIGIN)
    assert caught.value.reason == "wrong_origin"
    forged = sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), OTHER)
    with pytest.raises(NoteError) as unknown:
        open_checkpoint(forged, SIGNER.verifier)
    assert unknown.value.reason == "unknown_key"
    # A checkpoint with an empty-line extension, even correctly signed, is not accepted.
    trailing = sign_note(f"{ORIGIN}\n3\n{B64}\n", [SIGNER]).replace(b"\n\n", b"\n\n\n", 1)
    with pytest.raises(NoteError):
        open_checkpoint(trailing, SIGNER.verifier)


@given(st.integers(0, (1 << 63) - 1), st.binary(min_size=32, max_size=32))
def test_checkpoint_encoding_round_trips(size: int, root: bytes) -> None:
    checkpoint = Checkpoint(ORIGIN, size, root)
    assert parse_checkpoint(checkpoint.text()) == checkpoint
