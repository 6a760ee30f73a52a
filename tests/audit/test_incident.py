"""Incident tooling: quarantine copies, restore needs quarantine first, then re-verifies."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from mcp_bridge.audit import verify_audit_trail

from ..conftest import DAYS, Log, run_module


def incident(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_module("mcp_bridge.audit.incident", *args, env=env)


def test_quarantine_locate_restore_reverify(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(log3.root, backup)
    lines = log3.lines(DAYS[1])
    lines[2] = lines[2].replace(b'"i":2', b'"i":3')
    log3.write_lines(DAYS[1], lines)
    damaged = log3.file_of(DAYS[1]).read_bytes()
    forensic = tmp_path / "forensic"
    root = str(log3.root)

    refused = incident(cli_env, "restore", root, "--from", str(backup), "--forensic", str(forensic))
    assert refused.returncode == 2 and "has not been quarantined" in refused.stderr
    assert log3.file_of(DAYS[1]).read_bytes() == damaged

    located = incident(cli_env, "locate", root)
    assert located.returncode == 1 and "hash_mismatch" in located.stdout.splitlines()[0]
    assert "seq 12" in located.stdout.splitlines()[0]

    copied = incident(
        cli_env,
        "quarantine",
        root,
        "--start",
        "2025/10/24",
        "--end",
        "2025/10/24",
        "--forensic",
        str(forensic),
    )
    assert copied.returncode == 0, copied.stderr
    [folder] = forensic.iterdir()
    assert (folder / "2025/10/24.jsonl").read_bytes() == damaged
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["verification"]["ok"] is False and "2025/10/24.jsonl" in manifest["files"]
    assert log3.file_of(DAYS[1]).read_bytes() == damaged, "quarantine must not touch the store"

    restored = incident(
        cli_env, "restore", root, "--from", str(backup), "--forensic", str(forensic)
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restored 1 file(s): 2025/10/24.jsonl" in restored.stdout
    assert "verified: 30 events" in restored.stdout
    assert verify_audit_trail(log3.root).ok


def test_restore_puts_back_a_deleted_day(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(log3.root, backup)
    log3.file_of(DAYS[0]).unlink()
    done = incident(
        cli_env,
        "restore",
        str(log3.root),
        "--from",
        str(backup),
        "--forensic",
        str(tmp_path / "forensic"),
    )
    assert done.returncode == 0 and "restored 1 file(s): 2025/10/23.jsonl" in done.stdout
