"""A drill into a scratch S3 prefix: copy a sample of a backup there, and remove exactly it.

From an S3 backup the original versions are copied as stored; from a backup directory each day
file becomes one segment, with the forward markers the S3 writer would have put.

Safety rules (why each exists):

* The copies go below a new sub-prefix (``<scratch prefix>/drill-<UTC time>-<random>/``) and
  are created with ``If-None-Match: *``, so nothing already there is overwritten.
* They are put **without** Object Lock retention, and the drill refuses a scratch bucket whose
  Object Lock configuration applies a *default* retention: S3 would lock every copy and the drill
  could not remove it. COMPLIANCE default retention is always refused (nobody can delete such a
  copy before it expires); GOVERNANCE only with ``--bypass-governance`` (the deletes then send
  ``x-amz-bypass-governance-retention``, which needs ``s3:BypassGovernanceRetention``).
* Clean-up deletes each copy by the version id its own put returned (never a plain DELETE,
  which would leave delete markers, never anything it did not create), then lists the
  sub-prefix to prove nothing is left.
* The scratch location must not overlap the backup's prefix in the same bucket.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AuditUsageError
from ..layout import day_key
from .forensic import s3_connection
from .s3_listing import by_key, window_versions
from .trail import WHOLE, Location, RunOptions, local_file

if TYPE_CHECKING:
    from ..storage.s3.client import S3Connection


@dataclass(slots=True)
class ScratchPrefix:
    """The sub-prefix a drill created, and every object version it put there."""

    bucket: str
    prefix: str
    made: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0
    left_behind: list[str] = field(default_factory=list)
    #: The clean-up listed the sub-prefix afterwards (``left_behind`` is then complete).
    checked: bool = False

    @property
    def cleaned_up(self) -> bool:
        return self.checked and not self.left_behind

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.url,
            "objects": [{"key": key, "versionId": version} for key, version in self.made],
            "leftBehind": self.left_behind,
            "listedAfterCleanUp": self.checked,
        }


def check_scratch(conn: S3Connection, scratch: Location, source: Location, bypass: bool) -> bool:
    """Refuse a scratch location whose copies could not be removed; ``True`` if the deletes
    must bypass GOVERNANCE retention (the bucket's default, allowed by ``--bypass-governance``).
    """
    from ..storage.s3.ops import object_lock_configuration

    assert scratch.bucket is not None
    rule = ((object_lock_configuration(conn, scratch.bucket) or {}).get("Rule") or {}).get(
        "DefaultRetention"
    )
    if not rule:
        return False
    mode = str(rule.get("Mode", "")).upper()
    if mode == "GOVERNANCE" and bypass:
        return True
    fix = "use a scratch bucket without default retention"
    if mode == "GOVERNANCE":
        fix += ", or pass --bypass-governance (needs s3:BypassGovernanceRetention)"
    raise AuditUsageError(
        f"--scratch {scratch.text}: bucket {scratch.bucket} applies default {mode} retention "
        f"({rule.get('Days') or rule.get('Years')} {'days' if rule.get('Days') else 'years'}): "
        "every drill copy would be locked and could not be removed",
        hint=fix,
    )


def sample_keys(conn: S3Connection, source: Location, days: set[date]) -> list[tuple[str, str]]:
    """``(key, original version id)`` of every log object of ``days``, plus the segments their
    forward markers point to (the verifier checks that each marker's target exists)."""
    from ..storage.s3.layout import parse_segment_key, segment_key

    entries = by_key(source, window_versions(conn, source, WHOLE))
    originals = {key: e.original for key, e in entries.items() if e.original is not None}
    chosen = {key for key in originals if entries[key].day in days}
    pending = [key for key in chosen if originals[key].size == 0]  # forward markers
    while pending:
        key = pending.pop()
        target = _forward_of(conn, source, key, originals[key].version_id)
        parsed = parse_segment_key(source.prefix, key)
        if target is None or parsed is None:
            continue
        follow = segment_key(source.prefix, target, parsed.seq)
        if follow in originals and follow not in chosen:
            chosen.add(follow)
            if originals[follow].size == 0:
                pending.append(follow)
    return [(key, originals[key].version_id) for key in sorted(chosen)]


def _forward_of(conn: S3Connection, source: Location, key: str, version: str) -> date | None:
    from ..storage.s3.client import get_object
    from ..storage.s3.tail import forward_target

    assert source.bucket is not None
    obj = get_object(conn, source.bucket, key, version)
    return forward_target(obj) if obj is not None else None


#: One object of a sample: its key below the log's prefix, its bytes, its user metadata.
SampleObject = tuple[str, bytes, dict[str, str]]


def s3_sample(conn: S3Connection, source: Location, days: set[date]) -> Iterator[SampleObject]:
    """The original versions of :func:`sample_keys`, as they are stored."""
    from ..storage.s3.client import get_object
    from ..storage.s3.layout import normalise_prefix

    assert source.bucket is not None
    theirs = normalise_prefix(source.prefix)
    for key, version in sample_keys(conn, source, days):
        obj = get_object(conn, source.bucket, key, version)
        if obj is not None:
            yield key[len(theirs) :], obj.body, dict(obj.metadata)


def local_sample(root: Path, days: set[date]) -> Iterator[SampleObject]:
    """A backup directory's days laid out as the S3 writer would: one segment per day, keyed by
    its first seq, and before each later day the forward marker on the day before it (the
    verifier checks that a day's first segment was reached through one). One day in memory."""
    from ..records import MalformedLine, parse_header
    from ..storage.s3.layout import FORWARD_META, segment_key

    previous: date | None = None
    for day in sorted(days):
        data = local_file(root, day).read_bytes()
        try:
            first = parse_header(data.split(b"\n", 1)[0]).seq
        except MalformedLine:
            first = 0  # the verifier names the damage in the scratch copy
        if previous is not None:
            yield segment_key("", previous, first), b"", {FORWARD_META: day_key(day)}
        yield segment_key("", day, first), data, {}
        previous = day


def new_prefix(scratch: Location) -> ScratchPrefix:
    """A sub-prefix of its own for one drill: ``<prefix>/drill-<UTC time>-<random>``."""
    from ..storage.s3.layout import normalise_prefix

    assert scratch.bucket is not None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ScratchPrefix(
        scratch.bucket, f"{normalise_prefix(scratch.prefix)}drill-{stamp}-{secrets.token_hex(4)}"
    )


@contextmanager
def scratch_copy(
    made: ScratchPrefix,
    source: Location,
    scratch: Location,
    days: set[date],
    s3: RunOptions,
    *,
    bypass: bool,
) -> Iterator[ScratchPrefix]:
    """Copy the sample below ``made``'s sub-prefix; on exit remove exactly those copies (also
    when the drill fails), recording in ``made`` what was put and what could not be removed."""
    from ..storage.s3.ops import put_once

    conn = s3_connection(s3)
    bypassing = check_scratch(conn, scratch, source, bypass)
    sample = local_sample(source.root, days) if source.root else s3_sample(conn, source, days)
    try:
        for name, body, metadata in sample:
            target = f"{made.prefix}/{name}"
            new = put_once(conn, made.bucket, target, body, metadata=metadata)
            if new is None:
                raise AuditUsageError(f"scratch key s3://{made.bucket}/{target} already exists")
            made.made.append((target, new))
            made.bytes += len(body)
        yield made
    finally:
        _remove(conn, made, bypassing)


def _remove(conn: S3Connection, made: ScratchPrefix, bypass: bool) -> None:
    """Delete each copy by its version id; one that cannot be deleted (a legal hold someone
    placed, a permission) is reported and the others are still deleted."""
    from ..errors import AuditStorageError
    from ..storage.s3.ops import delete_version, list_version_details

    refused = []
    for key, version in made.made:
        try:
            delete_version(conn, made.bucket, key, version, bypass_governance=bypass)
        except AuditStorageError as exc:
            refused.append(f"{key}?versionId={version}: {exc}")
    try:
        left = list_version_details(conn, made.bucket, f"{made.prefix}/")
    except AuditStorageError as exc:
        made.left_behind = refused or [f"s3://{made.bucket}/{made.prefix}/ (not listed: {exc})"]
        return
    made.checked = True
    remaining = {f"{v.key}?versionId={v.version_id}" for v in left}
    made.left_behind = refused + sorted(
        name for name in remaining if not any(r.startswith(f"{name}:") for r in refused)
    )
