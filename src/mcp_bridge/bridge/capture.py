"""What of an operation's arguments and result goes into the trail.

The digest is an HMAC so that a reader of the trail can confirm a known value was sent (by
recomputing with the key) but cannot brute-force short secrets from the trail alone. Capture of
the arguments themselves follows ``AUDIT_CAPTURE``: ``digest`` stores nothing but the digest,
``redacted`` (default) masks secret-looking keys and truncates long strings, ``full`` stores them
as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from .settings import CaptureMode

REDACTED = "[REDACTED]"
MAX_STRING = 256
MAX_DEPTH = 12

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|authori[sz]ation|api[-_]?key|apikey|private[-_]?key|"
    r"credential|cookie|session[-_]?id|bearer|signature|access[-_]?key",
    re.IGNORECASE,
)


def canonical_json(value: Any) -> bytes:
    """Stable bytes for hashing: sorted keys, no whitespace, non-JSON values stringified."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


class Capture:
    """Digest and capture policy, built once from the settings."""

    def __init__(self, key: bytes, mode: CaptureMode) -> None:
        self._key = key
        self.mode: CaptureMode = mode

    def digest(self, value: Any) -> str:
        """Keyed digest of a JSON value, prefixed with its algorithm."""
        mac = hmac.new(self._key, canonical_json(value), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{mac}"

    def arguments(self, value: Any) -> Any:
        """The arguments as the capture policy allows them into the trail (None in digest mode)."""
        if self.mode == "digest":
            return None
        if self.mode == "full":
            return json.loads(canonical_json(value))
        return redact(value)


def is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def redact(value: Any, depth: int = 0) -> Any:
    """Mask values under secret-looking keys and truncate long strings, keeping their length."""
    if depth > MAX_DEPTH:
        return "[TRUNCATED: nested too deep]"
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if is_secret_key(str(k)) else redact(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, depth + 1) for item in value]
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return {"truncated": value[:MAX_STRING], "length": len(value)}
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value), depth + 1)


__all__ = ["REDACTED", "Capture", "canonical_json", "is_secret_key", "redact"]
