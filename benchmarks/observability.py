"""What metrics and tracing cost the bridge: its process's CPU per call, variants side by side.

Three bridges run at once, each ``mcp-bridge serve`` over the same workloads as
``benchmarks/bridge.py`` (read-only ``time.get_current_time``, mutating ``library.shelve``) with
its own durable local trail:

* ``bare``: ``BRIDGE_METRICS=false``, tracing off (``OTEL_TRACES_EXPORTER=none``);
* ``metrics``: metrics on (the default), tracing off;
* ``metrics+tracing``: metrics on and every span exported over OTLP/HTTP to a sink in this
  process (answers 200, decodes nothing), so the span export thread's CPU is charged too.

In each round every variant in turn gets the same burst of lean calls (8 concurrent keep-alive
clients, raw JSON-RPC: the SDK client's own cost would hide the difference); the CPU the bridge
process used during its burst (``psutil``: user + system), divided by the calls, is one sample.
Reported: the median over the rounds per variant, and each variant's median minus ``bare``'s.
Noise on a shared machine is of the same order as the metrics' cost: compare medians, not
single rounds. So the hooks are also timed alone, in this process (``hooks``): the telemetry
calls one read-only ``tools/call`` makes (request, upstream call, outcome record) and one
mutating call makes (plus its durable intent), CPU (``time.process_time``, all threads: the
span export included) per call, median of chunks, the variants taking turns.
``python -m benchmarks.observability [--quick]``; ``make bench`` runs it too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from mcp_bridge.bridge.metrics import BridgeMetrics
from mcp_bridge.bridge.middleware import Operation
from mcp_bridge.bridge.pool import Target
from mcp_bridge.bridge.telemetry import Telemetry
from mcp_bridge.bridge.tracing import Tracing

from .bridge import (
    BENCH_DIR,
    ROOT,
    WORKLOADS,
    Caller,
    _burst,
    _cpu,
    lean_http_connector,
    running_bridge,
)

RESULTS = BENCH_DIR / "observability.json"
CLIENTS = 8


@dataclass(frozen=True)
class Plan:
    rounds: int
    calls_per_client: int


FULL = Plan(rounds=9, calls_per_client=50)
QUICK = Plan(rounds=3, calls_per_client=15)


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts every export (an empty protobuf answer)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def otlp_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, name="otlp-sink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def variants(sink: str) -> dict[str, dict[str, str]]:
    off = {"OTEL_TRACES_EXPORTER": "none"}
    return {
        "bare": {"BRIDGE_METRICS": "false", **off},
        "metrics": {"BRIDGE_METRICS": "true", **off},
        "metrics+tracing": {
            "BRIDGE_METRICS": "true",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{sink}/v1/traces",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        },
    }


async def _clients(url: str, stack: AsyncExitStack) -> list[Caller]:
    return [
        (await stack.enter_async_context(lean_http_connector(url)())).call for _ in range(CLIENTS)
    ]


async def _rounds(bridges: dict[str, tuple[str, psutil.Process]], plan: Plan) -> dict[str, Any]:
    """Per workload and variant: CPU ms per call of every round.

    Each burst gets fresh connections (opened before its CPU is read): a keep-alive connection
    left idle while the other variants run would be closed by uvicorn after 5 s.
    """
    figures: dict[str, Any] = {}
    for workload in WORKLOADS:
        tool = f"{workload.server}__{workload.tool}"
        samples: dict[str, list[float]] = {name: [] for name in bridges}
        for round_number in range(plan.rounds + 1):
            for name, (url, process) in bridges.items():
                async with AsyncExitStack() as stack:
                    pool = await _clients(url, stack)
                    await _burst(pool, tool, workload.arguments, 1)
                    before = _cpu(process)
                    await _burst(pool, tool, workload.arguments, plan.calls_per_client)
                    used = _cpu(process) - before
                if round_number:  # the first round warms up
                    samples[name].append(used / (CLIENTS * plan.calls_per_client) * 1000)
        medians = {name: statistics.median(found) for name, found in samples.items()}
        figures[workload.key] = {
            name: {
                "cpuMsPerCallMedian": round(medians[name], 3),
                "addedOverBareMs": round(medians[name] - medians["bare"], 3),
                "rounds": [round(s, 3) for s in found],
            }
            for name, found in samples.items()
        }
    return figures


def _one_call(telemetry: Telemetry, mutating: bool) -> None:
    """The telemetry calls the gateway makes for one ``tools/call`` (see the callers)."""
    target = Target("library", "shelve", mutating)
    payload = {
        "correlationId": "c0ffee",
        "requestId": 7,
        "sessionId": "s1",
        "protocolVersion": "2025-11-25",
        "upstream": "library",
        "target": {"kind": "tool", "name": "library__shelve"},
    }
    op = Operation("tools/call", True, target, payload)
    params = {"name": "library__shelve", "arguments": {"title": "Dune"}}
    with telemetry.request(op, params, None) as watch:
        if mutating and (intent := telemetry.audit_started("mcp.tools.call.intent", True)):
            intent.done(41, None)
        with telemetry.upstream(target, "tools/call"):
            pass
        if outcome := telemetry.audit_started("mcp.tools.call", False):
            outcome.done(None, None)
        watch.result({"isError": False})


def hook_costs(sink: str, chunks: int, per_chunk: int) -> dict[str, dict[str, float]]:
    """CPU µs per call of the hooks alone, per variant (median of ``chunks``)."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{sink}/v1/traces"),
            schedule_delay_millis=200,
            max_queue_size=8 * per_chunk,  # a chunk's spans all fit: none is dropped
        )
    )
    tracing = Tracing(provider)
    telemetries = {
        "bare": Telemetry(None, None),
        "metrics": Telemetry(BridgeMetrics(), None),
        "metrics+tracing": Telemetry(BridgeMetrics(), tracing),
    }
    figures: dict[str, dict[str, float]] = {}
    for mutating in (False, True):
        samples: dict[str, list[float]] = {name: [] for name in telemetries}
        for _ in range(chunks):
            for name, telemetry in telemetries.items():
                began = time.process_time()
                for _ in range(per_chunk):
                    _one_call(telemetry, mutating)
                provider.force_flush()
                samples[name].append((time.process_time() - began) / per_chunk * 1e6)
        for name, found in samples.items():
            key = "mutatingUs" if mutating else "readOnlyUs"
            figures.setdefault(name, {})[key] = round(statistics.median(found), 1)
    tracing.close()
    return figures


def run(quick: bool = False) -> dict[str, Any]:
    """Measure once; return the figures and write them to ``var/bench/observability.json``."""
    plan = QUICK if quick else FULL
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with otlp_sink() as sink, ExitStack() as stack:
        bridges = {
            name: stack.enter_context(running_bridge(f"obs-{name}", settings))
            for name, settings in variants(sink).items()
        }
        workloads = asyncio.run(_rounds(bridges, plan))
        hooks = hook_costs(sink, plan.rounds, 500 if quick else 2000)
    results = {
        "benchmark": "observability",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "plan": plan.__dict__,
        "clients": CLIENTS,
        "workloads": workloads,
        "hooks": hooks,
        "seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def format_table(results: dict[str, Any]) -> str:
    header = f"{'workload':<22}{'variant':<17}{'CPU ms/call':>12}{'+ over bare':>12}  rounds"
    lines = [header, "-" * len(header)]
    for key, entry in results["workloads"].items():
        for name, figures in entry.items():
            rounds = " ".join(f"{r:.3f}" for r in figures["rounds"])
            lines.append(
                f"{key:<22}{name:<17}{figures['cpuMsPerCallMedian']:>12.3f}"
                f"{figures['addedOverBareMs']:>12.3f}  {rounds}"
            )
    lines.append("")
    lines.append(f"{'hooks alone':<22}{'variant':<17}{'read-only µs':>13}{'mutating µs':>13}")
    for name, figures in results["hooks"].items():
        lines.append(
            f"{'':<22}{name:<17}{figures['readOnlyUs']:>13.1f}{figures['mutatingUs']:>13.1f}"
        )
    lines.append(
        f"bridge process CPU (user+system) per call, median of {results['plan']['rounds']} rounds"
        f" of {results['clients']} lean clients; {results['seconds']} s; results in "
        f"{RESULTS.relative_to(ROOT)}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about a minute)")
    print(format_table(run(quick=parser.parse_args(argv).quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
