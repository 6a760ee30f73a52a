"""The immutable audit trail: hash-chained JSON records, written once, verifiable by anyone.

Public API (compatible with the original ``mcp_bridge.audit``): ``LocalAuditTrail``,
``AuditTrail``, ``open_audit_trail``, ``compute_event_hash``, ``verify_audit_trail`` and
``VerificationResult``. Everything else is internal.
"""

from .errors import (
    AuditCorruptionError,
    AuditError,
    AuditPayloadError,
    AuditStorageError,
    AuditUsageError,
)
from .records import GENESIS_HASH, compute_event_hash
from .results import Failure, Note, Reason, VerificationResult
from .trail import AuditTrail, LocalAuditTrail, open_audit_trail
from .verification import verify_audit_trail

__all__ = [
    "GENESIS_HASH",
    "AuditCorruptionError",
    "AuditError",
    "AuditPayloadError",
    "AuditStorageError",
    "AuditTrail",
    "AuditUsageError",
    "Failure",
    "LocalAuditTrail",
    "Note",
    "Reason",
    "VerificationResult",
    "compute_event_hash",
    "open_audit_trail",
    "verify_audit_trail",
]
