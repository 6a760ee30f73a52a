"""What the audited bridge costs: calls/s and added latency vs the upstream and vs mcp-proxy.

One run measures, for a read-only tool (``mcp-server-time`` ``get_current_time``) and a mutating
tool (``shelve`` of the stdio ``library`` server in ``tests/bridge/sample_servers.py``, which does
no I/O, so what is measured is the path and the durable intent, not the tool):

* ``direct``: the official client straight to the stdio server (the floor);
* ``bridge``: the same server behind ``mcp-bridge serve`` with a durable local audit trail;
* ``mcp-proxy``: the same server behind mcp-proxy (PyPI, no audit), streamable HTTP.

Every target runs as its own process, reached with the official ``mcp`` v2 client over loopback
(legacy session mode for both HTTP targets, the only one mcp-proxy speaks, so the comparison is
like for like). Latency: sequential calls after a warm-up; "added" is the bridge's percentile
minus the direct one. Throughput: 8 concurrent clients (sessions), each making a fixed number of
calls (for ``direct``: 8 concurrent tasks on the one stdio session). mcp-proxy pins ``mcp<2``,
so it lives in its own virtualenv (``var/bench/mcp-proxy-venv``, created once).

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
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "var" / "bench"
RESULTS = BENCH_DIR / "bridge.json"
PROXY_VENV = BENCH_DIR / "mcp-proxy-venv"
AUDIT_DIR = BENCH_DIR / "bridge-audit"
VENV_BIN = Path(sys.executable).parent
SAMPLE_SERVERS = ROOT / "tests" / "bridge" / "sample_servers.py"

TARGET_ADDED_P50_MS = 2.0
STARTUP_TIMEOUT = 60.0

Connector = Callable[[], AbstractAsyncContextManager[Client]]


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
    """Bounded request counts (a full run stays under ~3 minutes, a quick one under ~40 s).

    Targets take turns in ``rounds`` (each round: every target in turn), so load from anything
    else on the machine spreads over all of them instead of skewing whichever ran at the time.
    """

    warmup: int
    rounds: int
    sequential_per_round: int
    clients: int
    calls_per_client_per_round: int


FULL = Plan(
    warmup=100, rounds=10, sequential_per_round=100, clients=8, calls_per_client_per_round=25
)
QUICK = Plan(warmup=30, rounds=4, sequential_per_round=50, clients=8, calls_per_client_per_round=8)


@dataclass(frozen=True)
class Target:
    """One way of reaching a workload's tool."""

    name: str
    connect: Connector
    tool: str


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


async def _timed_calls(client: Client, tool: str, arguments: dict[str, Any], n: int) -> list[float]:
    samples: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        await _call(client, tool, arguments)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _burst(sessions: list[Client], tool: str, arguments: dict[str, Any], n: int) -> float:
    """Seconds for every session to make ``n`` calls, all sessions concurrently."""

    async def caller(client: Client) -> None:
        for _ in range(n):
            await _call(client, tool, arguments)

    started = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in sessions))
    return time.perf_counter() - started


async def compare(targets: list[Target], arguments: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """Sequential latency over one session each, then throughput over ``plan.clients`` each."""
    samples: dict[str, list[float]] = {t.name: [] for t in targets}
    busy: dict[str, float] = dict.fromkeys(samples, 0.0)
    async with AsyncExitStack() as stack:
        single = [await stack.enter_async_context(t.connect()) for t in targets]
        for target, client in zip(targets, single, strict=True):
            await _timed_calls(client, target.tool, arguments, plan.warmup)
        for _ in range(plan.rounds):
            for target, client in zip(targets, single, strict=True):
                samples[target.name] += await _timed_calls(
                    client, target.tool, arguments, plan.sequential_per_round
                )
        pools = [
            [await stack.enter_async_context(t.connect()) for _ in range(plan.clients)]
            for t in targets
        ]
        for target, sessions in zip(targets, pools, strict=True):
            await _burst(sessions, target.tool, arguments, 2)
        for _ in range(plan.rounds):
            for target, sessions in zip(targets, pools, strict=True):
                busy[target.name] += await _burst(
                    sessions, target.tool, arguments, plan.calls_per_client_per_round
                )
    calls = plan.rounds * plan.clients * plan.calls_per_client_per_round
    return {
        name: {
            "p50Ms": round(percentile(found, 50), 3),
            "p99Ms": round(percentile(found, 99), 3),
            "meanMs": round(statistics.fmean(found), 3),
            "callsPerSec": round(calls / busy[name], 1),
        }
        for name, found in samples.items()
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
def running_bridge() -> Iterator[str]:
    """``mcp-bridge serve`` over every workload, auditing durably to a fresh local trail."""
    shutil.rmtree(AUDIT_DIR, ignore_errors=True)
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
        "AUDIT_STORAGE_PATH": str(AUDIT_DIR),
        "AUDIT_DIGEST_KEY": "benchmark-digest-key",
        "ENVIRONMENT": "development",
    }
    for name in ("AUTH_JWKS_URL", "AUTH_API_KEYS_FILE", "AUTH_DEV_SECRET"):
        env.pop(name, None)
    argv = [sys.executable, "-m", "mcp_bridge", "serve"]
    with _process(argv, env, BENCH_DIR / "bridge-server.log") as process:
        _wait_http(f"http://127.0.0.1:{port}/health", process, BENCH_DIR / "bridge-server.log")
        yield f"http://127.0.0.1:{port}/mcp"


def ensure_mcp_proxy() -> Path:
    """The mcp-proxy executable, installing it into its own virtualenv the first time."""
    executable = PROXY_VENV / "bin" / "mcp-proxy"
    if not executable.exists():
        subprocess.run(["python3", "-m", "venv", str(PROXY_VENV)], check=True)
        pip = [str(PROXY_VENV / "bin" / "pip"), "install", "-q", "mcp-proxy"]
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


async def _measure_all(bridge_url: str, proxy_base: str, plan: Plan) -> dict[str, Any]:
    workloads: dict[str, Any] = {}
    for w in WORKLOADS:
        targets = [
            Target("direct", stdio_connector(w), w.tool),
            Target("bridge", http_connector(bridge_url), f"{w.server}__{w.tool}"),
            Target("mcp-proxy", http_connector(f"{proxy_base}/{w.server}/mcp"), w.tool),
        ]
        figures = await compare(targets, w.arguments, plan)
        floor = figures["direct"]
        for name in ("bridge", "mcp-proxy"):
            figures[name]["addedP50Ms"] = round(figures[name]["p50Ms"] - floor["p50Ms"], 3)
            figures[name]["addedP99Ms"] = round(figures[name]["p99Ms"] - floor["p99Ms"], 3)
        workloads[w.key] = {"readOnly": w.read_only, "targets": figures}
    return workloads


def checks(workloads: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets: p50 added latency ≤ 2 ms, and throughput ≥ mcp-proxy's, per workload."""
    found: list[dict[str, Any]] = []
    for key, entry in workloads.items():
        bridge, proxy = entry["targets"]["bridge"], entry["targets"]["mcp-proxy"]
        found.append(
            {
                "name": f"{key}: bridge p50 added latency <= {TARGET_ADDED_P50_MS} ms",
                "value": bridge["addedP50Ms"],
                "pass": bridge["addedP50Ms"] <= TARGET_ADDED_P50_MS,
            }
        )
        found.append(
            {
                "name": f"{key}: bridge calls/s >= mcp-proxy calls/s ({proxy['callsPerSec']})",
                "value": bridge["callsPerSec"],
                "pass": bridge["callsPerSec"] >= proxy["callsPerSec"],
            }
        )
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
    with running_mcp_proxy() as proxy_base, running_bridge() as bridge_url:
        workloads = asyncio.run(_measure_all(bridge_url, proxy_base, plan))
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


def format_table(results: dict[str, Any]) -> str:
    """The results as a fixed-width table plus PASS/MISS lines."""
    header = f"{'workload':<24}{'target':<11}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}"
    header += f"{'+p99 ms':>9}{'calls/s':>10}"
    lines = [header, "-" * len(header)]
    for key, entry in results["workloads"].items():
        for target, f in entry["targets"].items():
            added = [f.get("addedP50Ms"), f.get("addedP99Ms")]
            cells = "".join(f"{'' if v is None else f'{v:.3f}':>9}" for v in added)
            lines.append(
                f"{key:<24}{target:<11}{f['p50Ms']:>9.3f}{f['p99Ms']:>9.3f}{cells}"
                f"{f['callsPerSec']:>10.1f}"
            )
    lines.append("")
    lines += [
        f"{'PASS' if c['pass'] else 'MISS'}  {c['name']}: {c['value']}" for c in results["checks"]
    ]
    audit = results["audit"]
    lines.append(
        f"audit: {audit['records']} records in {audit['path']}, verified={audit['verified']}; "
        f"{results['seconds']} s; results in {RESULTS.relative_to(ROOT)}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (about 40 s)")
    print(format_table(run(quick=parser.parse_args(argv).quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
