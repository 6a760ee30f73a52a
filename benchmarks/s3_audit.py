"""Section ``s3``: our S3 writer and verifier against a one-PUT-per-event baseline.

Ours: 4096 asyncio callers each awaiting a durable ``arecord_event``; group commit and PUT
pacing put many events in one segment object. Baseline: a chained writer that PUTs one
object per event; it must serialise (each record links to the previous one), so it runs
with one caller. Verification: our verifier over our log, and a baseline verifier that lists
the baseline objects and GETs each one. Requests are counted with a botocore ``before-send``
hook (every HTTP attempt, retries included).

Acknowledgement modes (``AUDIT_S3_ACK``): 64 closed-loop asyncio callers' acknowledgement p50
with ``bucket`` and ``spool`` (and the spool's shipping lag p50/p99 under that load), and a
mutating tool call through the bridge (lean client, sequential, the variants taking turns) with
the local store, S3 ``bucket``, S3 ``spool`` and S3 ``spool`` with shipping rounds 50 ms apart
(``AUDIT_S3_SHIP_INTERVAL_MS=50``, the spacing before the 200 ms default: what the default
saves): p50 added over the upstream called directly, and each bridge's CPU per call.

``run(endpoint, creds, bucket)`` measures against any S3 endpoint; with no endpoint it starts
a throw-away SeaweedFS server (the test suite's helper) and creates an Object Lock bucket.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp_bridge.audit import AuditTrail, verify_audit_trail
from mcp_bridge.audit.checkpoint_setup import open_checkpoints
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.records import MalformedLine, body_hash, parse_header
from mcp_bridge.audit.sequencing import EMPTY_TAIL, PendingEvent, seal_batch
from mcp_bridge.audit.storage.s3.client import (
    ClientOptions,
    WritePolicy,
    connect,
    get_object,
    list_folder,
    put_once,
)
from mcp_bridge.audit.storage.s3.spool_ack import SpoolAckStore
from mcp_bridge.audit.storage.s3.store import S3Store, open_acknowledging_store, open_s3_store
from mcp_bridge.audit.trail import utc_now
from mcp_bridge.config import AppConfig

from .audit_local import _async_callers
from .bridge import FULL as BRIDGE_FULL
from .bridge import (
    QUICK,
    WORKLOADS,
    Target,
    _cpu,
    http_connector,
    latency,
    lean_http_connector,
    lean_stdio_connector,
    running_bridge,
    stdio_connector,
)
from .workload import EVENT_TYPE, payload_cycle

_CALLERS = 4096
_POLICY = WritePolicy("GOVERNANCE", 1, None)


#: Stricter than the default 10 s, so several checkpoints fall inside the timed run.
_CHECKPOINT_INTERVAL = 0.5


def _config(bucket: str, spool: Path, prefix: str = "bench/ours", **extra: Any) -> AppConfig:
    return AppConfig(
        audit_storage_backend="s3",
        audit_s3_bucket=bucket,
        audit_s3_prefix=prefix,
        audit_s3_object_lock_mode="governance",
        audit_s3_object_lock_days=1,
        audit_spool_path=spool,
        **extra,
    )


async def _drive(trail: AuditTrail, events: int) -> None:
    payloads = payload_cycle()
    queue = iter(range(events))

    async def caller() -> None:
        for index in queue:
            await trail.arecord_event(EVENT_TYPE, payloads[index % len(payloads)])

    await asyncio.gather(*(caller() for _ in range(_CALLERS)))


def measure_ours(
    endpoint: str,
    bucket: str,
    events: int,
    *,
    checkpoints: Signer | None = None,
    prefix: str = "bench/ours",
) -> dict[str, float]:
    """Our writer; with a ``checkpoints`` signer, signed checkpoints are published while it
    runs. CPU time is this process's (writer and boto3; the server runs elsewhere)."""
    with tempfile.TemporaryDirectory() as spool:
        extra: dict[str, Any] = {}
        if checkpoints is not None:
            extra = {
                "audit_signing_key": checkpoints.to_text(),
                "audit_checkpoint_interval_seconds": _CHECKPOINT_INTERVAL,
            }
        config = _config(bucket, Path(spool), prefix, **extra)
        store: S3Store = open_s3_store(config, options=ClientOptions(endpoint_url=endpoint))
        plan = open_checkpoints(config, store, utc_now)
        trail = AuditTrail(store, checkpoints=plan)
        began, cpu = time.perf_counter(), time.process_time()
        asyncio.run(_drive(trail, events))
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        requests = store.connection.requests
        published = trail.checkpoints.published if trail.checkpoints else 0
        trail.close()
    return {
        "events": events,
        "events_per_s": events / seconds,
        "cpu_us_per_event": 1e6 * cpu / events,
        "requests_per_event": requests / events,
        "checkpoints_in_timed_run": published,
    }


def _lag_ms(lags: list[float], q: float) -> float:
    ordered = sorted(lags)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000 if lags else 0.0


def measure_ack_modes(endpoint: str, bucket: str, seconds: float) -> dict[str, Any]:
    """64 closed-loop callers per mode (modes alternate, 2 rounds): ack p50, events/s and,
    for ``spool``, the shipping lag of every shipped entry."""
    found: dict[str, list[dict[str, float]]] = {"bucket": [], "spool": []}
    for turn in range(2):
        for mode in ("bucket", "spool"):
            with tempfile.TemporaryDirectory() as spool:
                config = _config(bucket, Path(spool), f"bench/ack-{mode}-{turn}", audit_s3_ack=mode)
                store = open_acknowledging_store(
                    config, options=ClientOptions(endpoint_url=endpoint)
                )
                trail = AuditTrail(store)
                run = asyncio.run(_async_callers(trail, 64, seconds))
                trail.close()
                lags = store.shipping_lags() if isinstance(store, SpoolAckStore) else []
                found[mode].append(
                    {
                        "ackP50Ms": run.percentile_ms(50),
                        "eventsPerSec": run.rate,
                        "lagP50Ms": _lag_ms(lags, 50),
                        "lagP99Ms": _lag_ms(lags, 99),
                    }
                )
    return {
        mode: {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
        for mode, runs in found.items()
    }


def measure_bridge_modes(endpoint: str, bucket: str, quick: bool) -> dict[str, Any]:
    """A mutating call (``library.shelve``) through bridges on the local store, S3 ``bucket``
    and S3 ``spool`` (lean client, sequential, taking turns): p50/p99 and added over direct."""
    workload = next(w for w in WORKLOADS if not w.read_only)
    plan = QUICK if quick else BRIDGE_FULL
    with ExitStack() as stack:
        targets = [
            Target(
                "direct", stdio_connector(workload), lean_stdio_connector(workload), workload.tool
            )
        ]
        for name, env in _bridge_variants(endpoint, bucket, stack):
            url, process = stack.enter_context(running_bridge(name, env))
            tool = f"{workload.server}__{workload.tool}"
            connectors = (http_connector(url), lean_http_connector(url))
            targets.append(Target(name, *connectors, tool, process))
        cpu = {t.name: _cpu(t.process) for t in targets}
        figures = asyncio.run(latency(targets, workload.arguments, plan, lean=True))
        calls = plan.warmup + plan.rounds * plan.sequential_per_round
        for target in targets[1:]:  # a bridge's CPU: its calls, its shipper, its trail
            spent = _cpu(target.process) - cpu[target.name]
            figures[target.name]["cpuMsPerCall"] = round(spent / calls * 1000, 3)
    floor = figures["direct"]
    for name, row in figures.items():
        if name != "direct":
            row["addedP50Ms"] = round(row["p50Ms"] - floor["p50Ms"], 3)
    return figures


def _bridge_variants(
    endpoint: str, bucket: str, stack: ExitStack
) -> list[tuple[str, dict[str, str] | None]]:
    variants: list[tuple[str, dict[str, str] | None]] = [("bridge-local", None)]
    for name, mode, extra in (
        ("bridge-s3-bucket", "bucket", {}),
        ("bridge-s3-spool", "spool", {}),
        ("bridge-s3-spool-50ms", "spool", {"AUDIT_S3_SHIP_INTERVAL_MS": "50"}),
    ):
        spool = stack.enter_context(tempfile.TemporaryDirectory())
        env = {
            "AUDIT_STORAGE_BACKEND": "s3",
            "AUDIT_S3_BUCKET": bucket,
            "AUDIT_S3_PREFIX": f"bench/{name}",
            "AUDIT_S3_ENDPOINT_URL": endpoint,
            "AUDIT_S3_OBJECT_LOCK_MODE": "governance",
            "AUDIT_S3_OBJECT_LOCK_DAYS": "1",
            "AUDIT_SPOOL_PATH": spool,
            "AUDIT_S3_ACK": mode,
            **extra,
        }
        variants.append((name, env))
    return variants


def checkpoint_cost(endpoint: str, bucket: str, events: int, pairs: int) -> dict[str, Any]:
    """Append rate with checkpoints off and on, alternating (off, on, off, on, ...), each run
    on a fresh prefix with one signing key; medians, so drift in the load hits both alike."""
    signer = Signer.generate("bench.s3/checkpoints")
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for pair in range(pairs):
        for mode in ("off", "on"):
            runs[mode].append(
                measure_ours(
                    endpoint,
                    bucket,
                    events,
                    checkpoints=signer if mode == "on" else None,
                    prefix=f"bench/cost-{mode}-{pair}",
                )
            )
    medians = {
        mode: {
            name: statistics.median(run[name] for run in done)
            for name in ("events_per_s", "cpu_us_per_event", "requests_per_event")
        }
        for mode, done in runs.items()
    }
    off, on = medians["off"]["events_per_s"], medians["on"]["events_per_s"]
    return {
        "pairs": pairs,
        "events_per_run": events,
        "off": medians["off"],
        "on": medians["on"],
        "ratio": on / off,
        "rates_off": [round(run["events_per_s"]) for run in runs["off"]],
        "rates_on": [round(run["events_per_s"]) for run in runs["on"]],
        "checkpoints_in_timed_runs": sum(run["checkpoints_in_timed_run"] for run in runs["on"]),
    }


def measure_baseline(endpoint: str, bucket: str, events: int) -> dict[str, float]:
    """One caller, one PUT (with lock headers) per chained event."""
    connection = connect(ClientOptions(endpoint_url=endpoint))
    payloads = payload_cycle()
    tail = EMPTY_TAIL
    began = time.perf_counter()
    for index in range(events):
        event = PendingEvent.create(EVENT_TYPE, payloads[index % len(payloads)])
        (record,) = seal_batch(tail, [event], datetime.now(UTC))
        key = f"bench/baseline/{record.seq:020d}.json"
        put_once(connection, bucket, key, record.line, policy=_POLICY, newest=datetime.now(UTC))
        tail = record.tail
    seconds = time.perf_counter() - began
    return {
        "events": events,
        "events_per_s": events / seconds,
        "requests_per_event": connection.requests / events,
    }


def verify_ours(endpoint: str, bucket: str, events: int) -> dict[str, float]:
    began = time.perf_counter()
    result = verify_audit_trail(
        f"s3://{bucket}/bench/ours",
        object_lock_mode="governance",
        object_lock_days=1,
        endpoint_url=endpoint,
    )
    seconds = time.perf_counter() - began
    assert result.ok and result.checked_events == events, result.render_text()
    return {
        "events_per_s": events / seconds,
        "requests_per_event": result.stats["s3Requests"] / events,
    }


def verify_baseline(endpoint: str, bucket: str, events: int) -> dict[str, float]:
    """List the per-event objects and GET each one (hash check only)."""
    connection = connect(ClientOptions(endpoint_url=endpoint))
    began = time.perf_counter()
    keys = list_folder(connection, bucket, "bench/baseline/").keys
    for key in keys:
        obj = get_object(connection, bucket, key)
        assert obj is not None
        try:
            header = parse_header(obj.body.rstrip(b"\n"))
        except MalformedLine as exc:
            raise AssertionError(f"{key}: {exc}") from exc
        assert body_hash(header) == header.hash
    seconds = time.perf_counter() - began
    return {
        "events_per_s": len(keys) / seconds,
        "requests_per_event": connection.requests / max(len(keys), 1),
    }


def run(
    endpoint: str | None = None,
    creds: tuple[str, str] | None = None,
    bucket: str | None = None,
    *,
    quick: bool = False,
) -> dict[str, Any]:
    """Measure both writers and verifiers; start SeaweedFS when no endpoint is given."""
    ours_n, base_n = (2_000, 200) if quick else (100_000, 1_000)
    cost_n, pairs = (2_000, 1) if quick else (30_000, 3)
    with ExitStack() as stack:
        if endpoint is None:
            endpoint, creds, bucket = _local_server(stack)
        assert creds is not None and bucket is not None
        _credentials(creds)
        ours = measure_ours(endpoint, bucket, ours_n)
        cost = checkpoint_cost(endpoint, bucket, cost_n, pairs)
        baseline = measure_baseline(endpoint, bucket, base_n)
        ack_modes = measure_ack_modes(endpoint, bucket, 1.0 if quick else 3.0)
        bridge_modes = measure_bridge_modes(endpoint, bucket, quick)
        figures = {
            "ack_modes": ack_modes,
            "bridge_mutating": bridge_modes,
            "write_ours": ours,
            "checkpoints_on_off": cost,
            "write_baseline": baseline,
            "verify_ours": verify_ours(endpoint, bucket, ours_n),
            "verify_baseline": verify_baseline(endpoint, bucket, base_n),
        }
    figures["write_speedup"] = ours["events_per_s"] / baseline["events_per_s"]
    figures["checkpoints_on_vs_off"] = cost["ratio"]
    figures["targets"] = {
        "write_speedup >= 100": figures["write_speedup"] >= 100,
        "write requests/event <= 0.01": ours["requests_per_event"] <= 0.01,
        "verify requests/event <= 0.01": figures["verify_ours"]["requests_per_event"] <= 0.01,
        "write rate checkpoints on/off >= 0.9": figures["checkpoints_on_vs_off"] >= 0.9,
        "spool mode: bridge mutating p50 within 1 ms of the local store": (
            bridge_modes["bridge-s3-spool"]["p50Ms"] - bridge_modes["bridge-local"]["p50Ms"] <= 1.0
        ),
        "spool mode: shipping lag p99 <= 1 s (64 callers)": ack_modes["spool"]["lagP99Ms"] <= 1000,
    }
    return figures


def _credentials(creds: tuple[str, str]) -> None:
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = creds
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def seaweed_checkpoint_cost(*, quick: bool) -> dict[str, Any]:
    """:func:`checkpoint_cost` against a throw-away SeaweedFS server (the ``checkpoints``
    section prints it beside the local figure)."""
    events, pairs = (2_000, 1) if quick else (30_000, 5)
    with ExitStack() as stack:
        endpoint, creds, bucket = _local_server(stack)
        _credentials(creds)
        measure_ours(endpoint, bucket, 1_000, prefix="bench/warm-up")
        return checkpoint_cost(endpoint, bucket, events, pairs)


def _local_server(stack: ExitStack) -> tuple[str, tuple[str, str], str]:
    from tests.s3.seaweed import CI, SeaweedServer, make_bucket

    server = SeaweedServer(Path(stack.enter_context(tempfile.TemporaryDirectory())))
    server.start()
    stack.callback(server.stop)
    bucket = f"bench-{secrets.token_hex(4)}"
    make_bucket(server, bucket)
    return server.endpoint, CI, bucket


def format_table(figures: dict[str, Any]) -> str:
    lines = ["S3 audit trail (events/s, S3 requests per event)"]
    names = ("write_ours", "write_baseline", "verify_ours")
    for name in (*names, "verify_baseline"):
        row = figures[name]
        rate, cost = row["events_per_s"], row["requests_per_event"]
        lines.append(f"  {name:<16} {rate:>12,.0f} ev/s  {cost:.4f} req/ev")
    lines.append(f"  write speed-up   {figures['write_speedup']:,.0f}x")
    lines.append(checkpoint_line(figures["checkpoints_on_off"]))
    for mode, row in figures["ack_modes"].items():
        lines.append(
            f"  AUDIT_S3_ACK={mode:<6} 64 callers: ack p50 {row['ackP50Ms']:.2f} ms,"
            f" {row['eventsPerSec']:,.0f} ev/s"
            + (
                f", shipping lag p50 {row['lagP50Ms']:.0f} ms p99 {row['lagP99Ms']:.0f} ms"
                if mode == "spool"
                else ""
            )
        )
    lines.append("  mutating call through the bridge (lean client, sequential):")
    for name, row in figures["bridge_mutating"].items():
        added = f" (+{row['addedP50Ms']:.2f} over direct)" if "addedP50Ms" in row else ""
        cpu = f", CPU {row['cpuMsPerCall']:.2f} ms/call" if "cpuMsPerCall" in row else ""
        lines.append(
            f"    {name:<20} p50 {row['p50Ms']:.2f} ms{added} p99 {row['p99Ms']:.2f} ms{cpu}"
        )
    lines += [f"  {'PASS' if ok else 'MISS'}  {name}" for name, ok in figures["targets"].items()]
    return "\n".join(lines)


def checkpoint_line(cost: dict[str, Any]) -> str:
    """The on/off append figures in one line (also printed by the ``checkpoints`` section)."""
    on, off = cost["on"], cost["off"]
    return (
        f"  checkpoints on/off {cost['ratio']:.3f}x: {on['events_per_s']:,.0f} vs "
        f"{off['events_per_s']:,.0f} ev/s, writer CPU {on['cpu_us_per_event']:.0f} vs "
        f"{off['cpu_us_per_event']:.0f} us/ev, {on['requests_per_event']:.4f} vs "
        f"{off['requests_per_event']:.4f} req/ev (medians of {cost['pairs']} alternating pairs "
        f"of {cost['events_per_run']:,} events; a checkpoint every {_CHECKPOINT_INTERVAL:g} s, "
        f"{cost['checkpoints_in_timed_runs']} published)"
    )
