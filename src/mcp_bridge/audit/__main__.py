"""``python -m mcp_bridge.audit <command>``: every audit command behind one entry point."""

from __future__ import annotations

import sys

from .commands import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
