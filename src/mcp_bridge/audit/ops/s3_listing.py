"""The versions of an S3 trail's window, grouped per key (shared by quarantine and restore)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from .trail import Location, Window

if TYPE_CHECKING:
    from ..engine import ProgressCallback
    from ..storage.s3.client import S3Connection
    from ..storage.s3.ops import VersionDetail


@dataclass(slots=True)
class KeyVersions:
    """One key: its data versions (oldest first) and delete markers, and its partition day."""

    key: str
    day: date
    versions: list[VersionDetail] = field(default_factory=list)
    markers: list[VersionDetail] = field(default_factory=list)

    @property
    def original(self) -> VersionDetail | None:
        return self.versions[0] if self.versions else None


def window_versions(conn: S3Connection, location: Location, window: Window) -> list[VersionDetail]:
    """Every version and delete marker of the log keys whose day is in ``window``."""
    from ..storage.s3.layout import normalise_prefix, parse_segment_key
    from ..storage.s3.ops import list_version_details

    assert location.bucket is not None
    listed = list_version_details(conn, location.bucket, normalise_prefix(location.prefix))
    kept = []
    for version in listed:
        parsed = parse_segment_key(location.prefix, version.key)
        if parsed is not None and window.holds(parsed.day):
            kept.append(version)
    return kept


def by_key(location: Location, versions: list[VersionDetail]) -> dict[str, KeyVersions]:
    """Group a listing (oldest first per key) by key."""
    from ..storage.s3.layout import parse_segment_key

    grouped: dict[str, KeyVersions] = {}
    for version in versions:
        parsed = parse_segment_key(location.prefix, version.key)
        if parsed is None:
            continue
        entry = grouped.setdefault(version.key, KeyVersions(version.key, parsed.day))
        (entry.markers if version.delete_marker else entry.versions).append(version)
    return grouped


def each_original(
    grouped: dict[str, KeyVersions], progress: ProgressCallback | None
) -> Iterator[tuple[str, KeyVersions, VersionDetail]]:
    """Each key's original version, in key order, reporting the bytes behind those done so far:
    the reports read one HEAD per object, which is what makes a long window slow."""
    originals = [(k, e, e.original) for k, e in sorted(grouped.items()) if e.original is not None]
    total, done = sum(original.size for _, _, original in originals), 0
    for key, entry, original in originals:
        yield key, entry, original
        done += original.size
        if progress is not None:
            progress(done, total)
