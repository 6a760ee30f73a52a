"""Section ``s3``: our S3 writer and verifier against a one-PUT-per-event baseline.

Ours: 4096 asyncio callers each awaiting a durable ``arecord_event``; group commit and PUT
pacing put many events in one segment object. Baseline: a chained writer that PUTs one
object per event; it must serialise (each record links to the previous one), so it runs
with one caller. Verification: our verifier over our log, and a baseline verifier that lists
the baseline objects and GETs each one. Requests are counted with a botocore ``before-send``
hook (every HTTP attempt, retries included).

``run(endpoint, creds, bucket)`` measures against any S3 endpoint; with no endpoint it starts
a throw-away SeaweedFS server (the test suite's helper) and creates an Object Lock bucket.
"""

from __future__ import annotations

import asyncio
import os
import secrets
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
from mcp_bridge.audit.storage.s3.store import S3Store, open_s3_store
from mcp_bridge.audit.trail import utc_now
from mcp_bridge.config import AppConfig

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
    endpoint: str, bucket: str, events: int, *, checkpoints: bool = False
) -> dict[str, float]:
    """Our writer; with ``checkpoints`` signed checkpoints are published while it runs."""
    with tempfile.TemporaryDirectory() as spool:
        extra: dict[str, Any] = {}
        if checkpoints:
            extra = {
                "audit_signing_key": Signer.generate("bench.s3/checkpoints").to_text(),
                "audit_checkpoint_interval_seconds": _CHECKPOINT_INTERVAL,
            }
        config = _config(
            bucket, Path(spool), "bench/ckpt" if checkpoints else "bench/ours", **extra
        )
        store: S3Store = open_s3_store(config, options=ClientOptions(endpoint_url=endpoint))
        plan = open_checkpoints(config, store, utc_now)
        trail = AuditTrail(store, checkpoints=plan)
        began = time.perf_counter()
        asyncio.run(_drive(trail, events))
        seconds = time.perf_counter() - began
        requests = store.connection.requests
        published = trail.checkpoints.published if trail.checkpoints else 0
        trail.close()
    return {
        "events": events,
        "events_per_s": events / seconds,
        "requests_per_event": requests / events,
        "checkpoints_in_timed_run": published,
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
    with ExitStack() as stack:
        if endpoint is None:
            endpoint, creds, bucket = _local_server(stack)
        assert creds is not None and bucket is not None
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = creds
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        ours = measure_ours(endpoint, bucket, ours_n)
        checkpointed = measure_ours(endpoint, bucket, ours_n, checkpoints=True)
        baseline = measure_baseline(endpoint, bucket, base_n)
        figures = {
            "write_ours": ours,
            "write_ours_checkpoints": checkpointed,
            "write_baseline": baseline,
            "verify_ours": verify_ours(endpoint, bucket, ours_n),
            "verify_baseline": verify_baseline(endpoint, bucket, base_n),
        }
    figures["write_speedup"] = ours["events_per_s"] / baseline["events_per_s"]
    figures["checkpoints_on_vs_off"] = checkpointed["events_per_s"] / ours["events_per_s"]
    figures["targets"] = {
        "write_speedup >= 100": figures["write_speedup"] >= 100,
        "write requests/event <= 0.01": ours["requests_per_event"] <= 0.01,
        "verify requests/event <= 0.01": figures["verify_ours"]["requests_per_event"] <= 0.01,
        "write rate checkpoints on/off >= 0.9": figures["checkpoints_on_vs_off"] >= 0.9,
    }
    return figures


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
    names = ("write_ours", "write_ours_checkpoints", "write_baseline", "verify_ours")
    for name in (*names, "verify_baseline"):
        row = figures[name]
        rate, cost = row["events_per_s"], row["requests_per_event"]
        lines.append(f"  {name:<16} {rate:>12,.0f} ev/s  {cost:.4f} req/ev")
    lines.append(f"  write speed-up   {figures['write_speedup']:,.0f}x")
    published = figures["write_ours_checkpoints"]["checkpoints_in_timed_run"]
    lines.append(
        f"  checkpoints on/off {figures['checkpoints_on_vs_off']:.3f}x (a checkpoint every "
        f"{_CHECKPOINT_INTERVAL:g} s; {published} published in the timed run)"
    )
    lines += [f"  {'PASS' if ok else 'MISS'}  {name}" for name, ok in figures["targets"].items()]
    return "\n".join(lines)
