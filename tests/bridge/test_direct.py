"""The direct path for tool calls (``direct.py``) answers and records exactly as the SDK path.

Two bridges over the same upstreams, one with the direct path and one without
(``BRIDGE_DIRECT_CALLS=false``), are sent the same raw HTTP requests with the same correlation
id; their answers (status, JSON-RPC body, headers) and their audit records for the request must
be equal, and the direct bridge's counter says which requests it answered itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest

from mcp_bridge.audit import AuditTrail
from mcp_bridge.bridge.app import create_app
from mcp_bridge.bridge.errors import AUDIT_UNAVAILABLE, POLICY_DENIED, UNKNOWN_TARGET
from mcp_bridge.bridge.policy import parse_access
from mcp_bridge.bridge.transport import SelectiveTransport

from .conftest import API_KEY, AUDIENCE, DEV_SECRET, ISSUER, bridge_settings, sample_spec
from .harness import (
    FaultyStore,
    events,
    faulty_trail,
    initialize_request,
    serve_in_thread,
    wait_until_recovered,
)

pytestmark = pytest.mark.anyio

ACCESS = {"tools": {"muse": {"allow": [{"roles": ["nobody"]}]}}}
"""``library__muse`` is refused to the tests' key (role ``writer``) by an access rule."""

VOLATILE = frozenset({"sessionId", "durationMs", "observedAt"})
"""Record fields that differ between two bridges for the same request."""

REQUEST_CANCELLED = -32800
INVALID_PARAMS = -32602


@dataclass
class Twin:
    name: str
    url: str
    app: Any
    trail: AuditTrail
    store: FaultyStore

    @property
    def served(self) -> int:
        return int(self.app.state.direct.served)


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Twin]]:
    """The direct bridge first, then the SDK-only one."""
    with contextlib.ExitStack() as stack:
        made = []
        for name, direct in (("direct", True), ("sdk", False)):
            tmp = tmp_path_factory.mktemp(name)
            trail, store = faulty_trail(tmp / "audit")
            stack.callback(trail.close)
            problems: list[str] = []
            access = parse_access("mcpServers.library.access", ACCESS, problems)
            assert problems == []
            library = dataclasses.replace(sample_spec("library"), access=access)
            settings = bridge_settings(tmp, bridge_direct_calls=direct)
            app = create_app(settings, trail, [library, sample_spec("crashy")])
            url = stack.enter_context(serve_in_thread(app))
            made.append(Twin(name, url, app, trail, store))
        yield made


class Session:
    """One raw session-protocol session (initialize, initialized) on a bridge."""

    def __init__(self, http: httpx.AsyncClient, twin: Twin) -> None:
        self.http = http
        self.twin = twin
        self.headers = {
            "Authorization": f"Bearer {API_KEY}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        self.id = ""

    async def open(self) -> Session:
        answer = await self.post(initialize_request("direct-test"))
        self.id = answer.headers["mcp-session-id"]
        self.headers["Mcp-Session-Id"] = self.id
        self.headers["Mcp-Protocol-Version"] = answer.json()["result"]["protocolVersion"]
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await self.post(initialized)).status_code == 202
        return self

    async def post(
        self, body: dict[str, Any], headers: dict[str, str | None] | None = None
    ) -> httpx.Response:
        sent = {**self.headers, **(headers or {})}
        present = {k: v for k, v in sent.items() if v is not None}
        return await self.http.post(f"{self.twin.url}/mcp", json=body, headers=present)


@pytest.fixture
async def sessions(twins: list[Twin]) -> Any:
    async with httpx.AsyncClient(timeout=60) as http:
        yield [await Session(http, twin).open() for twin in twins]


def _call(request_id: int, name: str, arguments: Any = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def _records(twin: Twin, case: str) -> list[tuple[str, dict[str, Any]]]:
    found = [
        (e["eventType"], {k: v for k, v in e["payload"].items() if k not in VOLATILE})
        for e in events(twin.trail)
        if e["payload"].get("correlationId") == case
    ]
    return _same_store(twin, sorted(found, key=repr))


def _same_store(twin: Twin, value: Any) -> Any:
    """``value`` with the bridge's own audit directory (named in trail errors) left out."""
    text = json.dumps(value).replace(str(twin.store.root), "<audit>")
    return json.loads(text)


def _shape(answer: httpx.Response, session: Session, case: str) -> tuple[int, Any, str | None]:
    """What must be equal on both paths; the echoed ids are checked here."""
    assert answer.headers["x-request-id"] == case
    if "mcp-session-id" in answer.headers and session.id in answer.request.headers.values():
        assert answer.headers["mcp-session-id"] == session.id
    is_json = answer.headers.get("content-type") == "application/json"
    shape = (
        answer.status_code,
        answer.json() if is_json else answer.text,
        answer.headers.get("content-type"),
    )
    return tuple(_same_store(session.twin, list(shape)))  # type: ignore[return-value]


async def _same_on_both(
    sessions: list[Session],
    body: dict[str, Any],
    case: str,
    *,
    direct: bool,
    headers: dict[str, str | None] | None = None,
    records: int = 1,
) -> tuple[int, Any]:
    """Send ``body`` to both bridges; equal answers and records; ``direct``: whether the
    direct bridge answered it itself. Returns the status and the JSON body."""
    shapes, before = [], sessions[0].twin.served
    for session in sessions:
        answer = await session.post(body, {"X-Request-ID": case, **(headers or {})})
        shapes.append(_shape(answer, session, case))
    assert shapes[0] == shapes[1]
    assert sessions[0].twin.served == before + (1 if direct else 0)
    assert sessions[1].twin.served == 0
    direct_records, sdk_records = await _settled_records(sessions, case, records)
    assert direct_records == sdk_records
    return shapes[0][0], shapes[0][1]


async def _settled_records(
    sessions: list[Session], case: str, count: int
) -> list[list[tuple[str, dict[str, Any]]]]:
    """Each bridge's records of ``case`` once ``count`` of them are stored."""
    with anyio.fail_after(20):
        while True:
            found = [_records(s.twin, case) for s in sessions]
            if all(len(records) >= count for records in found):
                return found
            await anyio.sleep(0.05)


async def _while_running(
    session: Session,
    call: dict[str, Any],
    case: str,
    marker: Path,
    then: Callable[[], Awaitable[None]],
) -> httpx.Response:
    """Send ``call`` (a ``library__wait`` with ``marker``), run ``then`` once the upstream
    works on it, and return the call's answer."""
    answers: list[httpx.Response] = []

    async def send() -> None:
        answers.append(await session.post(call, {"X-Request-ID": case}))

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        with anyio.fail_after(20):
            while not Path(f"{marker}.started").exists():
                await anyio.sleep(0.02)
        await then()
    return answers[0]


async def test_successful_calls_read_only_and_mutating(sessions: list[Session]) -> None:
    status, body = await _same_on_both(
        sessions, _call(11, "library__shelve", {"title": "Dune"}), "ok-mutating", direct=True
    )
    assert status == 200 and body["result"]["content"][0]["text"].endswith("books")
    kinds = [kind for kind, _ in _records(sessions[0].twin, "ok-mutating")]
    assert kinds == ["mcp.tools.call", "mcp.tools.call.intent"]
    status, body = await _same_on_both(
        sessions, _call("r-12", "library__stall", {"seconds": 0}), "ok-read-only", direct=True
    )
    assert body["id"] == "r-12" and body["result"]["content"][0]["text"] == "stalled"
    for session in sessions:  # each path records the session the call came on
        recorded = {
            e["payload"]["sessionId"]
            for e in events(session.twin.trail)
            if e["payload"].get("correlationId") in ("ok-mutating", "ok-read-only")
        }
        assert recorded == {session.id}


async def test_tool_error_result(sessions: list[Session]) -> None:
    status, body = await _same_on_both(
        sessions, _call(21, "library__stall", {"seconds": "soon"}), "tool-error", direct=True
    )
    assert status == 200 and body["result"]["isError"] is True


async def test_unknown_tool(sessions: list[Session]) -> None:
    """Of an unknown upstream: the bridge's error; of a known one: the upstream's answer."""
    call = _call(31, "nowhere__nope", {})
    _, body = await _same_on_both(sessions, call, "unknown-upstream", direct=True)
    assert body["error"]["code"] == UNKNOWN_TARGET
    _, body = await _same_on_both(sessions, _call(32, "library__nope", {}), "unknown", direct=True)
    assert body["result"]["isError"] is True


@pytest.mark.parametrize(
    "params",
    [{"name": "library__shelve", "arguments": "not an object"}, {"arguments": {}}, {"name": 7}],
)
async def test_bad_params(sessions: list[Session], params: dict[str, Any]) -> None:
    body = {"jsonrpc": "2.0", "id": 41, "method": "tools/call", "params": params}
    case = "bad-params-" + "-".join(f"{k}.{type(v).__name__}" for k, v in params.items())
    _, answer = await _same_on_both(sessions, body, case, direct=True)
    assert answer["error"] == {
        "code": INVALID_PARAMS,
        "message": "Invalid request parameters",
        "data": "",
    }


async def test_refused_by_policy(sessions: list[Session]) -> None:
    call = _call(51, "library__muse", {"topic": "sea"})
    _, body = await _same_on_both(sessions, call, "policy", direct=True)
    assert body["error"]["code"] == POLICY_DENIED
    decision = _records(sessions[0].twin, "policy")[0][1]["decision"]
    assert decision["outcome"] == "refused"


async def test_trail_down_refuses_a_mutating_call(sessions: list[Session]) -> None:
    for session in sessions:
        session.twin.store.broken = True
    try:
        answers = []
        for session in sessions:
            call = _call(61, "library__shelve", {"title": "Unwritten"})
            answer = await session.post(call, {"X-Request-ID": "trail-down"})
            answers.append(_shape(answer, session, "trail-down"))
    finally:
        for session in sessions:
            session.twin.store.broken = False
    for session in sessions:
        wait_until_recovered(session.twin.url)
    assert answers[0] == answers[1]
    assert answers[0][1]["error"]["code"] == AUDIT_UNAVAILABLE
    settled = await _settled_records(sessions, "trail-down", 1)
    # Whether the refusal's own record waited for the trail ("delayed") depends on when its
    # background write ran against the moment the test mended the store: not on the path.
    direct_records, sdk_records = (
        [(kind, {k: v for k, v in payload.items() if k != "delayed"}) for kind, payload in found]
        for found in settled
    )
    assert direct_records == sdk_records
    assert [kind for kind, _ in direct_records] == ["mcp.tools.call"]
    assert direct_records[0][1]["decision"]["outcome"] == "refused"


async def test_cancelled_call(sessions: list[Session], tmp_path: Path) -> None:
    before = sessions[0].twin.served
    answers = []
    marker = tmp_path / "wait"
    for session in sessions:
        marker.unlink(missing_ok=True)
        Path(f"{marker}.started").unlink(missing_ok=True)
        arguments = {"seconds": 30, "marker": str(marker)}
        call = _call(71, "library__wait", arguments)
        cancel = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": 71, "reason": "test"},
        }

        async def then(session: Session = session, cancel: dict[str, Any] = cancel) -> None:
            assert (await session.post(cancel, {"X-Request-ID": "cancel-note"})).status_code == 202

        answer = await _while_running(session, call, "cancel", marker, then)
        answers.append(_shape(answer, session, "cancel"))
        with anyio.fail_after(20):
            while not marker.exists():  # the cancellation reached the upstream
                await anyio.sleep(0.02)
    assert answers[0] == answers[1]
    assert answers[0][1]["error"]["code"] == REQUEST_CANCELLED
    assert sessions[0].twin.served == before + 1
    records = await _settled_records(sessions, "cancel", 1)
    assert records[0] == records[1]
    (kind, payload), *_ = records[0]
    assert kind == "mcp.tools.call" and payload["decision"]["outcome"] == "cancelled"
    notes = await _settled_records(sessions, "cancel-note", 1)
    assert notes[0] == notes[1]


def _dev_token() -> str:
    """Another principal's credential (a development token for ``dev-user``)."""
    claims = {"sub": "dev-user", "exp": int(time.time()) + 600, "aud": AUDIENCE, "iss": ISSUER}
    return jwt.encode(claims, DEV_SECRET, algorithm="HS256")


REFUSED_BEFORE_THE_CALL = {
    "no-session": ({"Mcp-Session-Id": None}, "session-id-missing"),
    "wrong-session": ({"Mcp-Session-Id": "0123456789abcdef0123456789abcdef"}, "session-unknown"),
    "bad-version": ({"Mcp-Protocol-Version": "1999-01-01"}, "protocol-version-unsupported"),
    "other-principal": ({"Authorization": "dev"}, "session-owned-by-another-principal"),
    "no-credential": ({"Authorization": None}, "missing bearer token"),
    "bad-origin": ({"Origin": "http://evil.example"}, "origin-not-allowed"),
    "bad-host": ({"Host": "evil.example"}, "host-not-allowed"),
    "text-body": ({"Content-Type": "text/plain"}, "http-400"),
}
"""Requests the SDK path refuses, with the reason each is recorded with."""


@pytest.mark.parametrize("case", sorted(REFUSED_BEFORE_THE_CALL))
async def test_refusals_before_the_call_take_the_sdk_path(
    sessions: list[Session], case: str
) -> None:
    headers, reason = REFUSED_BEFORE_THE_CALL[case]
    if headers.get("Authorization") == "dev":
        headers = {"Authorization": f"Bearer {_dev_token()}"}
    call = _call(81, "library__stall", {"seconds": 0})
    status, _ = await _same_on_both(sessions, call, case, direct=False, headers=headers)
    assert status >= 400
    payload = _records(sessions[0].twin, case)[0][1]
    assert reason in payload["reason"]


async def test_streamed_calls_take_the_sdk_path(sessions: list[Session]) -> None:
    """A call with a progress token is answered with an SSE stream, by the SDK path."""
    call = _call(91, "library__stall", {"seconds": 0})
    call["params"]["_meta"] = {"progressToken": "p-1"}
    before = sessions[0].twin.served
    for session in sessions:
        answer = await session.post(call, {"X-Request-ID": "streamed"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
    assert sessions[0].twin.served == before
    records = await _settled_records(sessions, "streamed", 1)
    assert records[0] == records[1]


async def test_upstream_crash(sessions: list[Session]) -> None:
    _, body = await _same_on_both(sessions, _call(101, "crashy__crash", {}), "crash", direct=True)
    assert "connection lost" in body["error"]["message"]


async def test_session_deleted_during_a_call(twins: list[Twin], tmp_path: Path) -> None:
    """The client ends its session while a call runs: the same 500 and ``cancelled`` record."""
    answers, before = [], twins[0].served
    marker = tmp_path / "deleted"
    async with httpx.AsyncClient(timeout=60) as http:
        for twin in twins:
            session = await Session(http, twin).open()
            marker.unlink(missing_ok=True)
            Path(f"{marker}.started").unlink(missing_ok=True)
            call = _call(111, "library__wait", {"seconds": 30, "marker": str(marker)})

            async def then(session: Session = session) -> None:
                ended = await http.delete(f"{session.twin.url}/mcp", headers=session.headers)
                assert ended.status_code == 200

            answer = await _while_running(session, call, "deleted", marker, then)
            answers.append(_shape(answer, session, "deleted"))
    assert answers[0] == answers[1]
    assert answers[0][0] == 500 and twins[0].served == before + 1
    records = await _settled_records([Session(http, t) for t in twins], "deleted", 1)
    assert records[0] == records[1]
    assert records[0][0][1]["decision"]["outcome"] == "cancelled"


async def test_a_call_in_flight_holds_the_session_idle_timer() -> None:
    """The bridge counts every request (direct ones never enter the SDK's ``handle_request``):
    the idle deadline stays infinite while any is in flight, even when an SDK-path request
    that ended meanwhile restarted the countdown."""
    transport = SelectiveTransport(mcp_session_id="s", idle_timeout=5)
    timer = transport.idle_scope = anyio.CancelScope()
    transport.idle_seconds = 5
    with transport.in_use():
        assert timer.deadline == math.inf
        with transport.in_use():  # an SDK-path request, whose own countdown restart ...
            timer.deadline = anyio.current_time() + 5
        assert timer.deadline == math.inf  # ... the bridge overrides: a call is still running
    assert anyio.current_time() < timer.deadline <= anyio.current_time() + 5
