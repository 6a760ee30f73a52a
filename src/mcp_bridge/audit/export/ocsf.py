"""OCSF API Activity (class 6003) events, one per MCP operation, with the ``ai_operation``
profile's ``message_context`` for the MCP session, client and server.

The mapping table is in docs/mcp-bridge/export.md; :func:`to_ocsf` is that table. The record's
seq, hash and storage location ride in ``metadata`` (``sequence``, ``uid``, ``log_name`` and
``tags``), so a copy in a SIEM can be re-verified against the trail. Payload members that have
no OCSF place are kept in ``unmapped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ... import __version__ as _product_version
from .columns import flatten
from .rows import ExportRow

OCSF_VERSION = "1.8.0-dev"
CLASS_UID, CATEGORY_UID = 6003, 6
_CREATE, _READ, _UPDATE, _DELETE, _OTHER = 1, 2, 3, 4, 99
_ACTIVITY_NAMES = {_CREATE: "Create", _READ: "Read", _UPDATE: "Update", _DELETE: "Delete"}
_READS = {
    "tools/list",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "server/discover",
    "ping",
}
#: ``message_context.ai_role_id``: Tool (3) for a tool call, Retriever (6) for reads, else Other.
_ROLE_TOOL, _ROLE_RETRIEVER, _ROLE_OTHER = 3, 6, 99
_MAPPED = {
    "correlationId", "identity", "method", "requestId", "sessionId", "protocolVersion", "client",
    "upstream", "target", "decision", "isError", "errorCode", "errorMessage", "durationMs",
    "remoteAddr", "status", "httpMethod",
}  # fmt: skip


def activity_id(method: str | None, mutating: bool | None, event_type: str) -> int:
    """CRUD class of an MCP operation: reads and read-only tool calls are Read, a mutating tool
    call Update, a session end Delete, anything else (initialize, notifications, a call to an
    unknown tool) Other."""
    if event_type == "mcp.session.deleted":
        return _DELETE
    if method == "tools/call":
        if mutating is None:
            return _OTHER
        return _UPDATE if mutating else _READ
    if method in _READS:
        return _READ
    return _OTHER


def _status(values: Mapping[str, Any]) -> tuple[int, str, int]:
    """(status_id, status, severity_id): refused and errors are failures."""
    outcome = values["decision_outcome"]
    if outcome in ("refused", "denied") or values["event_type"] in ("auth.denied",):
        return 2, "Failure", 3
    if values["is_error"] or values["event_type"] == "mcp.transport.rejected":
        return 2, "Failure", 2
    if outcome in ("allowed", "acknowledged") or values["is_error"] is False:
        return 1, "Success", 1
    return 0, "Unknown", 1


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _drop_none(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in kept.items() if v != {}}
    return value


def _epoch_ms(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp)
    return int(moment.timestamp() * 1000)


def to_ocsf(row: ExportRow) -> dict[str, Any]:
    """The OCSF API Activity event for one exported row (see the module docstring)."""
    values = flatten(row)
    activity = activity_id(values["method"], values["mutating"], row.event_type)
    status_id, status, severity_id = _status(values)
    payload = row.payload if isinstance(row.payload, Mapping) else {}
    event = {
        "class_uid": CLASS_UID,
        "class_name": "API Activity",
        "category_uid": CATEGORY_UID,
        "category_name": "Application Activity",
        "activity_id": activity,
        "activity_name": _ACTIVITY_NAMES.get(activity, "Other"),
        "type_uid": CLASS_UID * 100 + activity,
        "time": _epoch_ms(row.timestamp),
        "duration": values["duration_ms"],
        "severity_id": severity_id,
        "status_id": status_id,
        "status": status,
        "status_code": None if values["error_code"] is None else str(values["error_code"]),
        "status_detail": values["error_message"]
        or values["decision_reason"]
        or values["reason"],
        "message": row.event_type,
        "actor": {
            "user": {
                "uid": values["identity_subject"],
                "name": values["identity_subject"],
                "credential_uid": values["identity_token_id"],
            },
            "session": {"uid": values["session_id"]},
            "app_name": values["client_name"],
            "idp": {"name": values["identity_issuer"]},
        },
        "api": {
            "operation": values["method"] or row.event_type,
            "version": values["protocol_version"],
            "request": {"uid": values["request_id"]},
            "service": {"name": values["upstream"]},
        },
        "src_endpoint": {"ip": values["remote_addr"], "name": values["client_name"]},
        "dst_endpoint": {"svc_name": values["upstream"]},
        "resources": _resources(values),
        "message_context": {
            "uid": values["session_id"],
            "name": values["correlation_id"],
            "ai_role_id": _role(values["method"]),
            "application": {"name": values["client_name"], "version": values["client_version"]},
            "service": {"name": values["upstream"]},
        },
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "mcp-bridge", "vendor_name": "mcp-bridge",
                        "version": _product_version},
            "profiles": ["ai_operation"],
            "uid": row.event_id,
            "sequence": row.seq,
            "correlation_uid": values["correlation_id"],
            "log_name": row.segment,
            "log_provider": "mcp-bridge audit trail",
            "tags": _tags(row),
        },
        "unmapped": {k: v for k, v in payload.items() if k not in _MAPPED} or None,
    }  # fmt: skip
    return dict(_drop_none(event))


def _resources(values: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    if values["target_name"] is None:
        return None
    resource = {
        "type": values["target_kind"],
        "name": values["target_name"],
        "uid": values["target_upstream_name"],
    }
    return [_drop_none(resource)]


def _role(method: str | None) -> int:
    if method == "tools/call":
        return _ROLE_TOOL
    return _ROLE_RETRIEVER if method in _READS else _ROLE_OTHER


def _tags(row: ExportRow) -> list[dict[str, str]]:
    """Name/value pairs for what a re-verifier needs that OCSF has no attribute for."""
    tags = {
        "mcp_bridge.hash": row.hash,
        "mcp_bridge.previous_hash": row.previous_hash,
        "mcp_bridge.partition": row.partition,
        "mcp_bridge.line": str(row.line),
        "mcp_bridge.verified": "true" if row.verified else "false",
    }
    if row.checkpoint_tree_size is not None:
        tags["mcp_bridge.checkpoint_tree_size"] = str(row.checkpoint_tree_size)
    return [{"name": name, "value": value} for name, value in tags.items()]
