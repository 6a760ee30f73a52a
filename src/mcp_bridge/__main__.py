"""``python -m mcp_bridge`` / the ``mcp-bridge`` script: the audited MCP gateway."""

from __future__ import annotations

import sys

from mcp_bridge.bridge.cli import main as _bridge_main


def main() -> int:
    return _bridge_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
