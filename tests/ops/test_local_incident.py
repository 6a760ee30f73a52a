"""Quarantine, locate, restore and the incident report on a real local store."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from mcp_bridge.audit import verify_audit_trail

from ..conftest import DAYS, Log, build_log
from .helpers import audit, tree


def tamper(log: Log, day: date) -> bytes:
    lines = log.lines(day)
    lines[2] = lines[2].replace(b'"i":2', b'"i":3')
    log.write_lines(day, lines)
    return log.file_of(day).read_bytes()


def test_quarantine_copies_every_file_verifies_them_and_a_second_run_adds_nothing(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str], ops_records: Path
) -> None:
    tamper(log3, DAYS[1])
    before = tree(log3.root)
    forensic = tmp_path / "forensic"

    first = audit(capsys, "quarantine", str(log3.root), "--to", str(forensic), "--json")
    assert first.code == 0, first.err
    document = first.json
    assert document["items"] == 3 and document["newCopies"] == 3 and document["copiesVerified"]
    manifest = json.loads(Path(document["manifest"]).read_text())
    assert {Path(item["source"]).name for item in manifest["items"]} == {
        "23.jsonl",
        "24.jsonl",
        "25.jsonl",
    }
    for item in manifest["items"]:
        copy = (forensic / item["copy"]).read_bytes()
        assert copy == Path(item["source"]).read_bytes()
        assert item["sha256"] == tree(forensic)[item["copy"]] and item["bytes"] == len(copy)
    assert manifest["verification"]["ok"] is False and manifest["operator"]
    assert tree(log3.root) == before, "quarantine must not touch the store"
    [record] = ops_records.glob("*-quarantine-*.json")
    assert json.loads(record.read_text())["result"]["manifest"] == document["manifest"]

    copies = tree(forensic)
    again = audit(capsys, "quarantine", str(log3.root), "--to", str(forensic), "--json")
    assert again.code == 0 and again.json["newCopies"] == 0 and again.json["manifest"] is None
    assert tree(forensic) == copies, "a second run adds nothing and overwrites nothing"
    assert len(list(ops_records.glob("*-quarantine-*.json"))) == 1
    assert tree(log3.root) == before


def test_quarantine_into_the_store_itself_is_refused_and_writes_nothing(
    log3: Log, capsys: pytest.CaptureFixture[str], ops_records: Path
) -> None:
    before = tree(log3.root)
    inside = log3.root / "forensics"
    done = audit(capsys, "quarantine", str(log3.root), "--to", str(inside))
    assert done.code == 2
    assert f"error: --to {inside} overlaps the audit trail {log3.root}" in done.err
    assert tree(log3.root) == before and not inside.exists()
    assert not ops_records.exists() or not list(ops_records.iterdir())


@pytest.mark.parametrize(
    "command",
    [
        ["quarantine", "{root}", "--to", "{tmp}/forensic"],
        ["locate", "{root}", "--incident", "INC-1"],
        ["restore", "{root}", "--from", "{tmp}/backup", "--apply"],
        ["drill", "{root}"],
    ],
    ids=lambda command: command[0],
)
def test_ops_records_inside_the_trail_are_refused_before_anything_is_written(
    log3: Log,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    """The configuration compares AUDIT_OPS_RECORDS_PATH with AUDIT_STORAGE_PATH only; a command
    given another trail checks its own."""
    shutil.copytree(log3.root, tmp_path / "backup")
    log3.file_of(DAYS[2]).unlink()  # something for restore to fill
    before = tree(log3.root)
    monkeypatch.setenv("AUDIT_OPS_RECORDS_PATH", str(log3.root / "ops"))
    argv = [word.format(root=log3.root, tmp=tmp_path) for word in command]
    done = audit(capsys, *argv)
    assert done.code == 2, done.out + done.err
    assert f"AUDIT_OPS_RECORDS_PATH={log3.root / 'ops'} is inside the audit trail" in done.err
    assert tree(log3.root) == before and not (tmp_path / "forensic").exists()


def test_quarantine_from_a_report_copies_only_what_it_names(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tamper(log3, DAYS[2])
    report = tmp_path / "report.json"
    report.write_text(json.dumps(verify_audit_trail(log3.root).to_dict()))
    done = audit(
        capsys,
        "quarantine",
        str(log3.root),
        "--from-report",
        str(report),
        "--to",
        str(tmp_path / "f"),
    )
    assert done.code == 0, done.err
    assert "1 item(s)" in done.out
    [copy] = (tmp_path / "f" / "files").rglob("*.jsonl@*")
    assert copy.read_bytes() == damaged and copy.name.startswith("25.jsonl@")


def test_legal_hold_on_a_local_store_is_a_usage_error(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = audit(capsys, "quarantine", str(log3.root), "--to", str(tmp_path / "f"), "--legal-hold")
    assert done.code == 2 and "--legal-hold applies to S3 only" in done.err
    assert not (tmp_path / "f").exists() or not any((tmp_path / "f").iterdir())


def test_locate_names_the_earliest_failure_and_its_neighbours(
    log3: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(log3, DAYS[1])
    done = audit(capsys, "locate", str(log3.root), "--json", "--after", "2")
    assert done.code == 1
    found = done.json
    assert found["earliestFailure"]["reason"] == "hash_mismatch"
    assert found["earliestFailure"]["seq"] == 12
    assert found["lastGoodBefore"]["seq"] == 11 and found["lastGoodBefore"]["hashOk"]
    assert found["failingLine"]["seq"] == 12 and not found["failingLine"]["hashOk"]
    assert [n["seq"] for n in found["after"]] == [13, 14]


def test_locate_on_an_intact_store_exits_0(log3: Log, capsys: pytest.CaptureFixture[str]) -> None:
    done = audit(capsys, "locate", str(log3.root))
    assert done.code == 0 and done.out.startswith("no failure: verified: 30 events")


def test_restore_of_a_deleted_partition_dry_run_first_then_applied(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str], ops_records: Path
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(log3.root, backup)
    log3.file_of(DAYS[1]).unlink()
    before = tree(log3.root)

    dry = audit(capsys, "restore", str(log3.root), "--from", str(backup), "--json")
    assert dry.code == 0, dry.out + dry.err
    assert dry.json["dryRun"] and [a["status"] for a in dry.json["actions"]] == ["planned"]
    assert dry.json["verificationAfter"]["ok"] and dry.json["verificationAfterIsPreview"]
    assert tree(log3.root) == before, "a dry run changes nothing"

    done = audit(capsys, "restore", str(log3.root), "--from", str(backup), "--apply", "--json")
    assert done.code == 0, done.out + done.err
    [action] = done.json["actions"]
    assert action["status"] == "applied" and action["kind"] == "fill"
    assert log3.file_of(DAYS[1]).read_bytes() == (backup / "2025/10/24.jsonl").read_bytes()
    assert verify_audit_trail(log3.root).ok
    record = Path(done.json["incidentRecord"])
    markdown = record.with_suffix(".md").read_text()
    assert "# Restore: " in markdown and "verified: 30 events" in markdown
    assert "verified: 30 events" in record.with_suffix(".verification.log").read_text()


def test_a_backup_that_does_not_chain_is_refused(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = build_log(tmp_path / "other", DAYS, 10)  # same days, different records
    log3.file_of(DAYS[1]).unlink()
    before = tree(log3.root)
    done = audit(capsys, "restore", str(log3.root), "--from", str(other.root), "--apply", "--json")
    assert done.code == 1
    outcome = {Path(a["target"]).name: (a["status"], a["reason"]) for a in done.json["actions"]}
    assert outcome == {
        "24.jsonl": ("refused", "does_not_chain"),
        "23.jsonl": ("kept", "store_copy_intact"),
        "25.jsonl": ("kept", "store_copy_intact"),
    }
    assert tree(log3.root) == before


def test_restore_from_a_missing_directory_is_exit_2(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = audit(capsys, "restore", str(log3.root), "--from", str(tmp_path / "nowhere"))
    assert done.code == 2 and "--from" in done.err and "does not exist" in done.err
    assert "Traceback" not in done.err


def test_incident_report_gathers_the_records_with_their_digests(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(log3.root, backup)
    tamper(log3, DAYS[1])
    root, forensic = str(log3.root), str(tmp_path / "forensic")
    assert audit(capsys, "quarantine", root, "--to", forensic, "--incident", "INC-7").code == 0
    assert audit(capsys, "locate", root, "--incident", "INC-7").code == 1
    restore = ["restore", root, "--from", str(backup), "--forensic", forensic, "--apply"]
    assert audit(capsys, *restore, "--incident", "INC-7").code == 0

    done = audit(capsys, "incident", "report", "INC-7", "--verify", root, "--json")
    assert done.code == 0, done.err
    folder = Path(done.json["folder"])
    sums = dict(
        reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines()
    )
    assert sums == {name: digest for name, digest in tree(folder).items() if name in sums}
    names = set(sums)
    assert any(n.startswith("manifests/quarantine-") for n in names)
    assert any("-locate-" in n for n in names) and any(
        "-restore-" in n and n.endswith(".md") for n in names
    )
    assert (
        "verification.log" in names and json.loads((folder / "verification.json").read_text())["ok"]
    )
