"""What the audited bridge costs: added latency, calls/s and CPU, vs the upstream and mcp-proxy.

One run measures, for a read-only tool (``mcp-server-time`` ``get_current_time``) and a mutating
tool (``shelve`` of the stdio ``library`` server in ``tests/bridge/sample_servers.py``, which does
no I/O, so what is measured is the path and the durable intent, not the tool):

* ``direct``: the stdio server itself (the floor);
* ``bridge``: the same server behind ``mcp-bridge serve`` with a durable local audit trail;
* ``bridge-sdk``: the same bridge with ``BRIDGE_DIRECT_CALLS=false``, so every call takes the
  SDK's session path instead of the direct path for tool calls (what that path saves);
* ``mcp-proxy``: the same server behind mcp-proxy (PyPI, no audit), streamable HTTP.

Each target is reached two ways, labelled apart: the *lean* client (:mod:`benchmarks.lean`: raw
JSON-RPC over one keep-alive HTTP connection per client, or JSON lines on the stdio pipe) and the
official ``mcp`` v2 *SDK* client (legacy session mode for both HTTP targets, the only one
mcp-proxy speaks). The SDK client alone costs about 1.4 ms CPU per call, so the lean client is
the one that shows what the bridge adds. Latency: sequential calls after a warm-up; "added" is a
target's percentile minus the direct one with the same client. Throughput (lean): 1, 8 and 64
concurrent clients (sessions; for ``direct`` concurrent callers on the one stdio pipe, as the
bridge and mcp-proxy share one upstream connection). Bridge CPU per call: the bridge process's
CPU time (user + system, its upstreams excluded) during its throughput runs / calls. Targets
take turns in rounds; medians are reported and the ratios printed. mcp-proxy pins ``mcp<2``, so
it cannot join our ``dev`` extra: it lives in its own virtualenv (``var/bench/mcp-proxy-venv``,
created once).

``run(quick)`` returns the results as a dict and writes them to ``var/bench/bridge.json``;
``python -m benchmarks.bridge [--quick]`` prints them as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import httpx2
import psutil
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from .lean import LeanHttpClient, LeanStdioClient

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "var" / "bench"
RESULTS = BENCH_DIR / "bridge.json"
PROXY_VENV = BENCH_DIR / "mcp-proxy-venv"
AUDIT_DIR = BENCH_DIR / "bridge-audit"
VENV_BIN = Path(sys.executable).parent
SAMPLE_SERVERS = ROOT / "tests" / "bridge" / "sample_servers.py"

STARTUP_TIMEOUT = 60.0
#: The mcp-proxy measured (its own virtualenv: it pins ``mcp<2``).
PROXY_REQUIREMENT = "mcp-proxy>=0.13,<0.14"
#: The issue's targets (docs/mcp-bridge/bridge.md, Benchmark).
TARGET_ADDED_MS = {True: 1.0, False: 1.5}
TARGET_CPU_MS = {True: 0.8, False: 1.0}
TARGET_VS_PROXY = 1.5
TARGET_VS_DIRECT_AT_8 = 0.75

Connector = Callable[[], AbstractAsyncContextManager[Client]]


class LeanClient(Protocol):
    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]: ...


LeanConnector = Callable[[], AbstractAsyncContextManager[LeanClient]]


@dataclass(frozen=True)
class Workload:
    """One upstream server and the tool called on it."""

    server: str
    command: tuple[str, ...]
    tool: str
    arguments: dict[str, Any]
    read_only: bool

    @property
    def key(self) -> str:
        return f"{self.server}.{self.tool}"


WORKLOADS = (
    Workload(
        "time", (str(VENV_BIN / "mcp-server-time"),), "get_current_time", {"timezone": "UTC"}, True
    ),
    Workload(
        "library",
        (sys.executable, str(SAMPLE_SERVERS), "library"),
        "shelve",
        {"title": "Dune"},
        False,
    ),
)


@dataclass(frozen=True)
class Plan:
    """Bounded request counts (at load average 5-7 a full run took ~5 minutes, a quick one ~3).

    Targets take turns in ``rounds`` (each round: every target in turn), so load from anything
    else on the machine spreads over all of them instead of skewing whichever ran at the time.
    """

    warmup: int
    rounds: int
    sequential_per_round: int
    #: Concurrent lean clients → calls each makes per round (about the same total per burst).
    bursts: tuple[tuple[int, int], ...]


FULL = Plan(warmup=100, rounds=5, sequential_per_round=100, bursts=((1, 200), (8, 40), (64, 6)))
QUICK = Plan(warmup=30, rounds=3, sequential_per_round=40, bursts=((1, 60), (8, 10), (64, 2)))


@dataclass(frozen=True)
class Target:
    """One way of reaching a workload's tool, with the SDK client and with the lean one."""

    name: str
    connect: Connector
    lean: LeanConnector
    tool: str
    #: The process whose CPU time is charged per call (the bridge), if any.
    process: psutil.Process | None = None


# -- measuring ------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> None:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {result.content}")


Caller = Callable[[str, dict[str, Any]], Awaitable[object]]


async def _timed_calls(call: Caller, tool: str, arguments: dict[str, Any], n: int) -> list[float]:
    samples: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        await call(tool, arguments)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _cpu(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return float(times.user + times.system)


async def _burst(clients: list[Caller], tool: str, arguments: dict[str, Any], n: int) -> float:
    """Seconds for every client to make ``n`` calls, all clients concurrently."""

    async def caller(call: Caller) -> None:
        for _ in range(n):
            await call(tool, arguments)

    started = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in clients))
    return time.perf_counter() - started


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50Ms": round(percentile(samples, 50), 3),
        "p99Ms": round(percentile(samples, 99), 3),
        "meanMs": round(statistics.fmean(samples), 3),
    }


async def latency(
    targets: list[Target], arguments: dict[str, Any], plan: Plan, *, lean: bool
) -> dict[str, dict[str, float]]:
    """Sequential calls over one session per target, the targets taking turns."""
    samples: dict[str, list[float]] = {t.name: [] for t in targets}
    async with AsyncExitStack() as stack:
        calls: list[Caller] = []
        for target in targets:
            if lean:
                client = await stack.enter_async_context(target.lean())
                calls.append(client.call)
            else:
                sdk = await stack.enter_async_context(target.connect())
                calls.append(partial(_call, sdk))
        for target, call in zip(targets, calls, strict=True):
            await _timed_calls(call, target.tool, arguments, plan.warmup)
        for _ in range(plan.rounds):
            for target, call in zip(targets, calls, strict=True):
                samples[target.name] += await _timed_calls(
                    call, target.tool, arguments, plan.sequential_per_round
                )
    return {name: _summary(found) for name, found in samples.items()}


async def throughput(
    targets: list[Target], arguments: dict[str, Any], clients: int, per_round: int, plan: Plan
) -> dict[str, dict[str, float]]:
    """Lean calls/s of ``clients`` concurrent sessions per target (median of the rounds) and
    the charged process's CPU per call."""
    rates: dict[str, list[float]] = {t.name: [] for t in targets}
    cpu: dict[str, float] = dict.fromkeys(rates, 0.0)
    async with AsyncExitStack() as stack:
        pools = [
            [(await stack.enter_async_context(t.lean())).call for _ in range(clients)]
            for t in targets
        ]
        for target, pool in zip(targets, pools, strict=True):
            await _burst(pool, target.tool, arguments, 2)
        for _ in range(plan.rounds):
            for target, pool in zip(targets, pools, strict=True):
                before = _cpu(target.process)
                seconds = await _burst(pool, target.tool, arguments, per_round)
                cpu[target.name] += _cpu(target.process) - before
                rates[target.name].append(clients * per_round / seconds)
    calls = plan.rounds * clients * per_round
    return {
        name: {
            "callsPerSec": round(statistics.median(found), 1),
            "cpuMsPerCall": round(cpu[name] / calls * 1000, 3),
        }
        for name, found in rates.items()
    }


# -- connecting -----------------------------------------------------------------------------


def stdio_connector(workload: Workload) -> Connector:
    """The floor: the client spawns the stdio server itself.

    Throughput shares one session between the concurrent callers, as the bridge and mcp-proxy
    each share their one upstream connection.
    """
    params = StdioServerParameters(command=workload.command[0], args=list(workload.command[1:]))
    shared: list[Client] = []

    @asynccontextmanager
    async def connect() -> AsyncIterator[Client]:
        if shared:
            yield shared[0]
            return
        async with Client(stdio_client(params), cache=None) as client:
            shared.append(client)
            try:
                yield client
            finally:
                shared.clear()

    return connect


def http_connector(url: str) -> Connector:
    """A fresh streamable-HTTP session (legacy mode: what mcp-proxy speaks)."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[Client]:
        async with httpx2.AsyncClient(timeout=60) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode="legacy", cache=None) as client:
                yield client

    return connect


def lean_stdio_connector(workload: Workload) -> LeanConnector:
    """Lean callers of the stdio server; every client shares the one pipe (one process)."""
    shared: list[LeanStdioClient] = []
    users = [0]

    @asynccontextmanager
    async def connect() -> AsyncIterator[LeanStdioClient]:
        if not shared:
            shared.append(await LeanStdioClient(workload.command).open())
        users[0] += 1
        try:
            yield shared[0]
        finally:
            users[0] -= 1
            if users[0] == 0:
                await shared.pop().close()

    return connect


def lean_http_connector(url: str) -> LeanConnector:
    """A fresh session on its own keep-alive connection."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[LeanHttpClient]:
        client = await LeanHttpClient(url).open()
        try:
            yield client
        finally:
            await client.close()

    return connect


# -- the processes under test ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited at startup; see {log}")
        try:
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {STARTUP_TIMEOUT}s; see {log}")


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def running_bridge(
    name: str = "bridge", audit_env: dict[str, str] | None = None
) -> Iterator[tuple[str, psutil.Process]]:
    """``mcp-bridge serve`` over every workload, auditing durably to a fresh local trail (or
    where ``audit_env`` says; ``name`` keeps the logs and trails of several bridges apart)."""
    audit_dir = AUDIT_DIR if name == "bridge" else BENCH_DIR / f"{name}-audit"
    shutil.rmtree(audit_dir, ignore_errors=True)
    config = BENCH_DIR / "bridge-config.json"
    servers = {w.server: {"command": w.command[0], "args": list(w.command[1:])} for w in WORKLOADS}
    config.write_text(json.dumps({"mcpServers": servers}, indent=2))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BRIDGE_CONFIG": str(config),
        "AUDIT_ENABLED": "true",
        "AUDIT_STORAGE_BACKEND": "local",
        "AUDIT_STORAGE_PATH": str(audit_dir),
        "AUDIT_DIGEST_KEY": "benchmark-digest-key",
        "ENVIRONMENT": "development",
        **(audit_env or {}),
    }
    for variable in ("AUTH_JWKS_URL", "AUTH_API_KEYS_FILE", "AUTH_DEV_SECRET"):
        env.pop(variable, None)
    argv = [sys.executable, "-m", "mcp_bridge", "serve"]
    log = BENCH_DIR / f"{name}-server.log"
    with _process(argv, env, log) as process:
        _wait_http(f"http://127.0.0.1:{port}/health", process, log)
        yield f"http://127.0.0.1:{port}/mcp", psutil.Process(process.pid)


def ensure_mcp_proxy() -> Path:
    """The mcp-proxy executable, installing it into its own virtualenv the first time."""
    executable = PROXY_VENV / "bin" / "mcp-proxy"
    if not executable.exists():
        subprocess.run(["python3", "-m", "venv", str(PROXY_VENV)], check=True)
        pip = [str(PROXY_VENV / "bin" / "pip"), "install", "-q", PROXY_REQUIREMENT]
        subprocess.run(pip, check=True)
    return executable


@contextmanager
def running_mcp_proxy() -> Iterator[str]:
    """mcp-proxy with one named stdio server per workload; yields the URL prefix of servers."""
    port = free_port()
    argv = [str(ensure_mcp_proxy()), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--pass-environment", "--log-level", "WARNING"]
    for w in WORKLOADS:
        argv += ["--named-server", w.server, shlex.join(w.command)]
    log = BENCH_DIR / "mcp-proxy-server.log"
    with _process(argv, dict(os.environ), log) as process:
        _wait_http(f"http://127.0.0.1:{port}/status", process, log)
        yield f"http://127.0.0.1:{port}/servers"


# -- the run --------------------------------------------------------------------------------


Bridges = dict[str, tuple[str, psutil.Process]]
"""The bridges under test by target name (``bridge``, ``bridge-sdk``): URL and process."""


def _targets(w: Workload, bridges: Bridges, proxy_base: str) -> list[Target]:
    proxy_url = f"{proxy_base}/{w.server}/mcp"
    tool = f"{w.server}__{w.tool}"
    return [
        Target("direct", stdio_connector(w), lean_stdio_connector(w), w.tool),
        *(
            Target(name, http_connector(url), lean_http_connector(url), tool, process)
            for name, (url, process) in bridges.items()
        ),
        Target("mcp-proxy", http_connector(proxy_url), lean_http_connector(proxy_url), w.tool),
    ]


def _added(figures: dict[str, dict[str, float]]) -> None:
    floor = figures["direct"]
    for name in (n for n in figures if n != "direct"):
        figures[name]["addedP50Ms"] = round(figures[name]["p50Ms"] - floor["p50Ms"], 3)
        figures[name]["addedP99Ms"] = round(figures[name]["p99Ms"] - floor["p99Ms"], 3)


async def _measure_all(bridges: Bridges, proxy_base: str, plan: Plan) -> dict[str, Any]:
    workloads: dict[str, Any] = {}
    for w in WORKLOADS:
        targets = _targets(w, bridges, proxy_base)
        lean = await latency(targets, w.arguments, plan, lean=True)
        sdk = await latency(targets, w.arguments, plan, lean=False)
        _added(lean)
        _added(sdk)
        bursts = {
            str(clients): await throughput(targets, w.arguments, clients, per_round, plan)
            for clients, per_round in plan.bursts
        }
        workloads[w.key] = {"readOnly": w.read_only, "lean": lean, "sdk": sdk, "clients": bursts}
    return workloads


def checks(workloads: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, per workload (lean client; ratios from the same run)."""
    found: list[dict[str, Any]] = []

    def check(name: str, value: float, goal: float, *, at_most: bool = False) -> None:
        passed = value <= goal if at_most else value >= goal
        found.append(
            {"name": f"{name} {'<=' if at_most else '>='} {goal}", "value": value, "pass": passed}
        )

    for key, entry in workloads.items():
        kind = entry["readOnly"]
        added = entry["lean"]["bridge"]["addedP50Ms"]
        check(f"{key}: p50 added (ms)", added, TARGET_ADDED_MS[kind], at_most=True)
        for clients, figures in entry["clients"].items():
            ratio = figures["bridge"]["callsPerSec"] / figures["mcp-proxy"]["callsPerSec"]
            check(f"{key}: calls/s at {clients} / mcp-proxy's", round(ratio, 2), TARGET_VS_PROXY)
        at8 = entry["clients"]["8"]
        ratio = at8["bridge"]["callsPerSec"] / at8["direct"]["callsPerSec"]
        check(f"{key}: calls/s at 8 / direct's", round(ratio, 2), TARGET_VS_DIRECT_AT_8)
        cpu = at8["bridge"]["cpuMsPerCall"]
        check(f"{key}: bridge CPU ms per call (8 clients)", cpu, TARGET_CPU_MS[kind], at_most=True)
    return found


def _audit_summary() -> dict[str, Any]:
    """The trail the bridge wrote during the run, verified (is the audit really happening?)."""
    if str(ROOT / "src") not in sys.path:  # also when run without PYTHONPATH=src
        sys.path.insert(0, str(ROOT / "src"))
    from mcp_bridge.audit import verify_audit_trail

    records = sum(1 for path in AUDIT_DIR.rglob("*.jsonl") for line in path.open() if line.strip())
    verified = verify_audit_trail(AUDIT_DIR)
    return {"path": str(AUDIT_DIR.relative_to(ROOT)), "records": records, "verified": verified.ok}


def run(quick: bool = False) -> dict[str, Any]:
    """Run the whole comparison once; return the results and write them to ``var/bench``."""
    plan = QUICK if quick else FULL
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    sdk_path = {"BRIDGE_DIRECT_CALLS": "false"}
    with (
        running_mcp_proxy() as proxy_base,
        running_bridge() as bridge,
        running_bridge("bridge-sdk", sdk_path) as bridge_sdk,
    ):
        bridges = {"bridge": bridge, "bridge-sdk": bridge_sdk}
        workloads = asyncio.run(_measure_all(bridges, proxy_base, plan))
    results: dict[str, Any] = {
        "benchmark": "bridge",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "plan": plan.__dict__,
        "host": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "workloads": workloads,
        "checks": checks(workloads),
        "audit": _audit_summary(),
        "seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _cells(values: list[float | None], width: int = 8) -> str:
    return "".join(f"{'' if v is None else f'{v:.2f}':>{width}}" for v in values)


def _latency_cells(figures: dict[str, float]) -> str:
    keys = ("p50Ms", "p99Ms", "addedP50Ms", "addedP99Ms")
    return _cells([figures.get(key) for key in keys])


def format_table(results: dict[str, Any]) -> str:
    """Latency (lean and SDK), calls/s and CPU per client count, ratios, PASS/MISS lines."""
    counts = list(next(iter(results["workloads"].values()))["clients"])
    middle = counts[len(counts) // 2]
    header = f"{'target':<11}{'lean p50':>8}{'p99':>8}{'+p50':>8}{'+p99':>8}"
    header += f"{'SDK p50':>8}{'p99':>8}{'+p50':>8}{'+p99':>8}"
    header += "".join(f"{'c/s@' + c:>8}" for c in counts) + f"{'CPU ms':>8}"
    lines = [header, "-" * len(header)]
    for key, entry in results["workloads"].items():
        lines.append(f"{key} ({'read-only' if entry['readOnly'] else 'mutating'})")
        for target in entry["lean"]:
            rates = [entry["clients"][c][target]["callsPerSec"] for c in counts]
            cpu = entry["clients"][middle][target]["cpuMsPerCall"]
            lines.append(
                f"{target:<11}"
                + _latency_cells(entry["lean"][target])
                + _latency_cells(entry["sdk"][target])
                + "".join(f"{r:>8.0f}" for r in rates)
                + (f"{cpu:>8.3f}" if target.startswith("bridge") else "")
            )
        for c in counts:
            figures = entry["clients"][c]
            bridge = figures["bridge"]["callsPerSec"]
            lines.append(
                f"  bridge calls/s @{c}: {bridge / figures['mcp-proxy']['callsPerSec']:.2f}x"
                f" mcp-proxy, {bridge / figures['direct']['callsPerSec']:.2f}x direct"
            )
    lines.append("")
    lines += [
        f"{'PASS' if c['pass'] else 'MISS'}  {c['name']}: {c['value']}" for c in results["checks"]
    ]
    audit = results["audit"]
    lines.append(
        "bridge-sdk: the bridge with BRIDGE_DIRECT_CALLS=false (every call on the SDK path); "
        "lean: raw JSON-RPC (keep-alive HTTP / stdio JSON lines); SDK: the official mcp client;"
        " +p50/+p99 over direct with the same client (ms); CPU ms: bridge process CPU per call at"
        f" {middle} clients"
    )
    lines.append(
        f"audit: {audit['records']} records in {audit['path']}, verified={audit['verified']}; "
        f"{results['seconds']} s; results in {RESULTS.relative_to(ROOT)}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (about a minute)")
    print(format_table(run(quick=parser.parse_args(argv).quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
