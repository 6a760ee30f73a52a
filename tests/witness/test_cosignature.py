"""cosignature/v1 codec and the add-checkpoint request codec and decision (pure)."""

from __future__ import annotations

import base64
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.merkle import consistency_proof, leaf_hash, memory_provider, root_of
from mcp_bridge.audit.note import NoteError, Signature, Signer, parse_note
from mcp_bridge.audit.witness.cosignature import (
    Cosigner,
    CosignerVerifier,
    attach,
    cosignatures_in,
    cosigned_message,
)
from mcp_bridge.audit.witness.endpoints import parse_witnesses
from mcp_bridge.audit.witness.protocol import (
    Accept,
    Refuse,
    RequestError,
    decide,
    format_request,
    parse_request,
)

# A cosigner verifier key published by a real witness (type 0x04): its key id must match.
REMORA = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
# A cosignature from transparency-dev/formats' tests: key id ZGhGuQ, timestamp 1727964367.
FORMATS_SIGNATURE = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gx"
    "EHWWOworDcFiEBYJXORmnFBOBA=="
)
SIGNER = Signer.generate("witness.example.net/w1")
LOG = Signer.generate("audit.example.com/log")


def test_published_witness_key_parses_and_round_trips() -> None:
    key = CosignerVerifier.from_text(REMORA)
    assert (key.name, key.key_id.hex()) == ("remora.n621.de", "da77ade7")
    assert key.to_text() == REMORA
    with pytest.raises(NoteError):  # a note (0x01) key is not a cosigner key
        CosignerVerifier.from_text(LOG.verifier.to_text())
    with pytest.raises(NoteError):
        CosignerVerifier.from_text(REMORA.replace("da77ade7", "da77ade8"))


def test_the_payload_layout_matches_the_spec() -> None:
    raw = base64.b64decode(FORMATS_SIGNATURE)
    assert len(raw) == 4 + 8 + 64
    assert struct.unpack(">Q", raw[4:12]) == (1727964367,)
    assert cosigned_message("o\n1\nAA==\n", 7) == b"cosignature/v1\ntime 7\no\n1\nAA==\n"


def checkpoint_note(size: int = 3) -> bytes:
    leaves = [leaf_hash(bytes([i])) for i in range(size)]
    return sign_checkpoint(Checkpoint(LOG.name, size, root_of(leaves)), LOG)


@given(st.integers(min_value=1, max_value=(1 << 63) - 1), st.integers(0, 200))
def test_cosign_verify_round_trip_and_any_flipped_byte_fails(timestamp: int, flip: int) -> None:
    cosigner = Cosigner(SIGNER)
    note = checkpoint_note()
    line = cosigner.cosign(parse_note(note).text, timestamp).line().encode()
    [found] = cosignatures_in(attach(note, line), [cosigner.verifier])
    assert found.timestamp == timestamp
    payload = bytearray(base64.b64decode(line.split(b" ")[-1]))
    index = 4 + flip % (len(payload) - 4)
    payload[index] ^= 1
    bad = Signature(SIGNER.name, cosigner.verifier.key_id, bytes(payload[4:]))
    with pytest.raises(NoteError):
        cosigner.verifier.verify(parse_note(note).text, bad)


def test_a_cosignature_does_not_verify_as_a_log_signature_and_vice_versa() -> None:
    note = checkpoint_note()
    cosigner = Cosigner(LOG)  # the same key pair, two roles: different key ids
    assert cosigner.verifier.key_id != LOG.key_id
    assert cosignatures_in(parse_note(note), [cosigner.verifier]) == []


@given(st.integers(0, 40), st.lists(st.binary(min_size=32, max_size=32), max_size=63))
def test_request_round_trip(old: int, proof: list[bytes]) -> None:
    note = checkpoint_note()
    parsed = parse_request(format_request(old, proof, note))
    assert (parsed.old_size, list(parsed.proof), parsed.note) == (old, proof, note)


@pytest.mark.parametrize(
    "body",
    [b"old 1\n", b"old 01\n\nx", b"new 1\n\nx", b"old 1\nAAAA\n\nx", b"old 1\n\xff\n\nx"],
)
def test_malformed_requests(body: bytes) -> None:
    with pytest.raises(RequestError):
        parse_request(body)


def test_decide_follows_the_spec_order() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(9)]
    old = Checkpoint(LOG.name, 4, root_of(leaves[:4]))
    new_note = sign_checkpoint(Checkpoint(LOG.name, 9, root_of(leaves)), LOG)
    proof = consistency_proof(4, 9, memory_provider(leaves))
    logs = {LOG.name: LOG.verifier}
    request = parse_request(format_request(4, proof, new_note))
    assert isinstance(decide(request, logs, old), Accept)
    refusal = decide(request, logs, None)
    assert isinstance(refusal, Refuse) and (refusal.status, refusal.body) == (409, b"0\n")
    assert isinstance(refusal := decide(request, {}, old), Refuse) and refusal.status == 404


def test_witness_list_format() -> None:
    key = Cosigner(SIGNER).verifier.to_text()
    [endpoint] = parse_witnesses(f" https://w1.example.net/prefix {key} ,")
    assert endpoint.add_checkpoint_url == "https://w1.example.net/prefix/add-checkpoint"
    with pytest.raises(ValueError, match="listed twice"):
        parse_witnesses(f"https://a {key}, https://b {key}")
    with pytest.raises(ValueError, match="not an http"):
        parse_witnesses(f"ftp://a {key}")
