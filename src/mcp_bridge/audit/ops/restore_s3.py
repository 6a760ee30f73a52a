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
from .manifest import marker_copy_name
from .s3_listing import KeyVersions, by_key, window_versions
from .trail import NOT_CHAIN, Location, RunOptions, Window, parse_location

if TYPE_CHECKING:
    from ..storage.s3.client import S3Connection


@dataclass(frozen=True, slots=True)
class LockSettings:
    """Object Lock for objects a restore puts back (as the writer would have put them)."""

    mode: str | None = None
    days: int | None = None

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
) -> list[Action]:
    conn = s3_connection(s3)
    store = by_key(trail, window_versions(conn, trail, window))
    if backup == "versions":
        return _plan_unhide(store, forensic, before)
    if backup.startswith("s3://"):
        replica = parse_location(backup)
        return _plan_fill(conn, trail, store, replica, window)
    raise AuditUsageError(
        f"--from {backup}: an S3 trail is restored from its own earlier versions "
        "(--from versions) or from a replica bucket (--from s3://replica/prefix)"
    )


def _plan_unhide(
    store: dict[str, KeyVersions], forensic: ForensicTarget | None, before: VerificationResult
) -> list[Action]:
    chain_failures = {f.location: f for f in before.failures if f.reason not in NOT_CHAIN}
    actions = []
    for key, entry in sorted(store.items()):
        original = entry.original
        if not entry.markers or original is None:
            continue
        markers = [marker.version_id for marker in entry.markers]
        action = Action(
            "unhide",
            key,
            f"{key}?versionId={original.version_id}",
            entry.day,
            detail=f"remove delete marker(s) {', '.join(markers)}",
            payload=markers,
        )
        missing = [m for m in markers if not _kept(forensic, key, m)]
        if missing:
            action.refuse(
                "not_quarantined",
                f"delete marker(s) {', '.join(missing)} not in the forensic location (--forensic);"
                " run quarantine first",
            )
        elif key in chain_failures:
            action.refuse("does_not_chain", chain_failures[key].render().splitlines()[0])
        actions.append(action)
    return actions


def _kept(forensic: ForensicTarget | None, key: str, marker: str) -> bool:
    return forensic is not None and forensic.digest(marker_copy_name(key, marker)) is not None


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
    """Remove quarantined delete markers; put missing keys back (create-only, locked)."""
    from ..storage.s3.ops import put_new, remove_delete_marker

    assert trail.bucket is not None
    conn = s3_connection(s3)
    for action in actions:
        if action.status != "planned":
            continue
        if action.kind == "unhide":
            for marker in action.payload:
                remove_delete_marker(conn, trail.bucket, action.target, marker)
        else:
            body = action.payload
            lock_headers = lock.headers_for(body)
            if not put_new(
                conn, trail.bucket, action.target, body, metadata=action.metadata, lock=lock_headers
            ):
                action.refuse("appeared", "an object appeared there meanwhile; left as found")
                continue
        action.status = "applied"
