"""Section ``verify``: verifying our local log against the baseline verifier and SHA-256.

In process (best of N, same number of events): our ``verify_audit_trail`` against the baseline
verifier on the baseline's own log, and against the *SHA-256 ceiling*: hashing each record line
of our log once with ``hashlib.sha256`` (lines already in memory), nothing else.

In child processes: the verify CLI on a small and a big log (events/s by wall clock, start-up
included; peak RSS from ``wait4``, which must not grow with the log), and the baseline verifier
on a baseline log of the big size.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import time
from pathlib import Path

from mcp_bridge.audit import verify_audit_trail

from . import baseline, logs
from .measure import ChildRun, best_of, interpreter_floor, log_size, run_child, scratch_dir
from .report import Section, Target, rate

#: Until ``python -m mcp_bridge.audit.verify`` exists, the same engine through the library API.
_FALLBACK_CLI = (
    "import json, sys; from mcp_bridge.audit import verify_audit_trail; "
    "r = verify_audit_trail(sys.argv[1]); "
    "print(json.dumps({'ok': r.ok, 'checked_events': r.checked_events})); "
    "sys.exit(0 if r.ok else 1)"
)
_RSS_GROWTH = 1.10


def _cli_argv(path: Path) -> list[str]:
    if importlib.util.find_spec("mcp_bridge.audit.verify") is not None:
        return ["-m", "mcp_bridge.audit.verify", str(path), "--json"]
    return ["-c", _FALLBACK_CLI, str(path)]


def _cli_report(child: ChildRun) -> tuple[int, float]:
    """``(checked events, engine seconds)`` from the CLI's JSON; ``(0, nan)`` if it failed."""
    try:
        report = json.loads(child.stdout)
    except ValueError:
        report = None
    if not isinstance(report, dict) or not report.get("ok"):
        return 0, math.nan
    checked = report.get("checkedEvents", report.get("checked_events", 0))
    return int(checked), float(report.get("elapsedSeconds", math.nan))


def _baseline_checked(child: ChildRun) -> int:
    text = child.stdout.strip()
    return int(text) if child.returncode == 0 and text.isdigit() else 0


def sha256_ceiling(root: Path, repeats: int) -> float:
    """Lines per second when hashing each line of the log under ``root`` once, nothing else."""
    lines = [
        line
        for path in sorted(root.rglob("*.jsonl"))
        for line in path.read_bytes().splitlines(keepends=True)
    ]
    sha256 = hashlib.sha256

    def hash_all() -> None:
        for line in lines:
            sha256(line).digest()

    return len(lines) / best_of(repeats, hash_all)


def _in_process(section: Section, ours: Path, base: Path, events: int, repeats: int) -> None:
    """Verify rates in this process; ratios to the baseline verifier and the SHA-256 ceiling."""
    results = []
    ours_s = best_of(repeats, lambda: results.append(verify_audit_trail(ours)))
    base_s = best_of(repeats, lambda: results.append(baseline.verify(base)))
    ceiling = sha256_ceiling(ours, repeats)
    ours_rate, base_rate = events / ours_s, events / base_s
    verified = results[0].ok and results[0].checked_events == events
    section.row(
        f"ours, verify_audit_trail ({events:,} events)",
        rate(ours_rate),
        f"in process, best of {repeats}" + ("" if verified else " · DID NOT VERIFY"),
    )
    section.row("baseline verifier (same count)", rate(base_rate), "in process, json re-encode")
    section.row("SHA-256 ceiling", rate(ceiling), "sha256(line).digest() per line, nothing else")
    section.targets += [
        Target("verify vs baseline verifier", ours_rate / base_rate, 10, "×"),
        Target("verify vs SHA-256 ceiling", 100 * ours_rate / ceiling, 25, "%"),
    ]
    section.figures["in_process"] = {
        "events": events,
        "ours_events_per_s": round(ours_rate, 1),
        "ours_verified": verified,
        "baseline_events_per_s": round(base_rate, 1),
        "sha256_ceiling_events_per_s": round(ceiling, 1),
        "sha256_ceiling_definition": "hashlib.sha256(line).digest() once per record line",
    }


def _child_figures(child: ChildRun, checked: int) -> dict[str, float]:
    return {
        "events": checked,
        "seconds": round(child.seconds, 3),
        "events_per_s": round(checked / child.seconds, 1),
        "peak_rss_mb": round(child.peak_rss_mb, 2),
    }


def _children(section: Section, small: tuple[Path, int], big: tuple[Path, int], base: Path) -> None:
    """CLI on both sizes and the baseline verifier on the big size, each in its own process."""
    figures: dict[str, object] = {"cli_argv": " ".join(_cli_argv(Path("<dir>")))}
    peaks = []
    for label, (path, events) in (("small", small), ("big", big)):
        child = run_child(_cli_argv(path))
        checked, engine_s = _cli_report(child)
        note = f"peak RSS {child.peak_rss_mb:.1f} MB · engine alone {rate(checked / engine_s)}"
        if checked != events:
            note = "FAILED"
            section.notes.append(f"CLI on the {label} log: {child.stderr.strip()[-300:]}")
        section.row(f"verify CLI, {events:,} events", rate(checked / child.seconds), note)
        figures[f"cli_{label}"] = _child_figures(child, checked)
        peaks.append(child.peak_rss_mb)
    cli_rate = checked / child.seconds
    base_child = run_child(["-m", "benchmarks.baseline", "verify", str(base)])
    base_rate = _baseline_checked(base_child) / base_child.seconds
    figures["baseline_big"] = _child_figures(base_child, _baseline_checked(base_child))
    section.row(
        f"baseline verifier, {big[1]:,} events",
        rate(base_rate),
        f"peak RSS {base_child.peak_rss_mb:.1f} MB",
    )
    section.row("bare interpreter peak RSS", f"{interpreter_floor():.1f} MB", "python -c pass")
    section.row("CLI peak RSS, big / small log", f"{peaks[1] / peaks[0]:.3f}×", "flat ≈ 1.00×")
    section.targets += [
        Target(f"CLI vs baseline verifier ({big[1]:,} events)", cli_rate / base_rate, 10, "×"),
        Target("CLI peak RSS", peaks[1], 64, " MB", at_most=True),
        Target("CLI peak RSS, big / small", peaks[1] / peaks[0], _RSS_GROWTH, "×", at_most=True),
    ]
    section.figures["child_processes"] = figures


def run(*, quick: bool) -> Section:
    """Generate the logs, measure, and delete them (sizes: 20k/100k quick, 100k/1M full)."""
    small_n, big_n = (20_000, 100_000) if quick else (100_000, 1_000_000)
    repeats = 1 if quick else 3
    section = Section("verify", "Verification (local store)")
    with scratch_dir("verify") as root:
        paths = {name: root / name for name in ("ours-small", "ours-big", "base-small", "base-big")}
        began = time.perf_counter()
        logs.write_ours(paths["ours-small"], small_n)
        logs.write_ours(paths["ours-big"], big_n)
        ours_s = time.perf_counter() - began
        logs.write_baseline(paths["base-small"], small_n)
        logs.write_baseline(paths["base-big"], big_n)
        base_s = time.perf_counter() - began - ours_s
        section.row(
            "log generation, ours",
            rate((small_n + big_n) / ours_s),
            "seal_batch + LocalStore.append, batches of 5,000",
        )
        section.row("log generation, baseline", rate((small_n + big_n) / base_s), "BaselineWriter")
        _in_process(section, paths["ours-small"], paths["base-small"], small_n, repeats)
        _children(
            section, (paths["ours-small"], small_n), (paths["ours-big"], big_n), paths["base-big"]
        )
        section.figures["log_bytes"] = {name: log_size(path)[1] for name, path in paths.items()}
    section.notes.append(
        "CLI and baseline child rates are wall-clock, interpreter start-up and imports included."
    )
    return section
