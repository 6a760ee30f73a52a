"""``witness vkey`` as witnesses.md prints it: the key ``keygen`` made, as a cosigner key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_bridge.audit.commands import run
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.witness.cosignature import Cosigner, CosignerVerifier


def test_vkey_prints_the_cosigner_key_of_a_keygen_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "witness.key"
    assert run(["keygen", "--name", "witness.example.net/w1", "--out", str(key)]) == 0
    log_key = capsys.readouterr().out.strip()
    assert run(["witness", "vkey", "--key", str(key)]) == 0
    text = capsys.readouterr().out.strip()
    expected = Cosigner(Signer.from_text(key.read_text())).verifier
    assert text == expected.to_text() != log_key  # same key pair, the cosignature/v1 type
    assert CosignerVerifier.from_text(text).key_id == expected.key_id
    assert run(["witness", "vkey", "--key", str(key), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "witnessKey": text,
        "name": "witness.example.net/w1",
        "keyId": expected.key_id.hex(),
    }


def test_vkey_of_a_missing_or_foreign_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["witness", "vkey", "--key", str(tmp_path / "none")]) == 2
    assert f"error: cannot read {tmp_path / 'none'}" in capsys.readouterr().err
    (tmp_path / "junk").write_text("not a key\n")
    assert run(["witness", "vkey", "--key", str(tmp_path / "junk")]) == 2
    assert "is not a signer key" in capsys.readouterr().err
