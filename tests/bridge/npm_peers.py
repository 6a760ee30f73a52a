"""The npm reference servers and the TypeScript SDK client, installed into tests/npm/.

``tests/npm/package.json`` + ``package-lock.json`` pin them; ``make test`` runs ``npm ci`` there
once (``tests/npm/node_modules`` is the cache), and :func:`installed` does the same when the tests
run without make. Tests that need them are skipped, with the reason, only where npm is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mcp_bridge.bridge.upstream_config import UpstreamSpec

NPM_DIR = Path(__file__).resolve().parent.parent / "npm"
MODULES = NPM_DIR / "node_modules"
STAMP = MODULES / ".installed"


def installed() -> Path:
    """``node_modules`` with the pinned packages, installing them once; skip without npm."""
    if not STAMP.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            pytest.skip("npm/node not found: the npm reference servers and TS client need them")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NPM_DIR,
            check=True,
            timeout=600,
        )
        STAMP.touch()
    return MODULES


def server_spec(name: str, package: str, *args: str) -> UpstreamSpec:
    """A stdio upstream running ``node <package's bin>``."""
    entry = installed() / ".bin" / package
    return UpstreamSpec(name=name, command=str(shutil.which("node")), args=(str(entry), *args))


__all__ = ["MODULES", "NPM_DIR", "installed", "server_spec"]
