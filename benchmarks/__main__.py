"""``python -m benchmarks [--quick] [--only audit|verify|checkpoints|s3|bridge|observability]``.

Runs the sections in one process, prints each table as soon as it is measured and merges the
results into ``var/bench/audit.json``. Sections owned by other modules (``s3_audit``,
``bridge``) run only when importable; each exposes ``run(*, quick: bool)`` returning a
:class:`~benchmarks.report.Section` (or a plain dict of figures). A section that crashes is
reported and skipped: the exit status is always 0, benchmarks never fail the build.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
import traceback
from collections.abc import Sequence
from typing import Any

from .measure import BENCH_DIR
from .report import Section, console, save, show

#: Section name → module that implements it (relative to this package).
SECTIONS = {
    "audit": "audit_local",
    "verify": "verify_local",
    "checkpoints": "checkpoints",
    "s3": "s3_audit",
    "bridge": "bridge",
    "observability": "observability",
}
RESULTS = BENCH_DIR / "audit.json"


def _load(name: str) -> Any | None:
    """The section's module, or ``None`` (with a note) when it is not written yet."""
    module_name = f"{__package__}.{SECTIONS[name]}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        console.print(f"[yellow]skip[/] {name}: {module_name} is not available yet\n")
        return None


def _show(module: Any, name: str, result: Any) -> Section:
    """Print a section's result; a plain dict is shown by the module's ``format_table``."""
    if isinstance(result, Section):
        show(result)
        return result
    figures = dict(result or {})
    formatter = getattr(module, "format_table", None)
    console.print(formatter(figures) if formatter else json.dumps(figures, indent=2, default=str))
    console.print()
    return Section(name, name, figures=figures)


def run_section(name: str, *, quick: bool) -> Section | None:
    """Run one section; a failure is printed and the run goes on."""
    module = _load(name)
    if module is None:
        return None
    began = time.perf_counter()
    try:
        result = module.run(quick=quick)
    except Exception:
        console.print(f"[red]error[/] in section {name}:\n{traceback.format_exc()}")
        return None
    seconds = round(time.perf_counter() - began, 2)
    section = _show(module, name, result)
    section.figures["section_seconds"] = seconds
    return section


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run in seconds")
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run a single section")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else list(SECTIONS)
    began = time.perf_counter()
    sections = [s for name in names if (s := run_section(name, quick=args.quick)) is not None]
    if sections:
        save(RESULTS, sections, quick=args.quick)
        console.print(f"results merged into {RESULTS}")
    console.print(f"benchmarks took {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
