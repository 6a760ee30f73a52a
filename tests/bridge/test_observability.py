"""Metrics (``/metrics``) and traces (OTLP/HTTP) of a real bridge, checked against its trail.

One bridge in front of the ``library`` stdio server (with an access rule that refuses one tool)
and a ``notes`` HTTP server whose request bodies are kept, with tracing on towards a real
OTLP/HTTP receiver. Traffic comes from the official client; the scraped metrics are parsed with
prometheus-client's own parser and compared with the records in the trail; the spans received
are compared with the trace ids the records carry.
"""

from __future__ import annotations

import secrets
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import PromptReference
from prometheus_client.parser import text_string_to_metric_families

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.trail import open_audit_trail
from mcp_bridge.bridge.app import create_app, health_report
from mcp_bridge.bridge.errors import AUDIT_UNAVAILABLE, POLICY_DENIED
from mcp_bridge.bridge.metrics import BridgeMetrics
from mcp_bridge.bridge.outage import Outage
from mcp_bridge.bridge.policy import parse_access
from mcp_bridge.bridge.pool import UpstreamPool
from mcp_bridge.bridge.recorder import TOOL_CALL_INTENT
from mcp_bridge.bridge.settings import load_bridge_settings
from mcp_bridge.bridge.telemetry import Telemetry
from mcp_bridge.bridge.tracing import Tracing, traces_endpoint
from mcp_bridge.bridge.upstream_config import UpstreamSpec
from mcp_bridge.config import ConfigError, load_config

from ..audit.checkpoint_helpers import SIGNER, signing_config
from ..audit.checkpoint_helpers import wait_for as wait_for_condition
from ..witness.support import WitnessProcess
from .conftest import API_KEY, bridge_settings, sample_spec
from .harness import (
    FaultyStore,
    connect,
    events,
    faulty_trail,
    recording,
    serve_in_thread,
    wait_until_recovered,
)
from .otlp import Receiver, Span, otlp_receiver
from .sample_servers import extras_server, notes_server

LIBRARY_ACCESS = {"tools": {"slow_shelve": {"deny": [{"roles": ["writer"]}]}}}
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SECRET = "s3cr3t-argument-value"
WITNESSED_ORIGIN = "audit.test/observed"


@dataclass
class Observed:
    url: str
    trail: AuditTrail
    store: FaultyStore
    telemetry: Telemetry
    receiver: Receiver
    upstream_bodies: list[dict[str, Any]]
    upstream_traceparents: list[str]

    def flush(self) -> None:
        assert self.telemetry.tracing is not None
        self.telemetry.tracing.provider.force_flush()


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    tmp = tmp_path_factory.mktemp("observed")
    bodies: list[dict[str, Any]] = []
    traceparents: list[str] = []
    problems: list[str] = []
    library = sample_spec("library")
    access = parse_access("mcpServers.library.access", LIBRARY_ACCESS, problems)
    assert problems == []
    with (
        otlp_receiver() as receiver,
        serve_in_thread(
            _headers_kept(recording(notes_server().streamable_http_app(), bodies), traceparents)
        ) as notes,
        serve_in_thread(recording(extras_server().streamable_http_app(), bodies)) as extras,
    ):
        upstreams = [
            UpstreamSpec(name="library", command=library.command, args=library.args, access=access),
            UpstreamSpec(name="notes", url=f"{notes}/mcp"),
            UpstreamSpec(name="extras", url=f"{extras}/mcp", protocol="session"),
        ]
        trail, store = faulty_trail(tmp / "audit")
        settings = bridge_settings(tmp, otel_exporter_otlp_endpoint=receiver.url)
        app = create_app(settings, trail, upstreams)
        with serve_in_thread(app) as url:
            yield Observed(url, trail, store, app.state.telemetry, receiver, bodies, traceparents)
        trail.close()


def _headers_kept(app: Any, traceparents: list[str]) -> Any:
    """Keep the ``traceparent`` header of every request ``app`` receives."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if b"traceparent" in headers:
                traceparents.append(headers[b"traceparent"].decode())
        await app(scope, receive, send)

    return wrapped


def scrape(url: str) -> dict[str, list[Any]]:
    """``/metrics`` parsed by prometheus-client: samples by sample name."""
    response = httpx.get(f"{url}/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Any]], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        s.value
        for s in samples.get(name, [])
        if all(s.labels.get(k) == v for k, v in labels.items())
    )


def _outcome(payload: dict[str, Any]) -> str:
    outcome = str(payload["decision"]["outcome"])
    return "error" if outcome == "allowed" and payload.get("isError") else outcome


def _tool(payload: dict[str, Any]) -> str:
    """The ``tool`` label the record implies: the upstream's name, or ``unlisted``."""
    if payload["method"] != "tools/call" or not payload.get("upstream"):
        return ""
    target = payload["target"]
    return "unlisted" if target["name"].endswith("no_such_tool") else target["upstreamName"]


def _reason(payload: dict[str, Any]) -> str:
    """The ``reason`` label the record implies."""
    decision = payload["decision"]
    if decision["outcome"] == "refused":  # this traffic's two kinds: a rule, or the trail down
        return "policy_denied" if "rule" in decision else "audit_unavailable"
    if payload.get("errorCode") is not None:
        return str(payload["errorCode"])
    return "tool_error" if payload.get("isError") else ""


def _operation_records(trail: AuditTrail) -> list[dict[str, Any]]:
    """Outcome records of MCP operations (not intents, transport refusals or relayed ones)."""
    found = []
    for record in events(trail):
        payload, event_type = record["payload"], record["eventType"]
        if not event_type.startswith("mcp.") or event_type == TOOL_CALL_INTENT:
            continue
        if event_type.startswith("mcp.upstream.") or "method" not in payload:
            continue
        if (payload.get("decision") or {}).get("outcome") in {"allowed", "refused", "cancelled"}:
            found.append(payload)
    return found


@pytest.mark.anyio
async def test_metrics_count_what_the_trail_records(observed: Observed) -> None:
    async with connect(observed.url, AUTH, mode="legacy") as client:
        await client.list_tools()
        assert not (await client.call_tool("library__shelve", {"title": "Dune"})).is_error
        assert not (await client.call_tool("library__stall", {"seconds": 0})).is_error
        await client.get_prompt("library__review", {"book": "Dune"})
        await client.read_resource("mcp-bridge://library/library://catalog")
        with pytest.raises(MCPError) as denied:
            await client.call_tool("library__slow_shelve", {"title": "X", "seconds": 0})
        assert denied.value.code == POLICY_DENIED
        failed = await client.call_tool("library__no_such_tool", {})
        assert failed.is_error
    observed.store.failing_types = frozenset({TOOL_CALL_INTENT})
    try:
        async with connect(observed.url, AUTH, mode="legacy") as client:
            with pytest.raises(MCPError) as unavailable:
                await client.call_tool("library__shelve", {"title": "Refused"})
    finally:
        observed.store.failing_types = frozenset()
        wait_until_recovered(observed.url)
    assert unavailable.value.code == AUDIT_UNAVAILABLE

    records = _operation_records(observed.trail)
    samples = scrape(observed.url)
    expected = Counter((p["method"], _outcome(p)) for p in records)
    counted = Counter[tuple[str, str]]()
    for sample in samples["mcp_bridge_requests_total"]:
        counted[(sample.labels["method"], sample.labels["outcome"])] += int(sample.value)
    assert counted == expected
    by_target = Counter(
        (p["method"], p.get("upstream") or "", _tool(p), _outcome(p), _reason(p)) for p in records
    )
    labelled = Counter[tuple[str, ...]]()
    for sample in samples["mcp_bridge_requests_total"]:
        labels = sample.labels
        key = tuple(labels[k] for k in ("method", "upstream", "tool", "outcome", "reason"))
        labelled[key] += int(sample.value)
    assert labelled == by_target

    requests = "mcp_bridge_requests_total"
    assert value(samples, requests, outcome="refused", reason="policy_denied") == 1
    assert value(samples, requests, outcome="refused", reason="audit_unavailable") == 1
    assert value(samples, requests, tool="unlisted", outcome="error", reason="tool_error") == 1
    assert value(samples, requests, method="tools/call", tool="shelve", outcome="allowed") >= 1
    assert value(samples, requests, method="prompts/get", upstream="library") >= 1
    calls = sum(n for (method, _), n in expected.items() if method == "tools/call")
    assert value(samples, "mcp_bridge_request_duration_seconds_count", method="tools/call") == calls
    upstream = value(samples, "mcp_bridge_upstream_duration_seconds_count", upstream="library")
    assert upstream >= 5  # shelve, stall, the unlisted tool, the prompt, the resource
    intents = len(events(observed.trail, TOOL_CALL_INTENT))
    assert value(samples, "mcp_bridge_audit_append_duration_seconds_count", durable="true") >= (
        intents
    )
    assert value(samples, "mcp_bridge_audit_batch_records_count") > 0
    assert value(samples, "mcp_bridge_audit_batch_failures_total") >= 1


def test_state_metrics_show_the_trail_and_the_upstreams(observed: Observed) -> None:
    events(observed.trail)  # a durable record, so the last durable seq is known
    samples = scrape(observed.url)
    assert value(samples, "mcp_bridge_audit_enabled") == 1
    assert value(samples, "mcp_bridge_audit_healthy") == 1
    last = observed.trail.last_durable_seq
    assert last is not None
    assert value(samples, "mcp_bridge_audit_last_durable_seq") >= last
    assert "mcp_bridge_audit_queue_records" in samples
    assert value(samples, "mcp_bridge_audit_outage_held_records") == 0
    assert "mcp_bridge_audit_spool_records" not in samples  # a local store has no spool
    assert value(samples, "mcp_bridge_upstream_ready", upstream="library") == 1
    assert value(samples, "mcp_bridge_upstream_ready", upstream="notes") == 1
    assert value(samples, "mcp_bridge_upstream_restarts_total", upstream="library") == 0
    assert "mcp_bridge_checkpoint_age_seconds" not in samples  # no AUDIT_SIGNING_KEY here


def test_metrics_need_the_same_credentials_as_mcp(observed: Observed) -> None:
    anonymous = httpx.get(f"{observed.url}/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.get(f"{observed.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    denied = [e["payload"] for e in events(observed.trail, "auth.denied")]
    paths = [p for p in denied if p["path"] == "/metrics"]
    assert [p["reason"] for p in paths[-2:]] == ["missing bearer token", "unknown API key"]
    rejected = scrape(observed.url)
    event = "auth.denied"
    assert value(rejected, "mcp_bridge_http_rejected_total", event=event) == len(denied)
    assert value(rejected, "mcp_bridge_http_rejected_total", reason="unauthorized") == len(denied)


def _trace_of(observed: Observed, tool: str, client: str) -> dict[str, Any]:
    calls = [e["payload"] for e in events(observed.trail, "mcp.tools.call")]
    mine = [p for p in calls if p["target"]["name"] == tool and p["client"]["name"] == client]
    assert len(mine) == 1
    return mine[0]


def _children(spans: list[Span], parent: Span) -> list[Span]:
    return [s for s in spans if s.parent_span_id == parent.span_id]


@pytest.mark.anyio
async def test_a_client_trace_is_continued_and_linked_to_the_audit_record(
    observed: Observed,
) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    meta = {"traceparent": f"00-{trace_id}-{parent_id}-01", "tracestate": "team=audit"}
    async with connect(observed.url, AUTH, mode="legacy", name="traced") as client:
        done = await client.call_tool("library__shelve", {"title": SECRET}, meta=meta)
        assert not done.is_error

    record = _trace_of(observed, "library__shelve", "traced")
    assert record["traceId"] == trace_id
    assert record["callerSpanId"] == parent_id
    spans = observed.receiver.wait_for(
        lambda got: len([s for s in got if s.trace_id == trace_id]) >= 4, observed.flush
    )
    mine = [s for s in spans if s.trace_id == trace_id]
    server = next(s for s in mine if s.kind == "SERVER")
    assert server.name == "tools/call library__shelve"
    assert server.parent_span_id == parent_id
    assert server.span_id == record["spanId"]
    assert server.attributes["mcp.method.name"] == "tools/call"
    assert server.attributes["gen_ai.tool.name"] == "library__shelve"
    assert server.attributes["gen_ai.operation.name"] == "execute_tool"
    assert server.attributes["jsonrpc.request.id"] == str(record["requestId"])
    assert server.attributes["mcp.session.id"] == record["sessionId"]
    assert server.attributes["mcp.protocol.version"] == record["protocolVersion"]
    assert server.attributes["network.transport"] == "tcp"
    assert server.attributes["mcp_bridge.correlation_id"] == record["correlationId"]
    assert server.attributes["mcp_bridge.outcome"] == "allowed"
    assert "error.type" not in server.attributes
    assert server.resource["service.name"] == "mcp-bridge"

    children = _children(mine, server)
    upstream = next(s for s in children if s.kind == "CLIENT")
    assert upstream.name == "tools/call shelve"
    assert upstream.attributes["mcp_bridge.upstream"] == "library"
    assert upstream.attributes["network.transport"] == "pipe"
    appends = [s for s in children if s.name == "audit append"]
    kinds = {s.attributes["mcp_bridge.audit.event_type"] for s in appends}
    assert {"mcp.tools.call.intent", "mcp.tools.call"} <= kinds
    intent = next(
        s for s in appends if s.attributes["mcp_bridge.audit.event_type"] == TOOL_CALL_INTENT
    )
    intents = [e for e in events(observed.trail, TOOL_CALL_INTENT)]
    by_seq = {e["seq"]: e for e in intents}
    assert by_seq[intent.attributes["mcp_bridge.audit.seq"]]["payload"]["traceId"] == trace_id
    for span in mine:
        assert SECRET not in repr(span.attributes)


@pytest.mark.anyio
async def test_the_http_traceparent_header_is_the_parent_without_meta(observed: Observed) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    headers = {**AUTH, "traceparent": f"00-{trace_id}-{parent_id}-01"}
    async with connect(observed.url, headers, mode="legacy", name="header-traced") as client:
        assert not (await client.call_tool("library__stall", {"seconds": 0})).is_error
    record = _trace_of(observed, "library__stall", "header-traced")
    assert record["traceId"] == trace_id
    assert record["callerSpanId"] == parent_id
    spans = observed.receiver.wait_for(
        lambda got: any(s.span_id == record["spanId"] for s in got), observed.flush
    )
    server = next(s for s in spans if s.span_id == record["spanId"])
    assert server.parent_span_id == parent_id
    assert server.name == "tools/call library__stall"


@pytest.mark.anyio
async def test_the_trace_goes_on_to_an_http_upstream_in_meta(observed: Observed) -> None:
    async with connect(observed.url, AUTH, mode="legacy", name="to-notes") as client:
        assert not (await client.call_tool("notes__echo", {"text": SECRET})).is_error
    record = _trace_of(observed, "notes__echo", "to-notes")
    spans = observed.receiver.wait_for(
        lambda got: any(s.parent_span_id == record["spanId"] for s in got), observed.flush
    )
    upstream = next(s for s in spans if s.parent_span_id == record["spanId"] and s.kind == "CLIENT")
    assert upstream.name == "tools/call echo"
    assert upstream.attributes["network.transport"] == "tcp"
    sent = {
        b["params"]["_meta"]["traceparent"]
        for b in observed.upstream_bodies
        if b.get("method") == "tools/call" and b["params"]["arguments"].get("text") == SECRET
    }
    assert len(sent) == 1
    traceparent = sent.pop()
    assert traceparent.startswith(f"00-{record['traceId']}-{upstream.span_id}-")
    assert traceparent in observed.upstream_traceparents  # the same context as an HTTP header


@pytest.mark.anyio
async def test_refusals_and_errors_are_error_spans(observed: Observed) -> None:
    async with connect(observed.url, AUTH, mode="legacy", name="failing") as client:
        with pytest.raises(MCPError):
            await client.call_tool("library__slow_shelve", {"title": "X", "seconds": 0})
        assert (await client.call_tool("library__no_such_tool", {})).is_error
    refused = _trace_of(observed, "library__slow_shelve", "failing")
    failed = _trace_of(observed, "library__no_such_tool", "failing")
    wanted = {refused["spanId"], failed["spanId"]}
    spans = observed.receiver.wait_for(
        lambda got: wanted <= {s.span_id for s in got}, observed.flush
    )
    by_id = {s.span_id: s for s in spans}
    denied, errored = by_id[refused["spanId"]], by_id[failed["spanId"]]
    assert denied.attributes["error.type"] == "policy_denied"
    assert denied.attributes["mcp_bridge.outcome"] == "refused"
    assert denied.status_code == 2  # STATUS_CODE_ERROR
    assert "access policy" in denied.status_message
    assert errored.attributes["error.type"] == "tool_error"
    assert errored.status_code == 2


@pytest.mark.anyio
async def test_prompt_and_resource_spans_name_their_target(observed: Observed) -> None:
    trace_id = secrets.token_hex(16)
    meta = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    async with connect(observed.url, AUTH, mode="legacy") as client:
        await client.get_prompt("library__review", {"book": SECRET}, meta=meta)
        await client.read_resource("mcp-bridge://library/library://catalog", meta=meta)
    spans = observed.receiver.wait_for(
        lambda got: len([s for s in got if s.trace_id == trace_id and s.kind != "INTERNAL"]) >= 4,
        observed.flush,
    )
    mine = {(s.kind, s.name): s for s in spans if s.trace_id == trace_id}
    prompt = mine[("SERVER", "prompts/get library__review")]
    assert prompt.attributes["gen_ai.prompt.name"] == "library__review"
    assert "gen_ai.operation.name" not in prompt.attributes
    assert mine[("CLIENT", "prompts/get review")].parent_span_id == prompt.span_id
    read = mine[("SERVER", "resources/read")]
    assert read.attributes["mcp.resource.uri"] == "mcp-bridge://library/library://catalog"
    upstream = mine[("CLIENT", "resources/read")]
    assert upstream.attributes["mcp.resource.uri"] == "library://catalog"
    assert upstream.parent_span_id == read.span_id
    assert all(SECRET not in repr(s.attributes) for s in mine.values())


FORWARDED = (
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "completion/complete",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
)
"""Requests the bridge sends upstream besides calls, prompts and reads."""


@pytest.mark.anyio
async def test_every_request_sent_upstream_is_traced_and_timed(observed: Observed) -> None:
    trace_id = secrets.token_hex(16)
    headers = {**AUTH, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    before = scrape(observed.url)
    note = "mcp-bridge://extras/extras://note"
    async with connect(observed.url, headers, mode="legacy", name="lister") as client:
        await client.list_tools()
        await client.list_prompts()
        await client.list_resources()
        await client.list_resource_templates()
        prompt = PromptReference(type="ref/prompt", name="extras__greet")
        done = await client.complete(prompt, {"name": "name", "value": "A"})
        assert done.completion.values == ["Alice"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.set_logging_level("info")
            await client.subscribe_resource(note)
            await client.unsubscribe_resource(note)

    def upstream_spans(got: list[Span]) -> dict[str, Span]:
        return {
            s.attributes["mcp.method.name"]: s
            for s in got
            if s.trace_id == trace_id
            and s.kind == "CLIENT"
            and s.attributes["mcp_bridge.upstream"] == "extras"
        }

    spans = observed.receiver.wait_for(
        lambda got: set(FORWARDED) <= set(upstream_spans(got)), observed.flush
    )
    servers = {s.span_id: s for s in spans if s.trace_id == trace_id and s.kind == "SERVER"}
    sent = {
        b["method"]: b["params"]["_meta"]["traceparent"]
        for b in observed.upstream_bodies
        if b.get("method") in FORWARDED and "traceparent" in b["params"].get("_meta", {})
    }
    after = scrape(observed.url)
    duration = "mcp_bridge_upstream_duration_seconds_count"
    for method, span in upstream_spans(spans).items():
        if method not in FORWARDED:
            continue
        assert span.name == method
        assert span.attributes["network.transport"] == "tcp"
        assert servers[span.parent_span_id].attributes["mcp.method.name"] == method
        assert sent[method] == f"00-{trace_id}-{span.span_id}-01"
        timed = value(after, duration, upstream="extras", method=method)
        assert timed > value(before, duration, upstream="extras", method=method), method
    assert upstream_spans(spans)["resources/subscribe"].attributes["mcp.resource.uri"] == (
        "extras://note"
    )


@pytest.mark.anyio
async def test_without_tracing_the_record_keeps_the_callers_trace(tmp_path: Path) -> None:
    in_meta, in_header = secrets.token_hex(16), secrets.token_hex(16)
    meta_parent, header_parent = secrets.token_hex(8), secrets.token_hex(8)
    settings = bridge_settings(tmp_path, otel_sdk_disabled=True, bridge_metrics=False)
    with serve_in_thread(notes_server().streamable_http_app()) as notes:
        trail = open_audit_trail(load_config(audit_storage_path=tmp_path / "audit"))
        app = create_app(settings, trail, [UpstreamSpec(name="notes", url=f"{notes}/mcp")])
        assert app.state.telemetry.tracing is None
        headers = {**AUTH, "traceparent": f"00-{in_header}-{header_parent}-01"}
        with serve_in_thread(app) as url:
            async with connect(url, headers, mode="legacy", name="untraced") as client:
                meta = {"traceparent": f"00-{in_meta}-{meta_parent}-01"}
                await client.call_tool("notes__echo", {"text": "meta"}, meta=meta)
                await client.call_tool("notes__echo", {"text": "header"})
                malformed = {"traceparent": f"00-{in_meta.upper()}-{meta_parent}-01"}
                await client.call_tool("notes__echo", {"text": "bad"}, meta=malformed)
            async with connect(url, AUTH, mode="legacy", name="no-context") as client:
                await client.call_tool("notes__echo", {"text": "none"})
        calls = [e["payload"] for e in events(trail, "mcp.tools.call")]
        trail.close()
    by_client = [(p["client"]["name"], p.get("traceId"), p.get("callerSpanId")) for p in calls]
    assert by_client == [
        ("untraced", in_meta, meta_parent),  # _meta wins over the header
        ("untraced", in_header, header_parent),
        ("untraced", in_header, header_parent),  # a malformed _meta is ignored
        ("no-context", None, None),
    ]
    assert all("spanId" not in p for p in calls)  # no span of the bridge's own


def _settings(tmp_path: Path, **values: str) -> Any:
    return bridge_settings(tmp_path, **values)


def test_tracing_is_off_unless_the_otel_variables_ask(tmp_path: Path) -> None:
    assert traces_endpoint(_settings(tmp_path)) is None
    assert traces_endpoint(_settings(tmp_path, otel_traces_exporter="otlp")) == (
        "http://localhost:4318/v1/traces"
    )
    base = _settings(tmp_path, otel_exporter_otlp_endpoint="http://collector:4318/")
    assert traces_endpoint(base) == "http://collector:4318/v1/traces"
    exact = _settings(tmp_path, otel_exporter_otlp_traces_endpoint="http://c:4318/x")
    assert traces_endpoint(exact) == "http://c:4318/x"
    off = _settings(
        tmp_path, otel_exporter_otlp_endpoint="http://c:4318", otel_traces_exporter="none"
    )
    assert traces_endpoint(off) is None
    disabled = _settings(
        tmp_path, otel_exporter_otlp_endpoint="http://c:4318", otel_sdk_disabled="true"
    )
    assert traces_endpoint(disabled) is None
    assert Telemetry.from_settings(_settings(tmp_path, bridge_metrics="false")).metrics is None


def test_otel_service_name_names_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, otel_traces_exporter="otlp")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    for given, expected in ((None, "mcp-bridge"), ("gateway-eu", "gateway-eu")):
        if given is not None:
            monkeypatch.setenv("OTEL_SERVICE_NAME", given)
        tracing = Tracing.from_settings(settings)
        assert tracing is not None
        assert tracing.provider.resource.attributes["service.name"] == expected
        tracing.close()


@pytest.mark.parametrize(
    ("variable", "given", "allowed"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin", "otlp, none"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "http/protobuf"),
        ("BRIDGE_METRICS", "maybe", "true or false"),
    ],
)
def test_unusable_telemetry_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, given: str, allowed: str
) -> None:
    monkeypatch.setenv(variable, given)
    with pytest.raises(ConfigError) as error:
        load_bridge_settings(_env_file=None)
    text = error.value.render()
    assert f"{variable}={given} is invalid" in text
    assert f"(allowed: {allowed})" in text


def test_checkpoint_and_witness_metrics_follow_the_writer(tmp_path: Path) -> None:
    """Issue 12: ``/health`` and the metrics say how far behind each witness is (one up, one
    down)."""
    log = (WITNESSED_ORIGIN, SIGNER.verifier.to_text())
    up, down = (WitnessProcess(tmp_path / n, f"{n}.test", [log]) for n in ("up", "down"))
    up.start()
    try:
        config = signing_config(
            tmp_path,
            WITNESSED_ORIGIN,
            audit_witnesses=f"{up.url} {up.vkey}, {down.url} {down.vkey}",
        )
        trail = open_audit_trail(config)
        try:
            for number in range(5):
                trail.record_event("test.event", {"n": number})
            pool = UpstreamPool([], timeout=1, on_lifecycle=_ignore_lifecycle)
            metrics = BridgeMetrics()
            metrics.watch(trail, pool, Outage())

            def sample(name: str, url: str) -> float | None:
                text = metrics.exposition().decode()
                for family in text_string_to_metric_families(text):
                    for found in family.samples:
                        if found.name == name and found.labels.get("url") == url:
                            return float(found.value)
                return None

            behind = "mcp_bridge_witness_behind_entries"
            cosigned = "mcp_bridge_witness_cosigned_size"
            wait_for_condition(lambda: (sample(cosigned, up.url) or 0) >= 5)
            wait_for_condition(lambda: sample(behind, up.url) == 0)
            wait_for_condition(
                lambda: (sample("mcp_bridge_witness_failures_total", down.url) or 0) > 0
            )
            samples = {
                s.name: s.value
                for f in text_string_to_metric_families(metrics.exposition().decode())
                for s in f.samples
            }
            assert samples["mcp_bridge_checkpoints_published_total"] >= 1
            assert samples["mcp_bridge_checkpoint_age_seconds"] >= 0
            newest = sample(cosigned, up.url)
            assert newest is not None
            assert (sample(behind, down.url) or 0) >= newest
            assert sample(cosigned, down.url) is None
            lags = health_report(trail, pool)["audit"]["attestations"]["witnesses"]
            by_url = {lag["url"]: lag for lag in lags}
            assert up.vkey.startswith(by_url[up.url]["witness"] + "+")
            assert by_url[up.url]["cosignedSize"] >= newest
            assert by_url[down.url]["cosignedSize"] is None
            assert by_url[down.url]["behind"] >= newest
            assert by_url[down.url]["failures"] > 0 and by_url[down.url]["lastError"]
        finally:
            trail.close()
    finally:
        up.stop()


async def _ignore_lifecycle(event_type: str, payload: dict[str, Any]) -> None:
    return None
