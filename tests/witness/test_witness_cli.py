"""``witness vkey`` as witnesses.md prints it: the key ``keygen`` made, as a cosigner key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_bridge.audit.commands import run
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.witness.cosignature import Cosigner, CosignerVerifier


@pytest.fixture(autouse=True)
def ops_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """keygen files an ops record: here, never in the checkout's var/."""
    monkeypatch.setenv("AUDIT_OPS_RECORDS_PATH", str(tmp_path / "ops"))


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


def _config(folder: Path, state: str, logs: str) -> Path:
    assert run(["keygen", "--name", "w.example.net", "--out", str(folder / "witness.key")]) == 0
    config = folder / "witness.toml"
    config.write_text(f'key = "witness.key"\nstate = "{state}"\n{logs}')
    return config


LOG = '[[log]]\norigin = "audit.example.com/bridge"\nkey = "{key}"\n'


def test_serve_refuses_a_bad_config_with_2_and_unwritable_state_with_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """witnesses.md: 2 for a bad configuration (named), 3 when the state cannot be written;
    both before the server starts."""
    no_logs = _config(tmp_path, "state", "")
    assert run(["witness", "serve", "--config", str(no_logs)]) == 2
    assert "at least one [[log]] table is required" in capsys.readouterr().err
    log_key = Signer.generate("audit.example.com/bridge").verifier.to_text()
    (tmp_path / "state-file").write_text("not a directory\n")
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    config = _config(blocked, str(tmp_path / "state-file"), LOG.format(key=log_key))
    assert run(["witness", "serve", "--config", str(config)]) == 3
    assert "cannot create witness state" in capsys.readouterr().err
    assert (tmp_path / "state-file").read_text() == "not a directory\n"
