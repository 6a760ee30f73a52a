"""``python -m mcp_bridge.audit.incident quarantine|locate|restore|report`` (runbook §4).

The runbook's incident tooling under one module path; each step is its own command in
:mod:`mcp_bridge.audit.ops` (also ``python -m mcp_bridge.audit quarantine …``), on a local
store and on S3 alike.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .cli_support import EXIT_CODES_HELP
from .ops import cli, incident_report, locate, quarantine, restore

_STEPS = {
    "quarantine": (quarantine, "copy what an incident touches to a forensic location (step 1)"),
    "locate": (locate, "the earliest failing event with its neighbours (step 2)"),
    "restore": (restore, "restore missing or damaged data if it chains; dry run unless --apply"),
    "report": (incident_report, "assemble the incident folder with SHA-256 of every file"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_bridge.audit.incident",
        description="Incident tooling for a local or S3 audit trail: quarantine, locate, "
        "restore, report.",
        epilog=EXIT_CODES_HELP,
    )
    steps = parser.add_subparsers(dest="command", required=True)
    for name, (module, text) in _STEPS.items():
        step = steps.add_parser(name, help=text, description=text, epilog=EXIT_CODES_HELP)
        cli.add_common(step)
        module.add_arguments(step)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = cli.argv_or_sys(argv)
    return cli.run(build_parser(), words, lambda args: _STEPS[args.command][0].execute(args, words))


if __name__ == "__main__":
    sys.exit(main())
