"""Reason codes for requests refused before they became an MCP message.

The SDK answers such requests with a bare HTTP status (a 404 means "no such session" whether the
session never existed, has ended, or belongs to another principal). An auditor needs to tell
those apart, so the gate classifies each refusal from the status, the SDK's error text and what
the bridge knows about the session, and records the code with the SDK's text as ``detail``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable

SESSION_OWNER_MISMATCH = "session-owned-by-another-principal"
SESSION_EXPIRED = "session-expired"
SESSION_UNKNOWN = "session-unknown"
SESSION_ID_MISSING = "session-id-missing"
ORIGIN_NOT_ALLOWED = "origin-not-allowed"
HOST_NOT_ALLOWED = "host-not-allowed"
NOT_ACCEPTABLE = "not-acceptable"
UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
METHOD_NOT_ALLOWED = "http-method-not-allowed"
TOO_MANY_SESSIONS = "too-many-sessions"
PROTOCOL_VERSION_UNSUPPORTED = "protocol-version-unsupported"

_BY_TEXT = (
    ("invalid origin", ORIGIN_NOT_ALLOWED),
    ("invalid host", HOST_NOT_ALLOWED),
    ("missing session id", SESSION_ID_MISSING),
    ("too many open sessions", TOO_MANY_SESSIONS),
    ("protocol version", PROTOCOL_VERSION_UNSUPPORTED),
)
_BY_STATUS = {
    406: NOT_ACCEPTABLE,
    415: UNSUPPORTED_MEDIA_TYPE,
    405: METHOD_NOT_ALLOWED,
    421: HOST_NOT_ALLOWED,
}
_REMEMBERED_SESSIONS = 100_000


def error_text(body: bytes) -> str:
    """The SDK's error message from a refusal body (JSON-RPC error or plain text)."""
    text = body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    error = document.get("error") if isinstance(document, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message)[:300] if message is not None else text.strip()[:300]


class SessionBook:
    """The session ids the bridge handed out (bounded), and whether each client can be asked.

    Tells an expired session from an unknown one, and tells the gate which sessions' calls
    need a stream because their client declared sampling, elicitation or roots, or asked for
    logs.
    """

    def __init__(self, is_open: Callable[[str], bool]) -> None:
        self._is_open = is_open
        self._seen: OrderedDict[str, bool] = OrderedDict()

    def saw(self, session_id: str, back_channel: bool | None = None) -> None:
        """Note a session id; ``back_channel`` when its ``initialize`` declared client features."""
        known = self._seen.get(session_id, False)
        self._seen[session_id] = known if back_channel is None else back_channel
        self._seen.move_to_end(session_id)
        if len(self._seen) > _REMEMBERED_SESSIONS:
            self._seen.popitem(last=False)

    def can_be_asked(self, session_id: str | None) -> bool:
        """Whether the session's calls may receive messages (requests or logs) while they run."""
        return session_id is not None and self._seen.get(session_id, False)

    def classify(self, session_id: str) -> str:
        if self._is_open(session_id):
            return SESSION_OWNER_MISMATCH
        return SESSION_EXPIRED if session_id in self._seen else SESSION_UNKNOWN


def reason_for(status: int, detail: str, session_id: str | None, sessions: SessionBook) -> str:
    """The reason code of a refusal with this status and SDK error text."""
    lowered = detail.lower()
    if status == 404 and session_id:
        return sessions.classify(session_id)
    for needle, code in _BY_TEXT:
        if needle in lowered:
            return code
    return _BY_STATUS.get(status, f"http-{status}")


__all__ = ["SessionBook", "error_text", "reason_for"]
