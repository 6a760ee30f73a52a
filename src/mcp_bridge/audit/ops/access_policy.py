"""Analysing S3 bucket (and IAM identity) policy documents for a permissions audit. Pure.

Lists every statement that grants write, delete, retention change or governance bypass on the
audit prefix, and checks what ``docs/mcp-bridge/s3.md`` recommends: ``s3:DeleteObjectVersion``
and ``s3:BypassGovernanceRetention`` allowed to nobody but the incident role, and explicitly
denied to everyone else. Wildcards in actions and resources are matched as IAM does (``*`` and
``?``, actions case-insensitively); ``NotAction``/``NotResource`` are honoured; conditions are
reported, not evaluated (a conditional Allow still counts as a grant).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

#: Actions that can change or remove what the audit trail stored, by category.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "write": ("s3:PutObject",),
    "delete": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "retention": (
        "s3:PutObjectRetention",
        "s3:PutObjectLegalHold",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
    ),
    "bypass": ("s3:BypassGovernanceRetention",),
}
#: The two actions only the incident role may hold.
RESTRICTED = ("s3:DeleteObjectVersion", "s3:BypassGovernanceRetention")


@dataclass(frozen=True, slots=True)
class Grant:
    """One Allow statement granting dangerous actions on the audit prefix."""

    source: str
    sid: str
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    conditional: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "sid": self.sid,
            "principals": list(self.principals),
            "actions": list(self.actions),
            "conditional": self.conditional,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the audit flags (exit 1): a reason code, what, and what to do."""

    reason: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "fix": self.fix}


REPORT_SCHEMA = "mcp-bridge/access-report/v1"


def report_document(
    location: str,
    controls: dict[str, Any],
    findings: list[Finding],
    cannot_see: str,
    **details: Any,
) -> dict[str, Any]:
    """The JSON document of an access report (S3 or local): the same keys for both."""
    return {
        "schema": REPORT_SCHEMA,
        "ok": not findings,
        "location": location,
        "controls": controls,
        **details,
        "findings": [finding.to_dict() for finding in findings],
        "cannotSee": cannot_see,
    }


@dataclass(slots=True)
class PolicyAnalysis:
    grants: list[Grant] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _principals(statement: dict[str, Any], default: str) -> tuple[str, ...]:
    if "Principal" not in statement:
        return (default,)
    principal = statement["Principal"]
    if principal == "*":
        return ("*",)
    if isinstance(principal, dict):
        return tuple(p for values in principal.values() for p in _list(values))
    return tuple(_list(principal))


def _matches(patterns: Iterable[str], value: str, *, fold: bool) -> bool:
    target = value.lower() if fold else value
    return any(fnmatchcase(target, p.lower() if fold else p) for p in patterns)


def _granted(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not _matches(_list(statement["NotAction"]), action, fold=True)
    return _matches(_list(statement.get("Action")), action, fold=True)


def _covers(statement: dict[str, Any], resources: Sequence[str]) -> bool:
    """Whether the statement's resources reach the audit prefix (or the bucket itself)."""
    if "NotResource" in statement:
        return not all(_matches(_list(statement["NotResource"]), r, fold=False) for r in resources)
    patterns = _list(statement.get("Resource", "*"))
    return any(_matches(patterns, r, fold=False) for r in resources)


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def audit_resources(bucket: str, prefix: str) -> tuple[str, ...]:
    """ARNs that stand for "the audit prefix": an object below it, and the bucket."""
    root = prefix.strip("/")
    key = f"{root}/any-object" if root else "any-object"
    return (f"arn:aws:s3:::{bucket}/{key}", f"arn:aws:s3:::{bucket}")


def analyse(
    documents: Sequence[tuple[str, dict[str, Any], str]],
    *,
    bucket: str,
    prefix: str,
    incident: Sequence[str] = (),
) -> PolicyAnalysis:
    """Analyse ``(source name, policy, principal for identity policies)`` documents."""
    resources = audit_resources(bucket, prefix)
    everything = [a for actions in CATEGORIES.values() for a in actions]
    result = PolicyAnalysis()
    denied: set[str] = set()
    for source, policy, owner in documents:
        for number, statement in enumerate(_statements(policy), start=1):
            if not _covers(statement, resources):
                continue
            actions = tuple(a for a in everything if _granted(statement, a))
            if not actions:
                continue
            principals = _principals(statement, owner)
            sid = str(statement.get("Sid") or f"statement {number}")
            if statement.get("Effect") == "Deny":
                if "*" in principals or "NotPrincipal" in statement:
                    denied.update(a for a in actions if a in RESTRICTED)
                continue
            grant = Grant(source, sid, principals, actions, "Condition" in statement)
            result.grants.append(grant)
            _judge(grant, incident, result)
    for action in RESTRICTED:
        if action not in denied:
            result.findings.append(
                Finding(
                    "restricted_action_not_denied",
                    f"no bucket-policy statement denies {action} to every principal but the "
                    "incident role",
                    f"add a Deny of {action} on the audit prefix for all principals except the "
                    "incident role (docs/mcp-bridge/s3.md, IAM)",
                )
            )
    return result


def _judge(grant: Grant, incident: Sequence[str], result: PolicyAnalysis) -> None:
    for action in (a for a in grant.actions if a in RESTRICTED):
        outsiders = [p for p in grant.principals if p not in incident]
        if outsiders:
            result.findings.append(
                Finding(
                    "restricted_action_allowed",
                    f"{grant.source} {grant.sid} allows {action} to {', '.join(outsiders)}; only "
                    "the incident role may hold it",
                    f"remove {action} from this statement",
                )
            )
