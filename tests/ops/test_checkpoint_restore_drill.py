"""``restore`` and ``drill`` check the signed checkpoints (``--vkey`` / ``AUDIT_VERIFY_KEY``).

A forged partition that chains perfectly (every record re-sealed from the last good hash) is
exactly what the chain check cannot see and a checkpoint can: the restore refuses it with
``checkpoint_mismatch``, the drill reports it, and without a key both say so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mcp_bridge.audit.records import seal_record

from ..audit.checkpoints import VKEY, publish_local
from ..conftest import DAYS, Log, build_log
from .helpers import audit, tree


@pytest.fixture
def signed(tmp_path: Path) -> Log:
    """Three days, 10 records each, checkpoints at 10, 20 and 30 records."""
    log = build_log(tmp_path / "audit", DAYS, 10)
    publish_local(log.root, [10, 20, 30])
    return log


def forge_day(log: Log, into: Path) -> Path:
    """A copy of ``log`` whose last day is re-sealed with other payloads: it chains."""
    shutil.copytree(log.root, into)
    lines = log.lines(DAYS[-1])
    previous = json.loads(lines[0])["previousHash"]
    forged = []
    for line in lines:
        record = json.loads(line)
        previous, sealed = seal_record(
            previous, record["seq"], record["timestamp"], record["eventId"], "forged", "{}"
        )
        forged.append(sealed)  # sealed lines end with their newline
    (into / f"{DAYS[-1]:%Y/%m/%d}.jsonl").write_bytes(b"".join(forged))
    return into


def test_a_restore_that_chains_but_differs_from_a_checkpoint_is_refused(
    signed: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = forge_day(signed, tmp_path / "forged")
    signed.file_of(DAYS[-1]).unlink()
    before = tree(signed.root)
    root = str(signed.root)

    unchecked = audit(capsys, "restore", root, "--from", str(forged), "--json")
    assert [(a["kind"], a["status"]) for a in unchecked.json["actions"]] == [("fill", "planned")], (
        "without a verifier key the forged day chains and would be restored"
    )
    assert unchecked.json["verificationAfter"]["stats"]["checkpoints"]["checked"] is False
    text = audit(capsys, "restore", root, "--from", str(forged))
    assert "checkpoints: NOT checked" in text.out

    refused = audit(capsys, "restore", root, "--from", str(forged), "--vkey", VKEY, "--apply")
    assert refused.code == 1
    assert "[checkpoint_mismatch]" in refused.out and "2025/10/25.jsonl" in refused.out
    as_json = audit(capsys, "restore", root, "--from", str(forged), "--vkey", VKEY, "--json")
    [action] = as_json.json["actions"]
    assert (action["status"], action["reason"]) == ("refused", "checkpoint_mismatch")
    assert "00000000000000000030" in action["detail"], "names the checkpoint it rests on"
    assert f"in {signed.root}/2025/10/25.jsonl" in action["detail"], "and the record, not scratch"
    assert "mcp-bridge-scratch" not in refused.out
    assert tree(signed.root) == before, "nothing written"


def test_a_restore_from_the_genuine_backup_passes_the_checkpoints_of_audit_verify_key(
    signed: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch, ops_records
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(signed.root, backup)
    signed.file_of(DAYS[-1]).unlink()
    monkeypatch.setenv("AUDIT_VERIFY_KEY", VKEY)
    root = str(signed.root)

    done = audit(capsys, "restore", root, "--from", str(backup), "--apply", "--json")
    assert done.code == 0, done.out
    before = done.json["verificationBefore"]
    assert [f["reason"] for f in before["failures"]] == ["log_truncated"]
    after = done.json["verificationAfter"]
    assert after["ok"] and after["stats"]["checkpoints"]["checked"] == 3
    assert signed.file_of(DAYS[-1]).read_bytes() == (backup / "2025/10/25.jsonl").read_bytes()
    [record] = ops_records.glob("*-restore-*.md")
    assert "checkpoints: 3 signed by the key" in record.read_text()


def test_a_local_drill_reports_the_checkpoints_of_its_sample(
    signed: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drill = ["drill", str(signed.root), "--days", "3", "--seed", "1"]
    done = audit(capsys, *drill, "--vkey", VKEY, "--json")
    assert done.code == 0, done.out
    assert done.json["checkpoints"]["checked"] == 3 and done.json["cleanedUp"]
    plain = audit(capsys, *drill)
    assert plain.code == 0 and "checkpoints: NOT checked" in plain.out

    forged = forge_day(signed, tmp_path / "forged")
    bad = audit(capsys, "drill", str(forged), "--days", "3", "--vkey", VKEY, "--json")
    assert bad.code == 1 and bad.json["cleanedUp"]
    reasons = {f["reason"] for f in bad.json["verification"]["failures"]}
    assert reasons == {"checkpoint_mismatch"}
