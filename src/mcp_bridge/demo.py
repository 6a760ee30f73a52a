"""``python -m mcp_bridge.demo``: record a few events in the configured store and verify them.

A newcomer's first look at the trail working, on the embedded default (``var/audit``).
"""

from __future__ import annotations

import sys

from .audit import open_audit_trail, verify_audit_trail
from .config import load_config


def main() -> int:
    config = load_config()
    with open_audit_trail(config) as trail:
        for tool in ("git_status", "git_add", "git_commit"):
            record = trail.record_event(
                "demo.tools.call", {"tool": tool, "arguments": {"repo_path": "/tmp/demo"}}
            )
            if record is not None:
                print(
                    f"recorded seq {record['seq']} {record['eventId']} hash {record['hash'][:16]}…"
                )
    result = verify_audit_trail(config.audit_storage_path)
    print(result.render_text())
    print(f"verify it yourself: python -m mcp_bridge.audit.verify {config.audit_storage_path}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
