"""``python -m mcp_bridge.audit keygen``: a signer key file (0600, never overwritten), a vkey."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from mcp_bridge.audit.note import Signer, Verifier, open_note, sign_note

from ..conftest import run_module


@pytest.fixture(autouse=True)
def ops_folder(tmp_path: Path, cli_env: dict[str, str]) -> Path:
    """Where keygen files its ops record (never the checkout's var/)."""
    cli_env["AUDIT_OPS_RECORDS_PATH"] = str(tmp_path / "ops")
    return tmp_path / "ops"


def test_keygen_writes_a_private_key_and_prints_its_verifier_key(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    out = tmp_path / "signing.key"
    made = run_module(
        "mcp_bridge.audit",
        "keygen",
        "--name",
        "audit.example.com/prod",
        "--out",
        str(out),
        env=cli_env,
    )
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    signer = Signer.from_text(out.read_text())
    verifier = Verifier.from_text(made.stdout)
    assert made.stdout.count("\n") == 1
    assert verifier == signer.verifier
    assert verifier.name == "audit.example.com/prod"
    assert open_note(sign_note("x\n", [signer]), [verifier]).text == "x\n"
    assert "PRIVATE" not in made.stdout + made.stderr


def test_keygen_refuses_to_overwrite(tmp_path: Path, cli_env: dict[str, str]) -> None:
    out = tmp_path / "signing.key"
    out.write_text("precious\n")
    again = run_module("mcp_bridge.audit", "keygen", "--name", "n", "--out", str(out), env=cli_env)
    assert again.returncode == 2
    assert "exists" in again.stderr and "never overwrites" in again.stderr
    assert out.read_text() == "precious\n"
    assert again.stdout == ""


def test_keygen_bad_name_missing_dir_and_json(tmp_path: Path, cli_env: dict[str, str]) -> None:
    bad = run_module(
        "mcp_bridge.audit", "keygen", "--name", "a+b", "--out", str(tmp_path / "k"), env=cli_env
    )
    assert bad.returncode == 2 and "--name" in bad.stderr
    assert not (tmp_path / "k").exists()
    missing = run_module(
        "mcp_bridge.audit",
        "keygen",
        "--name",
        "n",
        "--out",
        str(tmp_path / "no" / "k"),
        env=cli_env,
    )
    assert missing.returncode == 3 and "cannot create" in missing.stderr
    assert "Traceback" not in missing.stderr
    shown = run_module(
        "mcp_bridge.audit",
        "keygen",
        "--name",
        "n",
        "--out",
        str(tmp_path / "j"),
        "--json",
        env=cli_env,
    )
    report = json.loads(shown.stdout)
    assert Verifier.from_text(report["verifierKey"]).key_id.hex() == report["keyId"]
    assert report["signerKeyFile"] == str(tmp_path / "j")


def test_keygen_files_an_ops_record_without_the_secret(
    tmp_path: Path, cli_env: dict[str, str], ops_folder: Path
) -> None:
    out = tmp_path / "signing.key"
    made = run_module(
        "mcp_bridge.audit", "keygen", "--name", "ops.example/k", "--out", str(out), env=cli_env
    )
    assert made.returncode == 0, made.stderr
    (record_file,) = ops_folder.glob("*-keygen-*.json")
    record = json.loads(record_file.read_text())
    assert record["command"] == "keygen" and record["argv"][-1] == str(out)
    signer = Signer.from_text(out.read_text())
    assert record["result"] == {
        "keyName": "ops.example/k",
        "keyId": signer.key_id.hex(),
        "signerKeyFile": str(out),
        "verifierKey": signer.verifier.to_text(),
    }
    assert "PRIVATE" not in record_file.read_text()


def test_keygen_with_a_wrong_setting_makes_no_key(tmp_path: Path, cli_env: dict[str, str]) -> None:
    out = tmp_path / "signing.key"
    bad = run_module(
        "mcp_bridge.audit",
        "keygen",
        "--name",
        "n",
        "--out",
        str(out),
        env={**cli_env, "AUDIT_STORAGE_BACKEND": "floppy"},
    )
    assert bad.returncode == 2 and "AUDIT_STORAGE_BACKEND" in bad.stderr
    assert not out.exists() and "Traceback" not in bad.stderr
