"""Commands the docs and the ``make run`` banner print work when pasted into a fresh shell.

A fresh shell in the checkout has no virtualenv activated, so a bare ``python -m mcp_bridge…``
fails there ("No module named 'mcp_bridge'"); the docs print ``.venv/bin/python -m …`` instead.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mcp_bridge.bridge.demo_run import banner

from .conftest import REPO, Log

_BARE = re.compile(r"(?<![\w./-])python3? -m ")
DOCS = sorted([*REPO.glob("docs/**/*.md"), REPO / "README.md"])


def fresh_shell(command: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``bash -c command`` with nothing but the system PATH: no venv, no PYTHONPATH."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_print_no_bare_python_command(doc: Path) -> None:
    bare = [
        f"{doc.name}:{number}: {line.strip()}"
        for number, line in enumerate(doc.read_text().splitlines(), start=1)
        if not line.lstrip().startswith("#") and _BARE.search(line)
    ]
    assert not bare, "print `.venv/bin/python -m …` (works without activation):\n" + "\n".join(bare)


def test_the_banner_verify_command_works_in_a_fresh_shell(
    log3: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    text = banner(Path("var/bridge.json"), "127.0.0.1", 8000, log3.root)
    [line] = [line for line in text.splitlines() if line.strip().startswith("verify:")]
    command = line.split("verify:", 1)[1].strip()
    assert command.startswith(".venv/bin/python -m mcp_bridge.audit.verify ")
    done = fresh_shell(command)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified: 30 events" in done.stdout


def test_runbook_incident_commands_work_in_a_fresh_shell(log3: Log, tmp_path: Path) -> None:
    """The runbook's commands, with its paths pointed at a scratch copy of the checkout's var/."""
    ops = tmp_path / "ops"
    root = log3.root
    steps = [
        f".venv/bin/python -m mcp_bridge.audit.verify {root}",
        f"AUDIT_OPS_RECORDS_PATH={ops} .venv/bin/python -m mcp_bridge.audit quarantine {root} "
        f"--to {tmp_path / 'forensics'} --incident INC-42",
        f".venv/bin/python -m mcp_bridge.audit locate {root}",
        f"AUDIT_OPS_RECORDS_PATH={ops} .venv/bin/python -m mcp_bridge.audit.incident report INC-42",
    ]
    for step in steps:
        done = fresh_shell(step)
        assert done.returncode == 0, (step, done.stdout + done.stderr)
    missing = fresh_shell(
        f".venv/bin/python -m mcp_bridge.audit.incident restore {root} --from /nonexistent"
    )
    assert missing.returncode == 2 and "error: --from /nonexistent does not exist" in missing.stderr
