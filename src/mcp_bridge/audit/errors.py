"""Errors raised by the audit trail. Every error says what went wrong and what to do next.

Drivers map foreign exceptions (``OSError``, botocore errors) to these types at their boundary,
so callers and CLIs only ever catch :class:`AuditError`.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base of every audit-trail error; ``hint`` tells the operator what to do."""

    exit_code = 1
    hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def render(self) -> str:
        text = str(self)
        return f"{text}\n  what to do: {self.hint}" if self.hint else text


class AuditPayloadError(AuditError, ValueError):
    """The caller's payload cannot be recorded (not JSON: NaN, bytes, a set, …)."""

    exit_code = 2
    hint = "pass only JSON values (dict, list, str, int, float, bool, None)"


class AuditUsageError(AuditError):
    """A command or library call was given arguments it cannot use."""

    exit_code = 2


class AuditStorageError(AuditError):
    """The store could not be read or written; nothing acknowledged was lost."""

    exit_code = 3
    hint = "check that the audit storage is reachable, writable and not full, then retry"


class AuditCorruptionError(AuditStorageError):
    """The store's tail is not a valid record, so no writer may link to it.

    Raised instead of silently starting a new chain; an operator must investigate with
    ``python -m mcp_bridge.audit.verify``.
    """

    hint = (
        "run `python -m mcp_bridge.audit.verify` on the store, quarantine the affected files "
        "(copy, never delete) and follow the incident runbook"
    )
