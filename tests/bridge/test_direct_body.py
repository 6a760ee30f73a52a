"""The direct path's answer body (``direct.response_body``) is byte-identical to the SDK's model.

The direct path used to build ``JSONRPCResponse(jsonrpc="2.0", id=..., result=...)`` and dump it
with ``model_dump_json(by_alias=True, exclude_unset=True)``; it now dumps the plain dict. For
results shaped as the direct path shapes them (``CallToolResult`` → ``model_dump`` →
``serialize_server_result`` for each handshake-era protocol version), with text, image, audio,
embedded-resource and resource-link content, ``structuredContent``, ``isError`` and ``_meta``
holding nested JSON (non-ASCII and control characters, large and negative integers, floats),
both ways must give the same bytes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import types
from mcp_types import JSONRPCResponse
from mcp_types import methods as spec_methods
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from mcp_bridge.bridge.direct import response_body

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
KEYS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)
OBJECTS = st.dictionaries(KEYS, JSON_VALUES, max_size=5)
URIS = st.sampled_from(["file:///srv/a.txt", "mcp-bridge://git/repo/é", "https://x.test/?q=1"])
BLOBS = st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode())

CONTENT = st.one_of(
    st.builds(lambda text: {"type": "text", "text": text}, TEXT),
    st.builds(lambda data: {"type": "image", "data": data, "mimeType": "image/png"}, BLOBS),
    st.builds(lambda data: {"type": "audio", "data": data, "mimeType": "audio/wav"}, BLOBS),
    st.builds(
        lambda uri, text: {"type": "resource", "resource": {"uri": uri, "text": text}}, URIS, TEXT
    ),
    st.builds(
        lambda uri, blob: {
            "type": "resource",
            "resource": {"uri": uri, "blob": blob, "mimeType": "application/octet-stream"},
        },
        URIS,
        BLOBS,
    ),
    st.builds(
        lambda uri, name, meta: {"type": "resource_link", "uri": uri, "name": name, "_meta": meta},
        URIS,
        TEXT,
        OBJECTS,
    ),
)


@st.composite
def call_results(draw: st.DrawFn) -> dict[str, Any]:
    """A ``tools/call`` result as an upstream sends it (optional members drawn or left out)."""
    result: dict[str, Any] = {"content": draw(st.lists(CONTENT, max_size=4))}
    if draw(st.booleans()):
        result["structuredContent"] = draw(OBJECTS)
    if draw(st.booleans()):
        result["isError"] = draw(st.booleans())
    if draw(st.booleans()):
        result["_meta"] = draw(OBJECTS)
    return result


def sdk_body(request_id: int | str, result: dict[str, Any]) -> bytes:
    """The body as the direct path built it before (and the SDK's JSON-response path does)."""
    message = JSONRPCResponse(jsonrpc="2.0", id=request_id, result=result)
    return message.model_dump_json(by_alias=True, exclude_unset=True).encode()


def shaped(version: str, upstream: dict[str, Any]) -> dict[str, Any]:
    """What the direct path's handler step makes of an upstream's result for ``version``."""
    model = types.CallToolResult.model_validate(upstream)
    dumped = model.model_dump(by_alias=True, mode="json", exclude_none=True)
    return spec_methods.serialize_server_result("tools/call", version, dumped)


REQUEST_IDS = st.one_of(st.integers(min_value=-(2**63), max_value=2**63), TEXT)


@settings(max_examples=150, deadline=None)
@given(
    version=st.sampled_from(HANDSHAKE_PROTOCOL_VERSIONS),
    request_id=REQUEST_IDS,
    upstream=call_results(),
)
def test_body_equals_the_sdk_model_dump(
    version: str, request_id: int | str, upstream: dict[str, Any]
) -> None:
    result = shaped(version, upstream)
    body = response_body(request_id, result)
    assert body == sdk_body(request_id, result)
    assert json.loads(body)["result"] == json.loads(json.dumps(result))


TABLE: list[tuple[str, dict[str, Any]]] = [
    ("empty", {}),
    ("key order kept", {"z": 1, "a": 2, "content": [], "isError": True}),
    ("non-ASCII and controls", {"t": 'é€😀\u2028\x00\x1f\x7f"\\/'}),
    ("large integers", {"n": [2**64 + 1, -(2**70), 0]}),
    ("floats", {"f": [0.1, 1e20, -1e-7, 1.0, -0.0, 123456789.125]}),
    ("nested", {"a": {"b": [{"c": [None, True, False, "", {}]}]}}),
]


@pytest.mark.parametrize(("case", "result"), TABLE, ids=[case for case, _ in TABLE])
@pytest.mark.parametrize("request_id", [0, 7, 2**63, -1, "", "req-é"])
def test_body_table(case: str, result: dict[str, Any], request_id: int | str) -> None:
    assert response_body(request_id, result) == sdk_body(request_id, result)
