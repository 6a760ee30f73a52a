"""The witness server against the C2SP tlog-witness rules, over real HTTP to a real process."""

from __future__ import annotations

from pathlib import Path

from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.merkle import EMPTY_ROOT, consistency_proof
from mcp_bridge.audit.note import Signer, parse_note
from mcp_bridge.audit.tiles import TileHashes, TileId
from mcp_bridge.audit.witness.cosignature import attach, cosignatures_in
from mcp_bridge.audit.witness.protocol import format_request
from mcp_bridge.audit.witness.state import origin_hash

from .support import SyntheticLog, WitnessProcess


def proof(log: SyntheticLog, old: int, new: int) -> list[bytes]:
    def fetch(tile: TileId) -> bytes:
        data = log.store.get_tile(tile.path)
        assert data is not None
        return data

    return consistency_proof(old, new, TileHashes(new, fetch))


def test_cosigns_growth_and_answers_each_refusal_with_the_specs_code(
    log: SyntheticLog, witnesses: list[WitnessProcess]
) -> None:
    witness = witnesses[0]
    log.append(5)
    first, five = log.publish()
    answer = witness.add(format_request(0, [], first))
    assert answer.status_code == 200
    [cosig] = cosignatures_in(attach(first, answer.content), [witness.verifier])
    assert cosig.timestamp > 0

    log.append(7)
    second, twelve = log.publish()
    # wrong old size: 409 with the size last cosigned, as text/x.tlog.size
    stale = witness.add(format_request(0, [], second))
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "text/x.tlog.size"
    assert stale.content == b"5\n"
    # old size above the checkpoint's: 400
    assert witness.add(format_request(13, [], second)).status_code == 400
    # a proof that does not verify: 422
    bad = proof(log, five, twelve)
    bad[0] = bytes(32)
    assert witness.add(format_request(five, bad, second)).status_code == 422
    # unknown log: 404; other key for the known origin: 403
    stranger = Signer.generate(log.origin)
    forged = sign_checkpoint(Checkpoint(log.origin, 12, bytes(32)), stranger)
    other_log = sign_checkpoint(Checkpoint("other.example/log", 1, bytes(32)), stranger)
    assert witness.add(format_request(five, [], other_log)).status_code == 404
    assert witness.add(format_request(five, [], forged)).status_code == 403
    # malformed body: 400
    assert witness.add(b"old 01\n\n" + second).status_code == 400
    # the right proof: cosigned, and the monitoring endpoint serves it with both signatures
    assert witness.add(format_request(five, proof(log, five, twelve), second)).status_code == 200
    served = witness_checkpoint(witness, log.origin)
    assert parse_note(served).text == parse_note(second).text
    assert cosignatures_in(parse_note(served), [witness.verifier])


def witness_checkpoint(witness: WitnessProcess, origin: str) -> bytes:
    import httpx

    response = httpx.get(f"{witness.url}/{origin_hash(origin)}/checkpoint")
    assert response.status_code == 200
    return response.content


def test_size_zero_must_carry_the_empty_root_and_no_proof(
    log: SyntheticLog, witnesses: list[WitnessProcess]
) -> None:
    witness = witnesses[0]
    wrong = sign_checkpoint(Checkpoint(log.origin, 0, bytes(32)), log.signer)
    assert witness.add(format_request(0, [], wrong)).status_code == 422
    empty = sign_checkpoint(Checkpoint(log.origin, 0, EMPTY_ROOT), log.signer)
    assert witness.add(format_request(0, [bytes(32)], empty)).status_code == 422
    assert witness.add(format_request(0, [], empty)).status_code == 200


def test_split_view_is_refused_and_never_cosigned(
    tmp_path: Path, log: SyntheticLog, witnesses: list[WitnessProcess]
) -> None:
    """The key holder signs a second history of the same log: the witness refuses it (422 for a
    different root at the size it holds, 409 then 422 for a fork that is longer)."""
    witness = witnesses[0]
    log.append(10)
    honest, ten = log.publish()
    assert witness.add(format_request(0, [], honest)).status_code == 200
    fork = SyntheticLog(tmp_path / "fork", log.origin, log.signer)  # the stolen key
    fork.append(10)
    same_size, _ = fork.publish()
    assert witness.add(format_request(ten, [], same_size)).status_code == 422
    fork.append(6)
    longer, sixteen = fork.publish()
    assert witness.add(format_request(ten, proof(fork, ten, sixteen), longer)).status_code == 422
    assert witness.add(format_request(0, [], longer)).status_code == 409
    # what the witness holds is still the honest checkpoint
    assert parse_note(witness_checkpoint(witness, log.origin)).text == parse_note(honest).text


def test_state_survives_a_restart(log: SyntheticLog, witnesses: list[WitnessProcess]) -> None:
    witness = witnesses[0]
    log.append(3)
    note, _three = log.publish()
    assert witness.add(format_request(0, [], note)).status_code == 200
    witness.stop()
    witness.start()
    answer = witness.add(format_request(0, [], note))
    assert (answer.status_code, answer.content) == (409, b"3\n")
