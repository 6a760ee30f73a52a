"""Prometheus metrics of the bridge: one registry per app, served at ``/metrics``.

Two kinds, so that the request path pays only for what happens on it:

* **event metrics**, updated where the event happens: one counter increment and one histogram
  observation per MCP request, one observation per upstream call and per audit record, one per
  committed audit batch (from the trail's writer thread; prometheus-client is thread-safe);
* **state metrics** (trail health, last durable seq, queue and spool depth, checkpoint age,
  witness lag, upstream restarts, records held during an outage), read from the parts that own
  the state only when Prometheus scrapes, by :class:`StateCollector`.

Each app gets its own :class:`~prometheus_client.CollectorRegistry` (never the global default
one), so several bridges in one process, and the tests, do not share counters. Label values
are never client-chosen strings: unknown methods count as ``unknown``, tools the upstream did
not list as ``unlisted``. The metric list is in docs/mcp-bridge/observability.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.witness.attest import attestation_health

from .outage import Outage
from .pool import UpstreamPool

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    120.0,
)
"""Seconds: fine below 10 ms (the bridge's own overhead), coarse up to the upstream timeout."""

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_Labelled = TypeVar("_Labelled", Counter, Histogram)


class BridgeMetrics:
    """The bridge's metrics and the registry that renders them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "mcp_bridge_requests",
            "MCP requests and notifications handled, by outcome (one per audit outcome record).",
            ["method", "upstream", "tool", "outcome", "reason"],
            registry=registry,
        )
        self.rejected = Counter(
            "mcp_bridge_http_rejected",
            "HTTP requests refused before they became an MCP message, by audit event and reason.",
            ["event", "reason"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "mcp_bridge_request_duration_seconds",
            "End-to-end time the bridge spent on an MCP request, from dispatch to answer.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.upstream_seconds = Histogram(
            "mcp_bridge_upstream_duration_seconds",
            "Time of each request sent to an upstream (calls, listings, completions, ...).",
            ["upstream", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.audit_append_seconds = Histogram(
            "mcp_bridge_audit_append_duration_seconds",
            "From handing a record to the trail until it is durable (durable=true: the caller "
            "waited; false: written in the background).",
            ["durable"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.audit_batch_records = Histogram(
            "mcp_bridge_audit_batch_records",
            "Records per committed audit batch (one write and one fsync or PUT per batch).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.audit_batch_failures = Counter(
            "mcp_bridge_audit_batch_failures",
            "Audit batches whose append failed (their records are held or refused).",
            registry=registry,
        )
        self._children: dict[tuple[int, tuple[str, ...]], Counter | Histogram] = {}

    def watch(self, trail: AuditTrail, pool: UpstreamPool, outage: Outage) -> None:
        """Read the trail's, the upstreams' and the outage buffer's state at every scrape."""
        self.registry.register(StateCollector(trail, pool, outage))
        trail.on_batch(self.batch_committed)

    def batch_committed(self, records: int, failed: bool) -> None:
        """The trail's writer committed (or failed to commit) one batch."""
        if failed:
            self.audit_batch_failures.inc()
        else:
            self.audit_batch_records.observe(records)

    def request_done(
        self, method: str, upstream: str, tool: str, outcome: str, reason: str, seconds: float
    ) -> None:
        self.child(self.requests, method, upstream, tool, outcome, reason).inc()
        self.child(self.request_seconds, method).observe(seconds)

    def child(self, metric: _Labelled, *labels: str) -> _Labelled:
        """``metric.labels(*labels)``, looked up once per label values: ``labels()`` takes a
        lock and checks its arguments on every call; the request path keeps the children it
        got (as many as the label values seen, which the metrics hold anyway)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return cast(_Labelled, found)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class StateCollector(Collector):
    """State metrics, read from their owners at scrape time (nothing on the request path)."""

    def __init__(self, trail: AuditTrail, pool: UpstreamPool, outage: Outage) -> None:
        self._trail = trail
        self._pool = pool
        self._outage = outage

    def collect(self) -> Iterable[Metric]:
        yield from self._audit()
        yield from self._checkpoints()
        yield from self._witnesses()
        yield from self._upstreams()

    def _audit(self) -> Iterable[Metric]:
        trail = self._trail
        yield _gauge(
            "mcp_bridge_audit_enabled",
            "1 when the audit trail is on (AUDIT_ENABLED).",
            trail.enabled,
        )
        yield _gauge(
            "mcp_bridge_audit_healthy",
            "1 while the trail takes writes; 0 after a failed append until one succeeds.",
            trail.healthy,
        )
        if trail.last_durable_seq is not None:
            yield _gauge(
                "mcp_bridge_audit_last_durable_seq",
                "Sequence number of the newest record this bridge made durable.",
                trail.last_durable_seq,
            )
        yield _gauge(
            "mcp_bridge_audit_queue_records",
            "Records handed to the trail's writer and not yet durable.",
            trail.queued_records,
        )
        if trail.spooled_records is not None:
            yield _gauge(
                "mcp_bridge_audit_spool_records",
                "Records held in the local spool (AUDIT_SPOOL_PATH) until S3 takes them.",
                trail.spooled_records,
            )
        status = self._outage.status()
        yield _gauge(
            "mcp_bridge_audit_outage_held_records",
            "Records the bridge holds while the trail is down (BRIDGE_OUTAGE_BUFFER_RECORDS).",
            status.get("held", 0),
        )

    def _checkpoints(self) -> Iterable[Metric]:
        scheduler = self._trail.checkpoints
        if scheduler is None:
            return
        yield _counter(
            "mcp_bridge_checkpoints_published",
            "Signed checkpoints this bridge published.",
            scheduler.published,
        )
        age = scheduler.seconds_since_published()
        if age is not None:
            yield _gauge(
                "mcp_bridge_checkpoint_age_seconds",
                "Seconds since this bridge last published a signed checkpoint.",
                age,
            )

    def _witnesses(self) -> Iterable[Metric]:
        health = attestation_health(self._trail) or {}
        lags = health.get("witnesses") or []
        if not lags:
            return
        for name, kind, key, documentation in _WITNESS_METRICS:
            family = kind(name, documentation, labels=["witness", "url"])
            for lag in lags:
                if lag[key] is not None:
                    family.add_metric([str(lag["witness"]), str(lag["url"])], float(lag[key]))
            yield family

    def _upstreams(self) -> Iterable[Metric]:
        ready = GaugeMetricFamily(
            "mcp_bridge_upstream_ready",
            "1 while the upstream is connected (state ready).",
            labels=["upstream"],
        )
        restarts = CounterMetricFamily(
            "mcp_bridge_upstream_restarts",
            "Times the upstream's connection or process ended and was started again.",
            labels=["upstream"],
        )
        for name, health in self._pool.health().items():
            ready.add_metric([name], 1.0 if health["state"] == "ready" else 0.0)
            restarts.add_metric([name], float(health["restarts"]))
        yield from (ready, restarts)


_WITNESS_METRICS: tuple[
    tuple[str, type[GaugeMetricFamily | CounterMetricFamily], str, str], ...
] = (
    (
        "mcp_bridge_witness_behind_entries",
        GaugeMetricFamily,
        "behind",
        "Entries the newest checkpoint holds beyond the newest one this witness cosigned.",
    ),
    (
        "mcp_bridge_witness_cosigned_size",
        GaugeMetricFamily,
        "cosignedSize",
        "Tree size of the newest checkpoint this witness cosigned.",
    ),
    (
        "mcp_bridge_witness_failures",
        CounterMetricFamily,
        "failuresTotal",
        "Failed submissions to this witness since the bridge started (retried with backoff).",
    ),
    (
        "mcp_bridge_witness_seconds_since_cosigned",
        GaugeMetricFamily,
        "secondsSinceCosigned",
        "Seconds since this witness last cosigned.",
    ),
)
"""Per witness, from ``/health``'s ``audit.attestations.witnesses``: name, type, key, help."""


def _gauge(name: str, documentation: str, value: float | bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=float(value))


__all__ = ["CONTENT_TYPE", "BridgeMetrics", "StateCollector"]
