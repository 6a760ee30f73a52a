"""Running a command as an operator's shell would: stderr on a pseudo-terminal, or piped."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path


def run_on_a_pty(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bytes, bytes]:
    """Run ``command`` with stderr on a pty: (exit code, stdout, what the terminal showed)."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        command,
        env={**env, "COLUMNS": "100", "TERM": "xterm"},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=child,
    )
    os.close(child)
    out, _ = process.communicate(timeout=60)
    seen = b""
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        seen += data
    os.close(main)
    return process.returncode, out, seen


def run_piped(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bytes]:
    """Run ``command`` with stdout and stderr piped: (exit code, stderr)."""
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=60)
    return done.returncode, done.stderr
