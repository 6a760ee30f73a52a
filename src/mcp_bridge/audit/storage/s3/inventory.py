"""Judging a folder's version listing: which version is the log's, and what hides it.

Pure. Under versioning and Object Lock a writer's credentials cannot change or remove a
locked version, but they can put a newer version over a key (plain GET and LIST then show
the newer one), add delete markers (the key vanishes from plain listing) or put objects the
writer never creates. So the verifier always reads the *original* (oldest) version and reports
everything that would hide it, naming every version involved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ...results import Failure, Reason
from .client import Version
from .layout import SegmentKey, parse_segment_key


@dataclass(slots=True)
class KeyHistory:
    """Every version of one key: data versions newest first, and its delete markers."""

    key: str
    versions: list[Version] = field(default_factory=list)
    markers: list[Version] = field(default_factory=list)

    @property
    def original(self) -> Version | None:
        return self.versions[-1] if self.versions else None

    def names(self) -> tuple[str, ...]:
        return tuple(f"{self.key}?versionId={v.version_id}" for v in self.versions + self.markers)


def group_by_key(versions: Iterable[Version]) -> list[KeyHistory]:
    """Histories in key order (listing order kept within a key: newest version first)."""
    histories: dict[str, KeyHistory] = {}
    for version in versions:
        history = histories.setdefault(version.key, KeyHistory(version.key))
        (history.markers if version.delete_marker else history.versions).append(version)
    return [histories[key] for key in sorted(histories)]


def hiding_failures(history: KeyHistory) -> list[Failure]:
    """Newer versions and delete markers that hide the original version of a log key."""
    failures: list[Failure] = []
    original = history.original
    if original is None:
        failures.append(
            Failure(
                Reason.OBJECT_DELETED,
                f"{len(history.markers)} delete marker(s) and no object version: a delete "
                "marker was put on a key the writer never wrote",
                history.key,
                related=history.names(),
            )
        )
        return failures
    if len(history.versions) > 1:
        failures.append(
            Failure(
                Reason.OBJECT_OVERWRITTEN,
                f"{len(history.versions) - 1} newer version(s) found over the original version "
                f"{original.version_id}; 1 version expected; the original was verified",
                history.key,
                related=history.names(),
            )
        )
    if history.markers:
        failures.append(
            Failure(
                Reason.OBJECT_DELETED,
                f"{len(history.markers)} delete marker(s) found hiding the original version "
                f"{original.version_id}; none expected; the original was verified",
                history.key,
                related=history.names(),
            )
        )
    return failures


def unexpected(history: KeyHistory, why: str) -> Failure:
    return Failure(Reason.UNEXPECTED_OBJECT, why, history.key, related=history.names())


def classify(prefix: str, history: KeyHistory) -> SegmentKey | Failure:
    """The segment key a history is stored under, or the failure of a key we never write."""
    parsed = parse_segment_key(prefix, history.key)
    if parsed is None:
        return unexpected(
            history, "a key the writer never creates found; only YYYY/MM/DD/<seq>.jsonl expected"
        )
    return parsed
