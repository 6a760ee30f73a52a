"""Section ``audit``: durable appends to our local trail against the baseline writer.

Ours is measured at 1, 8 and 64 concurrent asyncio callers of ``await arecord_event`` (where
group commit shares one fdatasync among every caller of a batch) and at 64 threads calling
``record_event``. Every call returns only once its record is durable. The baseline writer is
driven by one caller: it holds a lock per record, so more callers cannot make it faster, and it
never fsyncs, so its rate is an upper bound for a design that is not durable at all.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mcp_bridge.audit import AuditTrail, LocalAuditTrail, open_audit_trail
from mcp_bridge.audit.note import Signer
from mcp_bridge.config import AppConfig

from .baseline import BaselineWriter
from .measure import CallRun, log_size, scratch_dir
from .report import Section, Target, rate
from .workload import EVENT_TYPE, payload_cycle

Record = Callable[[str, Mapping[str, Any]], object]

_WARMUP_EVENTS = 200
_ASYNC_CALLERS = (1, 8, 64)
_THREAD_CALLERS = 64
#: Checkpoints off/on runs are interleaved this many times; the medians are compared.
_CHECKPOINT_PAIRS = 3
#: Stricter than the default 10 s, so several checkpoints fall inside each timed run.
_CHECKPOINT_INTERVAL = 0.5


async def _async_callers(trail: AuditTrail, callers: int, seconds: float) -> CallRun:
    """``callers`` tasks appending until the deadline; in-flight calls finish and count."""
    payloads = payload_cycle()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def caller(index: int) -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await trail.arecord_event(EVENT_TYPE, payloads[index % len(payloads)])
            latencies.append(time.perf_counter() - began)
            index += callers

    began = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(callers)))
    return CallRun(len(latencies), time.perf_counter() - began, latencies)


def thread_callers(record: Record, callers: int, seconds: float) -> CallRun:
    """``callers`` threads calling ``record`` until the deadline, released together."""
    payloads = payload_cycle()
    per_thread: list[list[float]] = [[] for _ in range(callers)]
    start = threading.Barrier(callers + 1)
    deadline = 0.0

    def caller(index: int) -> None:
        latencies = per_thread[index]
        start.wait()
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            record(EVENT_TYPE, payloads[index % len(payloads)])
            latencies.append(time.perf_counter() - began)
            index += callers

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    latencies = [value for values in per_thread for value in values]
    return CallRun(len(latencies), time.perf_counter() - began, latencies)


def _warm_up(record: Record) -> None:
    """Create the day file and fill caches so the timed run measures steady state."""
    for payload in payload_cycle(_WARMUP_EVENTS):
        record(EVENT_TYPE, payload)


def _ours(root: Path, drive: Callable[[LocalAuditTrail], CallRun]) -> tuple[CallRun, int]:
    """One configuration on a fresh trail: the run and the log's bytes per record."""
    trail = LocalAuditTrail(root)
    try:
        _warm_up(trail.record_event)
        run = drive(trail)
    finally:
        trail.close()
    records, size = log_size(root)
    return run, size // max(records, 1)


def _baseline(root: Path, seconds: float) -> tuple[CallRun, int]:
    writer = BaselineWriter(root)
    try:
        _warm_up(writer.record_event)
        run = thread_callers(writer.record_event, 1, seconds)
    finally:
        writer.close()
    records, size = log_size(root)
    return run, size // max(records, 1)


def checkpoint_cost(root: Path, seconds: float) -> dict[str, float]:
    """Append rate at 64 asyncio callers with signed checkpoints off and on, same run.

    Runs alternate (off, on, off, on, …) so drift in the machine's load hits both alike.
    """
    key = Signer.generate("bench.local/checkpoints").to_text()
    rates: dict[str, list[float]] = {"off": [], "on": []}
    published = 0
    for pair in range(_CHECKPOINT_PAIRS):
        for mode in ("off", "on"):
            config = AppConfig(
                audit_storage_path=root / f"{mode}-{pair}",
                audit_signing_key=key if mode == "on" else None,
                audit_checkpoint_interval_seconds=_CHECKPOINT_INTERVAL,
            )
            trail = open_audit_trail(config)
            try:
                _warm_up(trail.record_event)
                rates[mode].append(asyncio.run(_async_callers(trail, 64, seconds)).rate)
                published += trail.checkpoints.published if trail.checkpoints else 0
            finally:
                trail.close()
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    return {"off": off, "on": on, "ratio": on / off, "checkpoints_in_timed_runs": published}


def _latency(run: CallRun) -> str:
    return f"p50 {run.percentile_ms(50):.2f} ms · p99 {run.percentile_ms(99):.2f} ms"


def run(*, quick: bool) -> Section:
    """Measure every configuration for a fixed time each (0.5 s quick, 3 s full)."""
    seconds = 0.5 if quick else 3.0
    section = Section("audit", "Durable appends (local store)")
    runs: dict[str, CallRun] = {}
    with scratch_dir("append") as root:
        for callers in _ASYNC_CALLERS:
            runs[f"async_{callers}"], ours_bytes = _ours(
                root / f"async-{callers}",
                lambda trail, n=callers: asyncio.run(_async_callers(trail, n, seconds)),
            )
        runs[f"threads_{_THREAD_CALLERS}"], _ = _ours(
            root / "threads",
            lambda trail: thread_callers(trail.record_event, _THREAD_CALLERS, seconds),
        )
        runs["baseline_1"], baseline_bytes = _baseline(root / "baseline", seconds)
        checkpoints = checkpoint_cost(root / "checkpoints", seconds)
    for callers in _ASYNC_CALLERS:
        key = f"async_{callers}"
        label = f"ours, {callers} asyncio caller{'s' if callers > 1 else ''}"
        section.row(label, rate(runs[key].rate), _latency(runs[key]))
    threads = runs[f"threads_{_THREAD_CALLERS}"]
    section.row(f"ours, {_THREAD_CALLERS} threads", rate(threads.rate), _latency(threads))
    base = runs["baseline_1"]
    section.row("baseline writer, 1 caller", rate(base.rate), f"NOT durable · {_latency(base)}")
    section.row(
        "ours, 64 asyncio callers, checkpoints on",
        rate(checkpoints["on"]),
        f"vs {rate(checkpoints['off'])} off (medians of {_CHECKPOINT_PAIRS} interleaved runs)",
    )
    section.row("bytes per event, ours", f"{ours_bytes} B", "incl. newline")
    section.row("bytes per event, baseline", f"{baseline_bytes} B", "same payloads")
    ours64 = runs["async_64"].rate
    section.targets = [
        Target("ours@64 (durable) vs baseline (not durable)", ours64 / base.rate, 5, "×"),
        Target("durable events/s at 64 asyncio callers", ours64, 100_000, " ev/s"),
        Target("append rate, checkpoints on vs off", checkpoints["ratio"], 0.9, "×"),
    ]
    section.notes = [
        "ours: each call returns after fdatasync of its batch (group commit);"
        " baseline: write+flush per event, never fsynced (a crash can lose acknowledged records).",
        f"each configuration runs {seconds:g} s after {_WARMUP_EVENTS} warm-up events.",
        f"checkpoints on: a signed checkpoint every {_CHECKPOINT_INTERVAL:g} s (default 10 s),"
        f" {checkpoints['checkpoints_in_timed_runs']:g} published during the timed runs.",
    ]
    section.figures = {
        **{key: value.as_dict() for key, value in runs.items()},
        "bytes_per_event": {"ours": ours_bytes, "baseline": baseline_bytes},
        "checkpoints": checkpoints,
        "baseline_durable": False,
    }
    return section
