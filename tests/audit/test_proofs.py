"""``prove``, ``verify-proof`` and ``consistency`` on a local log with signed checkpoints."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.checkpoint_store import checkpoint_name
from mcp_bridge.audit.merkle import verify_consistency
from mcp_bridge.audit.proofs import HEADER, Bundle, BundleError, parse_bundle
from mcp_bridge.audit.records import seal_record
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.storage.local.lookup import find_by_seq

from ..conftest import DAYS, Log, run_module
from .checkpoints import ORIGIN, OTHER_SIGNER, SIGNER, VKEY, publish_local


@pytest.fixture
def signed(log3: Log) -> Log:
    publish_local(log3.root, [10, 20, 30])
    return log3


def audit(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = run_module("mcp_bridge.audit", *args, env=env)
    return done.returncode, done.stdout, done.stderr


def test_prove_by_seq_and_by_event_id_then_verify_offline(
    signed: Log, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store = str(signed.root)
    record = signed.records[13]
    out = tmp_path / "seq13.tlog-proof"
    code, _, err = audit(cli_env, "prove", "--seq", "13", "--store", store, "--out", str(out))
    assert code == 0, err
    text = out.read_text()
    assert text.startswith(HEADER + "\nextra ") and "\nindex 13\n" in text
    assert text.endswith(local_checkpoints(signed.root).get_checkpoint(30).note.decode())  # type: ignore[union-attr]
    code, by_id, err = audit(cli_env, "prove", record["eventId"], "--store", store, "--json")
    assert code == 0, err
    report = json.loads(by_id)
    assert report["bundle"] == text and report["seq"] == 13 and report["treeSize"] == 30
    assert report["tilesRead"] <= 3
    code, shown, err = audit(cli_env, "verify-proof", str(out), "--vkey", VKEY)
    assert code == 0, err
    assert f"record seq 13 (eventId {record['eventId']}" in shown
    code, shown, _ = audit(cli_env, "verify-proof", str(out), "--vkey", VKEY, "--json")
    assert json.loads(shown)["hash"] == record["hash"]
    # The same command refuses to overwrite the bundle.
    again = audit(cli_env, "prove", "--seq", "13", "--store", store, "--out", str(out))
    assert again[0] == 2 and "never overwrites" in again[2]


def _bundle(signed: Log, seq: int, env: dict[str, str]) -> str:
    code, text, err = audit(env, "prove", "--seq", str(seq), "--store", str(signed.root))
    assert code == 0, err
    return text


def _check(env: dict[str, str], tmp_path: Path, text: str, *key: str) -> tuple[int, str]:
    path = tmp_path / "bundle"
    path.write_text(text)
    code, out, err = audit(env, "verify-proof", str(path), "--vkey", *(key or (VKEY,)), "--json")
    assert "Traceback" not in err
    return code, (json.loads(out)["reason"] if code == 1 else err)


def test_tampered_bundles_are_not_proven(
    signed: Log, cli_env: dict[str, str], tmp_path: Path
) -> None:
    text = _bundle(signed, 5, cli_env)
    bundle = parse_bundle(text.encode())
    edited = bundle.record.replace(b'"i":5', b'"i":6')
    forged = Bundle(edited, 5, bundle.proof, bundle.checkpoint_note).to_text()
    assert _check(cli_env, tmp_path, forged) == (1, "hash_mismatch")
    moved = text.replace("\nindex 5\n", "\nindex 6\n")
    assert _check(cli_env, tmp_path, moved) == (1, "wrong_index")
    other = parse_bundle(_bundle(signed, 6, cli_env).encode())
    swapped = Bundle(bundle.record, 5, other.proof, bundle.checkpoint_note).to_text()
    assert _check(cli_env, tmp_path, swapped) == (1, "proof_mismatch")
    resigned = sign_checkpoint(Checkpoint(ORIGIN, 30, bytes(32)), OTHER_SIGNER)
    foreign = Bundle(bundle.record, 5, bundle.proof, resigned).to_text()
    assert _check(cli_env, tmp_path, foreign) == (1, "unknown_key")
    assert _check(cli_env, tmp_path, text.replace("extra ", "extra !"))[0] == 1
    assert _check(cli_env, tmp_path, text, "not-a-key")[0] == 2
    code, _, err = audit(cli_env, "verify-proof", str(tmp_path / "absent"), "--vkey", VKEY)
    assert code == 2 and "cannot read bundle" in err


def test_prove_refuses_what_it_cannot_prove(signed: Log, cli_env: dict[str, str]) -> None:
    store = str(signed.root)
    code, _, err = audit(cli_env, "prove", "--seq", "99", "--store", store)
    assert code == 1 and "not_found" in err
    code, _, err = audit(cli_env, "prove", "no-such-id", "--store", store, "--day", "2025/10/24")
    assert code == 1 and "not_found" in err
    lines = signed.lines(DAYS[0])
    signed.write_lines(DAYS[0], [*lines[:3], lines[3].replace(b'"i":3', b'"i":4'), *lines[4:]])
    code, _, err = audit(cli_env, "prove", "--seq", "3", "--store", store)
    assert code == 1 and "hash_mismatch" in err
    # Re-sealed with a correct hash, the record is still not the leaf the checkpoint signed.
    record = json.loads(lines[4])
    _, resealed = seal_record(
        record["previousHash"], 4, record["timestamp"], record["eventId"], "forged", "{}"
    )
    signed.write_lines(DAYS[0], [*lines[:4], resealed, *lines[5:]])
    code, _, err = audit(cli_env, "prove", "--seq", "4", "--store", store)
    assert code == 1 and "proof_mismatch" in err
    code, _, err = audit(cli_env, "prove", "--store", store)
    assert code == 2


def test_prove_names_the_record_its_level0_tile_cannot_be_derived_from(
    signed: Log, cli_env: dict[str, str]
) -> None:
    """The proof's level-0 tile is derived from the 30 records: one missing is named, with
    the file it should be in (exit 1, tile_missing), never a traceback."""
    lines = signed.lines(DAYS[0])
    signed.write_lines(DAYS[0], [*lines[:7], *lines[8:]])
    code, _, err = audit(cli_env, "prove", "--seq", "3", "--store", str(signed.root))
    assert code == 1 and err.rstrip().endswith("[tile_missing]")
    assert "record seq 7 is missing" in err and str(signed.file_of(DAYS[0])) in err
    assert "Traceback" not in err


def test_prove_with_vkey_skips_a_checkpoint_another_key_signed(
    signed: Log, cli_env: dict[str, str]
) -> None:
    store = local_checkpoints(signed.root)
    store.put_checkpoint(
        40, sign_checkpoint(Checkpoint(ORIGIN, 40, bytes(32)), OTHER_SIGNER), "t", "o"
    )
    code, out, err = audit(
        cli_env, "prove", "--seq", "2", "--store", str(signed.root), "--vkey", VKEY, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["treeSize"] == 30


def test_consistency_with_a_saved_checkpoint(
    signed: Log, cli_env: dict[str, str], tmp_path: Path
) -> None:
    saved = tmp_path / "cp10"
    note = local_checkpoints(signed.root).get_checkpoint(10)
    assert note is not None
    saved.write_bytes(note.note)
    store = str(signed.root)
    code, out, err = audit(
        cli_env, "consistency", str(saved), "--store", store, "--vkey", VKEY, "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    proof = [base64.b64decode(h) for h in report["proof"]]
    verify_consistency(
        10, 30, base64.b64decode(report["oldRoot"]), base64.b64decode(report["newRoot"]), proof
    )
    code, text, _ = audit(cli_env, "consistency", str(saved), "--store", store)
    assert code == 0 and "extends the checkpoint of 10 records" in text
    assert report["proof"][0] in text
    # A checkpoint of another history (same key, other root) is not extended by this log.
    saved.write_bytes(sign_checkpoint(Checkpoint(ORIGIN, 10, bytes(32)), SIGNER))
    code, text, _ = audit(cli_env, "consistency", str(saved), "--store", store, "--vkey", VKEY)
    assert code == 1 and "NOT CONSISTENT" in text
    saved.write_bytes(sign_checkpoint(Checkpoint(ORIGIN, 31, bytes(32)), SIGNER))
    code, text, _ = audit(cli_env, "consistency", str(saved), "--store", store)
    assert code == 1 and "truncated" in text
    Path(local_checkpoints(signed.root).where(checkpoint_name(30))).unlink()
    saved.write_bytes(note.note)
    code, text, _ = audit(
        cli_env,
        "consistency",
        str(saved),
        "--store",
        store,
        "--vkey",
        OTHER_SIGNER.verifier.to_text(),
    )
    assert code == 1 and "unknown_key" in text


@given(
    st.binary(min_size=1, max_size=300),
    st.integers(0, 1 << 40),
    st.lists(st.binary(min_size=32, max_size=32), max_size=40),
)
def test_bundle_encoding_round_trips(record: bytes, index: int, proof: list[bytes]) -> None:
    note = b"origin\n1\n" + base64.b64encode(bytes(32)) + b"\n\n\xe2\x80\x94 k AAAAAAA=\n"
    bundle = Bundle(record, index, tuple(proof), note)
    assert parse_bundle(bundle.to_text().encode()) == bundle


BAD_BUNDLES = [
    b"",
    b"\xff",
    b"c2sp.org/tlog-proof@v2\nextra AA==\nindex 1\n\nx",
    HEADER.encode() + b"\nindex 1\n\nx",
    HEADER.encode() + b"\nextra AA==\nindex 01\n\nx",
    HEADER.encode() + b"\nextra AA==\nindex 1\nnot base64\n\nx",
    HEADER.encode() + b"\nextra AA==\nindex 1\nno blank line",
]


@pytest.mark.parametrize("data", BAD_BUNDLES)
def test_malformed_bundles_are_rejected(data: bytes) -> None:
    with pytest.raises(BundleError):
        parse_bundle(data)


def test_local_lookup_finds_every_seq_by_binary_search(log3: Log) -> None:
    for record in log3.records:
        found = find_by_seq(log3.root, record["seq"])
        assert found is not None
        line, where = found
        assert json.loads(line) == record
        assert where.endswith(f"{record['timestamp'][:10].replace('-', '/')}.jsonl")
    assert find_by_seq(log3.root, len(log3.records)) is None
    log3.file_of(DAYS[1]).unlink()
    assert find_by_seq(log3.root, 15) is None
    assert find_by_seq(log3.root, 25) is not None
