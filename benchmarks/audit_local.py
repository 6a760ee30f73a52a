"""Section ``audit``: durable appends to our local trail against the baseline writer.

Ours is measured at 1, 8 and 64 concurrent asyncio callers of ``await arecord_event`` (closed
loop: group commit shares one fdatasync among every caller of a batch; each call returns once
its record is durable), at the same caller counts *open loop* (``durable=False``: callers
queue and move on, the rate counts until the last record is durable) and at 64 threads calling
``record_event``. The process CPU time per event is printed beside each rate.

Two measured bounds explain the rates on a given machine: a closed loop of N callers cannot
exceed N / (fdatasync latency), measured here on the same disk; and every event costs the
canonical JSON encoding plus the SHA-256 seal under one GIL, measured here too. The baseline
writer is driven by one caller: it holds a lock per record, so more callers cannot make it
faster, and it never fsyncs, so its rate is an upper bound for a design that is not durable.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp_bridge.audit import AuditTrail, LocalAuditTrail, open_audit_trail
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.sequencing import EMPTY_TAIL, PendingEvent, seal_batch
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


#: Open-loop callers yield to the event loop after this many records (a burst of work).
_OPEN_LOOP_BURST = 16


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


async def _open_loop_callers(trail: AuditTrail, callers: int, seconds: float) -> CallRun:
    """``callers`` tasks queueing records without waiting, until the deadline; the run ends
    when the last one is durable (one awaited record after them all)."""
    payloads = payload_cycle()
    queued = 0
    deadline = time.perf_counter() + seconds

    async def caller(index: int) -> None:
        nonlocal queued
        while time.perf_counter() < deadline:
            for _ in range(_OPEN_LOOP_BURST):
                await trail.arecord_event(EVENT_TYPE, payloads[index % 256], durable=False)
                index += callers
            queued += _OPEN_LOOP_BURST
            await asyncio.sleep(0)

    began = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(callers)))
    await trail.arecord_event(EVENT_TYPE, payloads[0])
    return CallRun(queued + 1, time.perf_counter() - began)


def fsync_latency(root: Path, rounds: int) -> float:
    """Median seconds of one fdatasync after appending a 64-record batch (~46 kB) here."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    samples = []
    try:
        for _ in range(rounds):
            os.write(fd, b"x" * 720 * 64)
            began = time.perf_counter()
            os.fdatasync(fd)
            samples.append(time.perf_counter() - began)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(samples)


def seal_cost(events: int = 4096) -> float:
    """CPU seconds per event of the work no design can skip: encode and seal (one thread)."""
    payloads = payload_cycle()
    began = time.process_time()
    pending = [PendingEvent.create(EVENT_TYPE, payloads[i % len(payloads)]) for i in range(events)]
    seal_batch(EMPTY_TAIL, pending, datetime.now(UTC))
    return (time.process_time() - began) / events


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


@dataclass
class Commits:
    """How a run's records were committed: the size of every batch, and the CPU that the
    calling thread (the event loop, for asyncio callers) spent per event."""

    sizes: list[int] = field(default_factory=list)
    caller_cpu_per_event: float = 0.0

    def per_second(self, run: CallRun) -> float:
        """Committed batches per second: an upper bound of fdatasyncs per second (one
        fdatasync covers every batch staged while the previous one ran)."""
        return len(self.sizes) / run.seconds if run.seconds else 0.0


def _ours(
    root: Path, drive: Callable[[LocalAuditTrail], CallRun], commits: Commits | None = None
) -> tuple[CallRun, int]:
    """One configuration on a fresh trail: the run (with process CPU per event) and the log's
    bytes per record; batch sizes and the caller thread's CPU go to ``commits``."""
    trail = LocalAuditTrail(root)
    sizes: list[int] = []
    trail.on_batch(lambda records, failed: sizes.append(records))
    try:
        _warm_up(trail.record_event)
        sizes.clear()
        cpu, caller_cpu = time.process_time(), time.thread_time()
        run = drive(trail)
        run.cpu_per_event = (time.process_time() - cpu) / max(run.events, 1)
        caller_cpu = (time.thread_time() - caller_cpu) / max(run.events, 1)
    finally:
        trail.close()
    if commits is not None:
        commits.sizes, commits.caller_cpu_per_event = sizes, caller_cpu
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
    cpu = f" · CPU {run.cpu_per_event * 1e6:.1f} µs/event" if run.cpu_per_event else ""
    return f"p50 {run.percentile_ms(50):.2f} ms · p99 {run.percentile_ms(99):.2f} ms{cpu}"


def _drive(mode: str, callers: int, seconds: float) -> Callable[[LocalAuditTrail], CallRun]:
    if mode == "open":
        return lambda trail: asyncio.run(_open_loop_callers(trail, callers, seconds))
    return lambda trail: asyncio.run(_async_callers(trail, callers, seconds))


def _commit_row(section: Section, label: str, found: tuple[CallRun, Commits], fsync: float) -> None:
    """How the run's records were committed: batch sizes, an upper bound of the disk's busy
    share (batches/s × fdatasync latency) and the CPU split between the caller's thread and
    the committer's threads; a batch as large as the caller count means no overlap."""
    run, commits = found
    per_second = commits.per_second(run)
    caller = commits.caller_cpu_per_event
    section.row(
        f"{label}: records per batch",
        f"{statistics.median(commits.sizes or [0]):g}",
        f"median; {per_second:,.0f} batches/s (≥ fdatasyncs/s), disk busy ≤"
        f" {min(per_second * fsync, 1):.0%}; CPU µs/event: event loop {caller * 1e6:.1f},"
        f" committer threads {(run.cpu_per_event - caller) * 1e6:.1f}",
    )


def _median_runs(runs: list[tuple[CallRun, Commits]]) -> tuple[CallRun, Commits]:
    """The run with the median rate (its latencies, CPU and batches stay consistent with it)."""
    return sorted(runs, key=lambda run: run[0].rate)[len(runs) // 2]


def run(*, quick: bool) -> Section:
    """Measure every configuration for a fixed time each (0.5 s quick, 3 s full).

    The closed- and open-loop asyncio runs take turns (``repeats`` rounds); medians are shown.
    """
    seconds, repeats = (0.5, 1) if quick else (2.0, 3)
    section = Section("audit", "Durable appends (local store)")
    runs: dict[str, CallRun] = {}
    turns: dict[str, list[tuple[CallRun, Commits]]] = {}
    with scratch_dir("append") as root:
        fsync = fsync_latency(root / "fsync", 20 if quick else 100)
        per_event = seal_cost()
        for turn in range(repeats):
            for mode in ("closed", "open"):
                for callers in _ASYNC_CALLERS:
                    key = f"{'async' if mode == 'closed' else 'open'}_{callers}"
                    commits = Commits()
                    found, ours_bytes = _ours(
                        root / f"{key}-{turn}", _drive(mode, callers, seconds), commits
                    )
                    turns.setdefault(key, []).append((found, commits))
        medians = {key: _median_runs(found) for key, found in turns.items()}
        runs = {key: found for key, (found, _) in medians.items()}
        runs[f"threads_{_THREAD_CALLERS}"], _ = _ours(
            root / "threads",
            lambda trail: thread_callers(trail.record_event, _THREAD_CALLERS, seconds),
        )
        runs["baseline_1"], baseline_bytes = _baseline(root / "baseline", seconds)
        checkpoints = checkpoint_cost(root / "checkpoints", seconds)
    for callers in _ASYNC_CALLERS:
        plural = "s" if callers > 1 else ""
        closed, opened = runs[f"async_{callers}"], runs[f"open_{callers}"]
        section.row(f"ours, {callers} asyncio caller{plural}", rate(closed.rate), _latency(closed))
        section.row(
            f"ours, {callers} open-loop caller{plural}",
            rate(opened.rate),
            f"not awaited; until the last is durable · CPU {opened.cpu_per_event * 1e6:.1f} µs/ev",
        )
    _commit_row(section, "ours, 64 asyncio callers", medians["async_64"], fsync)
    _commit_row(section, "ours, 64 open-loop callers", medians["open_64"], fsync)
    threads = runs[f"threads_{_THREAD_CALLERS}"]
    section.row(
        f"ours, {_THREAD_CALLERS} threads",
        rate(threads.rate),
        f"{_latency(threads)} (GIL wake-ups: use the async API)",
    )
    base = runs["baseline_1"]
    section.row("baseline writer, 1 caller", rate(base.rate), f"NOT durable · {_latency(base)}")
    section.row(
        "ours, 64 asyncio callers, checkpoints on",
        rate(checkpoints["on"]),
        f"vs {rate(checkpoints['off'])} off (medians of {_CHECKPOINT_PAIRS} interleaved runs)",
    )
    bound = 64 / fsync
    section.row("fdatasync of a 64-record batch", f"{fsync * 1000:.2f} ms", "median, this disk")
    section.row("closed-loop bound at 64 callers", rate(bound), "64 / fdatasync latency")
    section.row(
        "encode + seal, one thread",
        f"{per_event * 1e6:.1f} µs/event",
        f"CPU floor of any caller mix: ≤ {rate(1 / per_event)} under one GIL",
    )
    section.row("bytes per event, ours", f"{ours_bytes} B", "incl. newline")
    section.row("bytes per event, baseline", f"{baseline_bytes} B", "same payloads")
    ours64 = runs["async_64"].rate
    open_ceiling = max(runs[f"open_{callers}"].rate for callers in _ASYNC_CALLERS)
    section.targets = [
        Target("durable events/s at 64 asyncio callers", ours64, 100_000, " ev/s"),
        Target("open-loop ceiling (not awaited)", open_ceiling, 150_000, " ev/s"),
        Target("append rate, checkpoints on vs off", checkpoints["ratio"], 0.9, "×"),
    ]
    section.notes = [
        "closed loop: each call returns after fdatasync of its batch (group commit; the"
        " committer can seal batch k+1 while batch k syncs, the records-per-batch rows show"
        " whether callers split into overlapping batches; one loop wake-up per batch);"
        " open loop: durable=False, records queued without waiting, synced lazily"
        " (at the next awaited batch or within LAZY_SYNC_SECONDS);"
        " baseline: write+flush per event, never fsynced (a crash can lose acknowledged records).",
        f"each configuration runs {seconds:g} s after {_WARMUP_EVENTS} warm-up events;"
        f" asyncio closed/open runs alternate, median of {repeats}.",
        f"checkpoints on: a signed checkpoint every {_CHECKPOINT_INTERVAL:g} s (default 10 s),"
        f" {checkpoints['checkpoints_in_timed_runs']:g} published during the timed runs.",
    ]
    section.figures = {
        **{
            key: {**value.as_dict(), "cpu_us_per_event": round(value.cpu_per_event * 1e6, 2)}
            for key, value in runs.items()
        },
        "bytes_per_event": {"ours": ours_bytes, "baseline": baseline_bytes},
        "checkpoints": checkpoints,
        "fdatasync_ms": round(fsync * 1000, 3),
        "closed_loop_bound_64": round(bound),
        "encode_seal_us_per_event": round(per_event * 1e6, 2),
        "commits": {
            key: {
                "median_records_per_batch": statistics.median(commits.sizes or [0]),
                "batches_per_s": round(commits.per_second(found), 1),
                "caller_thread_cpu_us_per_event": round(commits.caller_cpu_per_event * 1e6, 2),
            }
            for key, (found, commits) in medians.items()
        },
        "baseline_durable": False,
    }
    return section
