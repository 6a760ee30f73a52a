"""The audit command registry: ``python -m mcp_bridge.audit <command>`` and ``mcp-bridge audit``.

Each command is a module with ``main(argv) -> int`` (and its own ``python -m`` path, which the
runbook names and which keeps working). The registry only names them; a module is imported when
its command runs, so ``--help`` and every command start fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .cli_support import EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE


@dataclass(frozen=True, slots=True)
class Command:
    """One audit command: its name, the module holding its ``main``, and one line of help."""

    name: str
    module: str
    summary: str


COMMANDS: tuple[Command, ...] = (
    Command("verify", "mcp_bridge.audit.verify", "verify the hash chain of a local or S3 trail"),
    Command("jobs", "mcp_bridge.audit.jobs", "the scheduled verification job (lookback window)"),
    Command("preflight", "mcp_bridge.audit.preflight", "check the configured store before use"),
    Command("incident", "mcp_bridge.audit.incident", "quarantine, locate, restore, report (§4)"),
    Command("keygen", "mcp_bridge.audit.keygen", "create a checkpoint signing key (signed note)"),
    Command("quarantine", "mcp_bridge.audit.ops.quarantine", "copy affected data to forensics"),
    Command("locate", "mcp_bridge.audit.ops.locate", "the earliest failing event and neighbours"),
    Command("restore", "mcp_bridge.audit.ops.restore", "restore missing/damaged data that chains"),
    Command("replay", "mcp_bridge.audit.ops.replay", "timeline of one request, subject, tool, …"),
    Command("retention-report", "mcp_bridge.audit.ops.retention", "Object Lock vs policy"),
    Command("kms-report", "mcp_bridge.audit.ops.kms", "objects per KMS key; keys still decrypt"),
    Command("access-report", "mcp_bridge.audit.ops.access", "bucket policy and controls audit"),
    Command("drill", "mcp_bridge.audit.ops.drill", "disaster-recovery drill into scratch space"),
    Command("witness", "mcp_bridge.audit.witness.cli", "run a C2SP tlog-witness; print its key"),
    Command("export", "mcp_bridge.audit.export.cli", "Parquet/CSV/JSONL/OCSF; --follow to a SIEM"),
    Command("prove", "mcp_bridge.audit.prove", "a proof bundle for one record (C2SP tlog-proof)"),
    Command("verify-proof", "mcp_bridge.audit.verify_proof", "check a proof bundle offline"),
    Command(
        "consistency", "mcp_bridge.audit.consistency", "prove the log extends a saved checkpoint"
    ),
)


def _usage(prog: str) -> str:
    width = max(len(command.name) for command in COMMANDS)
    rows = "\n".join(f"  {c.name.ljust(width)}  {c.summary}" for c in COMMANDS)
    return (
        f"usage: {prog} <command> [options]\n\n"
        f"commands:\n{rows}\n\n"
        f"'{prog} <command> --help' describes each command.\n{EXIT_CODES_HELP}"
    )


def find(name: str) -> Command | None:
    return next((command for command in COMMANDS if command.name == name), None)


def run(argv: Sequence[str], *, prog: str = "python -m mcp_bridge.audit") -> int:
    """Run the command named by ``argv[0]`` with the rest of ``argv``."""
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage(prog))
        return EXIT_OK if argv else EXIT_USAGE
    command = find(argv[0])
    if command is None:
        print(f"{prog}: unknown command {argv[0]!r}\n\n{_usage(prog)}", file=sys.stderr)
        return EXIT_USAGE
    main: Callable[[Sequence[str]], int] = importlib.import_module(command.module).main
    return main(list(argv[1:]))
