"""JSON-RPC error codes the bridge itself answers with (server-error range -32000..-32099).

Each code means one thing, so a client (or an auditor reading ``errorCode``) can tell an
unauthorised caller from a slow upstream. The table is in docs/mcp-bridge/bridge.md.
"""

from __future__ import annotations

from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS
from pydantic import ValidationError

UPSTREAM_UNAVAILABLE = -32030
"""The upstream is not connected, or its connection broke during the call."""

AUDIT_UNAVAILABLE = -32031
"""A mutating call was refused because its intent could not be made durable in the trail."""

READ_ONLY_MODE = -32032
"""A mutating call was refused because the audit trail is disabled (AUDIT_ENABLED=false)."""

UPSTREAM_TIMEOUT = -32033
"""The upstream did not answer within BRIDGE_UPSTREAM_TIMEOUT_SECONDS."""

UNAUTHORIZED = -32034
"""The caller presented no valid credential (HTTP 401)."""

POLICY_DENIED = -32035
"""The ``access`` rules in BRIDGE_CONFIG do not allow this caller to use the upstream or tool."""

UNKNOWN_TARGET = -32602
"""An unknown tool/prompt/resource name: INVALID_PARAMS, as the MCP spec asks."""


def refused(code: int, reason: str) -> MCPError:
    return MCPError(code=code, message=f"refused by mcp-bridge: {reason}")


def code_and_message(error: BaseException) -> tuple[int, str]:
    """The JSON-RPC error code and message a handler failure is answered (and recorded) with."""
    if isinstance(error, MCPError):
        return error.code, error.message
    if isinstance(error, ValidationError):
        return INVALID_PARAMS, "invalid params"
    return INTERNAL_ERROR, type(error).__name__


__all__ = [
    "AUDIT_UNAVAILABLE",
    "POLICY_DENIED",
    "READ_ONLY_MODE",
    "UNAUTHORIZED",
    "UNKNOWN_TARGET",
    "UPSTREAM_TIMEOUT",
    "UPSTREAM_UNAVAILABLE",
    "code_and_message",
    "refused",
]
