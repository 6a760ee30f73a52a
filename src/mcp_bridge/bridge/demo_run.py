"""``make run``: a scratch git repo under var/, a bridge.json for it, then serve.

Proxies ``mcp-server-git`` (confined to the scratch repo) and ``mcp-server-time``, both installed
in the same virtualenv as the bridge.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mcp_bridge.config import ConfigError, load_config

from .cli import serve
from .settings import load_bridge_settings

VAR = Path("var")


def scratch_repo(path: Path) -> Path:
    """A git repository with one commit, created once and reused."""
    if (path / ".git").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(path), "-c", "user.name=demo", "-c", "user.email=demo@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (path / "README.md").write_text("Scratch repository for the mcp-bridge demo.\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "initial commit"], check=True)
    return path


def write_config(repo: Path, target: Path) -> Path:
    bin_dir = Path(sys.executable).parent
    document = {
        "mcpServers": {
            "git": {
                "command": str(bin_dir / "mcp-server-git"),
                "args": ["--repository", str(repo.resolve())],
            },
            "time": {"command": str(bin_dir / "mcp-server-time")},
        }
    }
    target.write_text(json.dumps(document, indent=2) + "\n")
    return target


def python_command() -> str:
    """How to start this interpreter from the current directory, with no venv activated.

    ``make run`` runs ``.venv/bin/python``; printing that path (relative when it is below the
    working directory) gives commands that work when pasted into a fresh shell there.
    """
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return str(executable)


def banner(config_path: Path, host: str, port: int, audit_path: Path) -> str:
    url = f"http://{host}:{port}/mcp"
    python = python_command()
    return f"""
mcp-bridge demo
  upstreams:   {config_path} (git on {VAR / "demo-repo"}, time)
  MCP endpoint: {url}   health: http://{host}:{port}/health
  connect:     any MCP client, transport "Streamable HTTP", URL {url}
               (Python: `async with mcp.Client("{url}") as c: await c.list_tools()`)
  tools:       git__git_status, git__git_commit, time__get_current_time, ...
  audit trail: {audit_path}
  verify:      {python} -m mcp_bridge.audit.verify {audit_path}
"""


def main() -> int:
    config_path = write_config(scratch_repo(VAR / "demo-repo"), VAR / "bridge.json")
    try:
        settings = load_bridge_settings(bridge_config=config_path)
        config = load_config()
    except ConfigError as exc:
        print(f"mcp-bridge demo: {exc.render()}", file=sys.stderr)
        return 2
    print(banner(config_path, settings.host, settings.port, config.audit_storage_path), flush=True)
    return serve(settings, config)


if __name__ == "__main__":
    sys.exit(main())
