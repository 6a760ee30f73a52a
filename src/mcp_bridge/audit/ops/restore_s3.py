"""Restore planning and applying for an S3 trail: earlier versions or a replica bucket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from ..errors import AuditUsageError
from ..records import MalformedLine, parse_header
from ..results import VerificationResult
from .actions import Action
from .forensic import ForensicTarget, s3_connection
from .manifest import marker_copy_name, version_copy_name
from .s3_listing import KeyVersions, by_key, window_versions
from .trail import NOT_CHAIN, Location, RunOptions, Window, parse_location

if TYPE_CHECKING:
    from ..storage.s3.client import S3Connection


@dataclass(frozen=True, slots=True)
class LockSettings:
    """Object Lock for objects a restore puts back (as the writer would have put them), and
    whether removing a newer version may bypass its GOVERNANCE retention."""

    mode: str | None = None
    days: int | None = None
    bypass_governance: bool = False

    def headers_for(self, body: bytes) -> tuple[str, datetime] | None:
        from ..storage.s3.client import retain_until

        if not self.mode or not self.days:
            return None
        return self.mode.upper(), retain_until(_newest(body), self.days)


def _newest(body: bytes) -> datetime:
    for line in reversed(body.splitlines()):
        try:
            return datetime.fromisoformat(parse_header(line).timestamp)
        except (MalformedLine, ValueError):
            continue
    return datetime.now(UTC)


def plan_s3(
    trail: Location,
    backup: str,
    window: Window,
    forensic: ForensicTarget | None,
    before: VerificationResult,
    s3: RunOptions,
    bypass: bool = False,
) -> list[Action]:
    conn = s3_connection(s3)
    store = by_key(trail, window_versions(conn, trail, window))
    if backup == "versions":
        assert trail.bucket is not None
        return _plan_in_place(conn, trail.bucket, store, forensic, before, bypass)
    if backup.startswith("s3://"):
        replica = parse_location(backup)
        return _plan_fill(conn, trail, store, replica, window)
    raise AuditUsageError(
        f"--from {backup}: an S3 trail is restored from its own earlier versions "
        "(--from versions) or from a replica bucket (--from s3://replica/prefix)"
    )


def _plan_in_place(
    conn: S3Connection,
    bucket: str,
    store: dict[str, KeyVersions],
    forensic: ForensicTarget | None,
    before: VerificationResult,
    bypass: bool,
) -> list[Action]:
    """Keys whose original version is hidden: ``unhide`` removes the delete markers over it,
    ``revert`` the newer versions (so the original, untouched, is current again). Each one must
    be quarantined first; a newer version under retention we may not bypass is left alone."""
    chain_failures = {f.location: f for f in before.failures if f.reason not in NOT_CHAIN}
    actions = []
    for key, entry in sorted(store.items()):
        original = entry.original
        if original is None:
            continue
        hiding = {
            "unhide": [marker.version_id for marker in entry.markers],
            "revert": [version.version_id for version in entry.versions[1:]],
        }
        for kind, versions in hiding.items():
            if not versions:
                continue
            what = "delete marker(s)" if kind == "unhide" else "newer version(s)"
            action = Action(
                kind,
                key,
                f"{key}?versionId={original.version_id}",
                entry.day,
                detail=f"remove {what} {', '.join(versions)}",
                payload=versions,
            )
            copy_name = marker_copy_name if kind == "unhide" else version_copy_name
            missing = [v for v in versions if not _kept(forensic, copy_name(key, v))]
            locked = [] if kind == "unhide" else _locked(conn, bucket, key, versions, bypass)
            if missing:
                action.refuse(
                    "not_quarantined",
                    f"{what} {', '.join(missing)} not in the forensic location (--forensic); run "
                    "quarantine first: evidence is never removed before it is copied",
                )
            elif locked:
                action.refuse("newer_version_locked", "; ".join(locked))
            elif key in chain_failures:
                action.refuse("does_not_chain", chain_failures[key].render().splitlines()[0])
            actions.append(action)
    return actions


def _kept(forensic: ForensicTarget | None, name: str) -> bool:
    return forensic is not None and forensic.digest(name) is not None


def _locked(
    conn: S3Connection, bucket: str, key: str, versions: list[str], bypass: bool
) -> list[str]:
    """Why each of these versions cannot be deleted now (retention, legal hold)."""
    return [why for version in versions if (why := _lock_of(conn, bucket, key, version, bypass))]


def _lock_of(conn: S3Connection, bucket: str, key: str, version: str, bypass: bool) -> str:
    """Why this version cannot be deleted now (its retention), or ``""`` if it can."""
    from ..storage.s3.ops import head_version

    head = head_version(conn, bucket, key, version)
    until = head.retain_until
    if head.legal_hold == "ON":
        return f"version {version} is under legal hold (remove it first, if the case allows)"
    if not head.lock_mode or until is None or until <= datetime.now(UTC):
        return ""
    if head.lock_mode.upper() == "GOVERNANCE":
        if bypass:
            return ""
        return (
            f"version {version} is under GOVERNANCE retention until {until.isoformat()}; "
            "--bypass-governance removes it (needs s3:BypassGovernanceRetention)"
        )
    return f"version {version} is under COMPLIANCE retention until {until.isoformat()}"


def _plan_fill(
    conn: S3Connection,
    trail: Location,
    store: dict[str, KeyVersions],
    replica: Location,
    window: Window,
) -> list[Action]:
    """Keys the replica has and the trail has no version of at all."""
    from ..storage.s3.client import get_object
    from ..storage.s3.layout import normalise_prefix

    assert replica.bucket is not None
    theirs, ours = normalise_prefix(replica.prefix), normalise_prefix(trail.prefix)
    actions = []
    for key, entry in sorted(by_key(replica, window_versions(conn, replica, window)).items()):
        target = ours + key[len(theirs) :]
        if entry.original is None or target in store:
            continue
        obj = get_object(conn, replica.bucket, key, entry.original.version_id)
        if obj is None:
            continue
        source = f"s3://{replica.bucket}/{key}?versionId={entry.original.version_id}"
        action = Action("fill", target, source, entry.day, payload=obj.body)
        action.metadata = dict(obj.metadata)
        actions.append(action)
    return actions


def s3_day_list(trail: Location, window: Window, s3: RunOptions) -> list[date]:
    """Days of the window that hold data (an original version with bytes)."""
    found = by_key(trail, window_versions(s3_connection(s3), trail, window)).values()
    return sorted({entry.day for entry in found if entry.original and entry.original.size})


def s3_overlay_days(
    trail: Location, window: Window, s3: RunOptions
) -> dict[date, dict[str, bytes]]:
    """The original version of every log key in the window, by day and key."""
    from ..storage.s3.ops import read_version

    assert trail.bucket is not None
    conn = s3_connection(s3)
    days: dict[date, dict[str, bytes]] = {}
    for key, entry in by_key(trail, window_versions(conn, trail, window)).items():
        if entry.original is not None:
            body = read_version(conn, trail.bucket, key, entry.original.version_id)
            days.setdefault(entry.day, {})[key] = body
    return days


def apply_s3(trail: Location, actions: list[Action], s3: RunOptions, lock: LockSettings) -> None:
    """Remove quarantined delete markers and newer versions (the original version becomes
    current again); put missing keys back (create-only, locked)."""
    from ..storage.s3.ops import delete_version, put_once, remove_delete_marker

    assert trail.bucket is not None
    conn = s3_connection(s3)
    for action in actions:
        if action.status != "planned":
            continue
        if action.kind == "unhide":
            for marker in action.payload:
                remove_delete_marker(conn, trail.bucket, action.target, marker)
        elif action.kind == "revert":
            for version in action.payload:
                delete_version(
                    conn,
                    trail.bucket,
                    action.target,
                    version,
                    bypass_governance=lock.bypass_governance,
                    what="newer version",
                )
        else:
            body = action.payload
            lock_headers = lock.headers_for(body)
            if (
                put_once(
                    conn,
                    trail.bucket,
                    action.target,
                    body,
                    metadata=action.metadata,
                    lock=lock_headers,
                )
                is None
            ):
                action.refuse("appeared", "an object appeared there meanwhile; left as found")
                continue
        action.status = "applied"
