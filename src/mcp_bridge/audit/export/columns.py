"""The flattened columns shared by CSV and Parquet (and the JSON-lines rows).

Envelope members are typed columns; the payload fields the bridge writes (see
``mcp_bridge.bridge.middleware`` and ``gate``) are lifted into columns; the whole payload stays
in ``payload_json`` so nothing is lost for events with other shapes. The table in
docs/mcp-bridge/export.md is this list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..records import encode_json
from .rows import ExportRow

#: Column kinds; formats map each to their own type (Parquet: see ``formats/parquet.py``).
INT, STRING, BOOL, DOUBLE, TIMESTAMP, STRINGS = "int64", "string", "bool", "double", "ts", "list"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str
    value: Callable[[ExportRow, Mapping[str, Any]], Any]
    description: str


def _path(*keys: str) -> Callable[[ExportRow, Mapping[str, Any]], Any]:
    """Read ``payload[k1][k2]…``; anything missing or of the wrong shape is ``None``."""

    def get(_row: ExportRow, payload: Mapping[str, Any]) -> Any:
        value: Any = payload
        for key in keys:
            if not isinstance(value, dict):  # decoded JSON: a dict (not the slower ABC check)
                return None
            value = value.get(key)
        return value

    return get


def _tool(_row: ExportRow, payload: Mapping[str, Any]) -> Any:
    target = payload.get("target")
    if isinstance(target, dict) and target.get("kind") == "tool":
        return target.get("name")
    return None


def _env(name: str) -> Callable[[ExportRow, Mapping[str, Any]], Any]:
    return lambda row, _payload: getattr(row, name)


COLUMNS: tuple[Column, ...] = (
    Column("seq", INT, _env("seq"), "the record's position in the chain (from 0)"),
    Column("hash", STRING, _env("hash"), "SHA-256 of the record body (hex)"),
    Column("previous_hash", STRING, _env("previous_hash"), "hash of the record before"),
    Column("timestamp", TIMESTAMP, _env("timestamp"), "when the record was written (UTC, µs)"),
    Column("event_id", STRING, _env("event_id"), "the record's UUID"),
    Column("event_type", STRING, _env("event_type"), "e.g. mcp.tools.call, auth.denied"),
    Column("format_version", INT, _env("version"), "record format version (1)"),
    Column("partition", STRING, _env("partition"), "the day partition, YYYY/MM/DD"),
    Column("segment", STRING, _env("segment"), "the file or S3 object the record came from"),
    Column("line", INT, _env("line"), "line number of the record in that file or object"),
    Column("verified", BOOL, _env("verified"), "the verifier passed this record"),
    Column(
        "checkpoint_tree_size",
        INT,
        _env("checkpoint_tree_size"),
        "smallest stored checkpoint whose tree holds the record (null: none yet)",
    ),
    Column("correlation_id", STRING, _path("correlationId"), "the HTTP request's correlation id"),
    Column("identity_subject", STRING, _path("identity", "subject"), "authenticated caller"),
    Column("identity_roles", STRINGS, _path("identity", "roles"), "the caller's roles"),
    Column("identity_token_id", STRING, _path("identity", "tokenId"), "API key or token id"),
    Column(
        "identity_auth_method",
        STRING,
        _path("identity", "authMethod"),
        "none, api_key, jwt or jwt_dev",
    ),
    Column("identity_issuer", STRING, _path("identity", "issuer"), "token issuer"),
    Column("method", STRING, _path("method"), "MCP method, e.g. tools/call"),
    Column("request_id", STRING, _path("requestId"), "JSON-RPC id (as text)"),
    Column("session_id", STRING, _path("sessionId"), "MCP session id"),
    Column("protocol_version", STRING, _path("protocolVersion"), "MCP protocol version"),
    Column("client_name", STRING, _path("client", "name"), "MCP client name"),
    Column("client_version", STRING, _path("client", "version"), "MCP client version"),
    Column("upstream", STRING, _path("upstream"), "upstream server that served the call"),
    Column("tool", STRING, _tool, "tool name (tools/call)"),
    Column("target_kind", STRING, _path("target", "kind"), "tool, prompt or resource"),
    Column("target_name", STRING, _path("target", "name"), "exposed tool/prompt name or URI"),
    Column(
        "target_upstream_name",
        STRING,
        _path("target", "upstreamName"),
        "the name the upstream knows it by",
    ),
    Column("mutating", BOOL, _path("mutating"), "the tool is declared mutating"),
    Column("capture", STRING, _path("capture"), "capture policy in force"),
    Column("decision_outcome", STRING, _path("decision", "outcome"), "allowed, refused, pending…"),
    Column("decision_reason", STRING, _path("decision", "reason"), "why"),
    Column("is_error", BOOL, _path("isError"), "the call ended in an error"),
    Column("error_code", INT, _path("errorCode"), "JSON-RPC error code"),
    Column("error_message", STRING, _path("errorMessage"), "error message (≤ 500 chars)"),
    Column("duration_ms", DOUBLE, _path("durationMs"), "end-to-end duration in ms"),
    Column("arguments_digest", STRING, _path("argumentsDigest"), "keyed digest of the arguments"),
    Column("result_digest", STRING, _path("resultDigest"), "keyed digest of the result"),
    Column("http_method", STRING, _path("httpMethod"), "HTTP method (transport events)"),
    Column("http_status", INT, _path("status"), "HTTP status (transport events)"),
    Column("remote_addr", STRING, _path("remoteAddr"), "client address (transport events)"),
    Column("reason", STRING, _path("reason"), "rejection reason (transport, auth events)"),
    Column("payload_json", STRING, _env("payload_json"), "the full payload, canonical JSON"),
)


_INT64 = (-(2**63), 2**63 - 1)


def flatten(row: ExportRow) -> dict[str, Any]:
    """Column name → value for one row, each value coerced to its column's kind."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    return {column.name: _coerce(column.kind, column.value(row, payload)) for column in COLUMNS}


def _coerce(kind: str, value: Any) -> Any:
    """The value as its column's kind, or ``None`` when it does not fit (never an error)."""
    if value is None:
        return None
    if kind in (STRING, TIMESTAMP):
        return value if isinstance(value, str) else encode_json(value)
    if kind == INT:
        ok = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and _INT64[0] <= value <= _INT64[1]
        )
        return value if ok else None
    if kind == BOOL:
        return value if isinstance(value, bool) else None
    if kind == DOUBLE:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else None
    if isinstance(value, list):
        return [str(item) for item in value]
    return None
