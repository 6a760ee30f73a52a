"""The runbook's module path: quarantine copies, restore needs quarantine first, re-verifies."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mcp_bridge.audit import verify_audit_trail

from ..conftest import DAYS, Log, run_module


def incident(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_module("mcp_bridge.audit.incident", *args, env=env)


@pytest.fixture
def cli_env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**cli_env, "AUDIT_OPS_RECORDS_PATH": str(tmp_path / "ops")}


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

    refused = incident(
        cli_env, "restore", root, "--from", str(backup), "--forensic", str(forensic), "--apply"
    )
    assert refused.returncode == 1 and "[not_quarantined]" in refused.stdout
    assert log3.file_of(DAYS[1]).read_bytes() == damaged

    located = incident(cli_env, "locate", root)
    assert located.returncode == 1 and "hash_mismatch" in located.stdout.splitlines()[0]
    assert "seq 12" in located.stdout.splitlines()[0]
    assert "last good before: " in located.stdout and "seq 11" in located.stdout

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
    [manifest_file] = (forensic / "manifests").iterdir()
    manifest = json.loads(manifest_file.read_text())
    [item] = manifest["items"]
    assert (forensic / item["copy"]).read_bytes() == damaged
    assert manifest["verification"]["ok"] is False and item["source"].endswith("2025/10/24.jsonl")
    assert log3.file_of(DAYS[1]).read_bytes() == damaged, "quarantine must not touch the store"

    restored = incident(
        cli_env, "restore", root, "--from", str(backup), "--forensic", str(forensic), "--apply"
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "applied   replace" in restored.stdout and "2025/10/24.jsonl" in restored.stdout
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
        "--apply",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "applied   fill    " in done.stdout and "2025/10/23.jsonl" in done.stdout
