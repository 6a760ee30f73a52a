"""``access-report DIR``: the permissions audit of a local store (owner and modes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..conftest import DAYS, Log
from .helpers import audit, tree


def lock_down(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o700)
        for name in files:
            os.chmod(Path(folder, name), 0o600)


def test_a_locked_down_store_has_no_finding(log3: Log, capsys: pytest.CaptureFixture[str]) -> None:
    lock_down(log3.root)
    done = audit(capsys, "access-report", str(log3.root))
    assert done.code == 0, done.out
    assert "local store: file system permissions" in done.out and "OK: no finding" in done.out
    as_json = audit(capsys, "access-report", str(log3.root), "--json").json
    entries = 1 + sum(len(d) + len(f) for _, d, f in os.walk(log3.root))
    assert as_json["ok"] and as_json["entriesChecked"] == entries
    assert as_json["controls"]["mode"] == "drwx------"


def test_each_loose_permission_is_a_finding_naming_the_path(
    log3: Log, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock_down(log3.root)
    day = log3.file_of(DAYS[1])
    os.chmod(day, 0o602)
    os.chmod(day.parent, 0o770)
    os.chmod(log3.root, 0o705)
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(b"")
    os.symlink(outside, log3.root / "2025" / "link.jsonl")
    expected = {"world_writable", "group_writable", "other_access", "symlink_in_store"}
    if os.geteuid() == 0:
        os.chown(log3.file_of(DAYS[2]), 12345, -1)
        expected.add("foreign_owner")
    before = tree(log3.root)

    done = audit(capsys, "access-report", str(log3.root), "--json")
    assert done.code == 1
    found = {f["reason"]: f["message"] for f in done.json["findings"]}
    assert set(found) == expected
    assert str(day) in found["world_writable"] and str(day.parent) in found["group_writable"]
    assert "link.jsonl" in found["symlink_in_store"]
    if "foreign_owner" in found:
        assert str(log3.file_of(DAYS[2])) in found["foreign_owner"]
    assert "POSIX ACLs" in done.json["cannotSee"]
    assert tree(log3.root) == before, "only read"


def test_s3_options_on_a_local_store_are_a_usage_error(
    log3: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    done = audit(capsys, "access-report", str(log3.root), "--incident-principal", "arn:x")
    assert done.code == 2 and "local store" in done.err
