"""Section results, the printed tables and ``var/bench/audit.json``.

Targets print PASS or MISS and nothing else happens: benchmarks inform, they never fail a build.
The JSON file is a dict keyed by section, merged on write, so sections run separately (or by
other benchmark modules) accumulate in one file.
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)
if not console.is_terminal:  # logs of ``make bench``: wide enough that rows do not wrap
    console.width = 120


@dataclass(frozen=True, slots=True)
class Target:
    """A goal for one measured number; ``at_most`` flips the comparison (memory, ratios ~1)."""

    name: str
    measured: float
    goal: float
    unit: str
    at_most: bool = False

    @property
    def passed(self) -> bool:
        if math.isnan(self.measured):
            return False
        return self.measured <= self.goal if self.at_most else self.measured >= self.goal

    def as_dict(self) -> dict[str, Any]:
        sense = "<=" if self.at_most else ">="
        return {
            "measured": _round(self.measured),
            "goal": f"{sense} {self.goal:g}{self.unit}",
            "pass": self.passed,
        }


@dataclass(slots=True)
class Section:
    """What one benchmark section measured: printable rows, targets and JSON figures."""

    name: str
    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def row(self, figure: str, value: str, note: str = "") -> None:
        self.rows.append((figure, value, note))

    def as_dict(self) -> dict[str, Any]:
        return {
            "figures": self.figures,
            "targets": {target.name: target.as_dict() for target in self.targets},
            "notes": self.notes,
        }


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def rate(value: float) -> str:
    return f"{value:,.0f} ev/s"


def show(section: Section) -> None:
    """Print a section's figures, then its targets with PASS/MISS."""
    figures = Table(title=section.title, title_justify="left", show_lines=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    figures.add_column("note", style="dim")
    for figure, value, note in section.rows:
        figures.add_row(figure, value, note)
    console.print(figures)
    if section.targets:
        targets = Table(title=f"{section.title}: targets", title_justify="left")
        targets.add_column("target")
        targets.add_column("measured", justify="right")
        targets.add_column("goal", justify="right")
        targets.add_column("result")
        for target in section.targets:
            verdict = "[green]PASS[/]" if target.passed else "[red]MISS[/]"
            sense = "≤" if target.at_most else "≥"
            targets.add_row(
                target.name,
                f"{target.measured:,.2f}{target.unit}",
                f"{sense} {target.goal:,g}{target.unit}",
                verdict,
            )
        console.print(targets)
    for note in section.notes:
        console.print(f"[dim]note:[/] {note}")
    console.print()


def save(path: Path, sections: list[Section], *, quick: bool) -> None:
    """Merge ``sections`` into the JSON file at ``path`` (atomic replace)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    run = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    for section in sections:
        data[section.name] = {"run": run, **section.as_dict()}
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    scratch.replace(path)
