"""Per-HTTP-request facts shared by the HTTP gate and the MCP-level audit middleware.

The gate (``gate.py``) authenticates and assigns the correlation id before the SDK sees the
request; the middleware, which runs inside the SDK, reads them back from the ASGI scope.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from .auth import ANONYMOUS, Identity

_SCOPE_KEY = "mcp_bridge.exchange"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


@dataclass
class Exchange:
    """One HTTP request to ``/mcp``."""

    correlation_id: str
    identity: Identity = ANONYMOUS
    recorded: bool = False
    http_method: str = "POST"
    streamed: bool = False
    """Whether the answer can carry messages before the response (SSE or the 2026-07-28 path)."""
    direct: bool = False
    """Answered by the direct path for tool calls (``direct.py``), not the SDK's session path."""

    def base_payload(self) -> dict[str, Any]:
        return {"correlationId": self.correlation_id, "identity": self.identity.as_payload()}


def correlation_id_from(header: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, otherwise a fresh one."""
    if header and _REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def attach(scope: MutableMapping[str, Any], exchange: Exchange) -> None:
    scope[_SCOPE_KEY] = exchange


def exchange_of(request: Any) -> Exchange | None:
    """The exchange attached to a Starlette request (``ctx.request`` inside the SDK), if any."""
    scope = getattr(request, "scope", None)
    found = scope.get(_SCOPE_KEY) if isinstance(scope, dict) else None
    return found if isinstance(found, Exchange) else None


__all__ = ["Exchange", "attach", "correlation_id_from", "exchange_of"]
