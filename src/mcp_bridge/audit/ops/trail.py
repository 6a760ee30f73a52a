"""The trail an ops command works on: a local directory or ``s3://bucket/prefix``.

Lists what a window (or a verification report) touches, one :class:`Item` per local day file
or per S3 object version (delete markers included), and reads the window's records in chain
order through the verifier's own record sources, so every command sees the bytes ``verify``
sees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..checkpoint_check import CheckpointOptions
from ..engine import ProgressCallback
from ..errors import AuditUsageError
from ..layout import local_partition_path, parse_day_key
from ..records import MalformedLine, decode_record
from ..results import Reason, VerificationResult
from ..storage.local.files import iter_partition_days, partition_file
from ..verification import open_source, verify_audit_trail

#: Failures that leave the chain itself intact: the state of S3 objects and their policy
#: (the verifier still reads and checks every original version).
NOT_CHAIN = frozenset(
    {
        Reason.OBJECT_DELETED,
        Reason.OBJECT_OVERWRITTEN,
        Reason.OBJECT_LOCK_MISSING,
        Reason.OBJECT_LOCK_MODE,
        Reason.OBJECT_LOCK_RETENTION,
        Reason.KMS_KEY,
        Reason.UNEXPECTED_OBJECT,
    }
)
_DAY_FILE = re.compile(r"(\d{4}/\d{2}/\d{2})\.jsonl\Z")


@dataclass(frozen=True, slots=True)
class Window:
    start: date | None = None
    end: date | None = None

    def holds(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a command reaches S3 (``--region``, ``--endpoint-url``; defaults from the
    environment) and where its verification runs report progress (a bar on a terminal)."""

    region: str | None = None
    endpoint_url: str | None = None
    progress: ProgressCallback | None = None
    #: The run's S3 connection, made on first use and shared by its steps (creating a boto3
    #: client costs far more than a request); ``None``: a new connection each time.
    connections: dict[str, Any] | None = field(default=None, compare=False)

    def for_location(self, location: Location) -> dict[str, Any]:
        """Keyword arguments for the verifier's S3 source (none for a local path)."""
        if not location.is_s3:
            return {}
        pairs = (("region", self.region), ("endpoint_url", self.endpoint_url))
        # Incident tools judge what chains; Object Lock policy is verify's and jobs' check.
        return {"object_lock": False} | {name: value for name, value in pairs if value}


#: The whole trail, and S3 reached as the environment says (argument defaults).
WHOLE = Window()
FROM_ENV = RunOptions()


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed location; exactly one of ``root`` and ``bucket`` is set."""

    text: str
    root: Path | None = None
    bucket: str | None = None
    prefix: str = ""

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None


def parse_location(text: str, *, must_exist: bool = True, what: str = "audit path") -> Location:
    """A directory or ``s3://bucket/prefix``; a missing directory is a usage error (exit 2)."""
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket:
            raise AuditUsageError(f"{text!r} names no bucket", hint="use s3://bucket/prefix")
        return Location(text, bucket=bucket, prefix=prefix.strip("/"))
    root = Path(text).expanduser()
    if must_exist and not root.is_dir():
        state = "does not exist" if not root.exists() else "is not a directory"
        raise AuditUsageError(f"{what} {root} {state}")
    return Location(text, root=root)


def within(inner: Location, outer: Location) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it: what a command writes below ``inner``
    (forensic or scratch copies) would be added to the trail at ``outer``."""
    if inner.root is not None and outer.root is not None:
        return inner.root.resolve().is_relative_to(outer.root.resolve())
    if inner.bucket is None or inner.bucket != outer.bucket:
        return False
    from ..storage.s3.layout import normalise_prefix

    return normalise_prefix(inner.prefix).startswith(normalise_prefix(outer.prefix))


def local_days(root: Path, window: Window) -> list[date]:
    return [day for day in iter_partition_days(root) if window.holds(day)]


def local_file(root: Path, day: date) -> Path:
    return partition_file(root, day)


def day_of_local_name(name: str) -> date | None:
    """The day of ``…/YYYY/MM/DD.jsonl`` (absolute or relative), else ``None``."""
    match = _DAY_FILE.search(name)
    return parse_day_key(match[1]) if match else None


def local_name(day: date) -> str:
    return local_partition_path(day)


@dataclass(slots=True)
class ReportScope:
    """What a verification report names: local day files or S3 keys (and version ids)."""

    days: set[date] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    source: str = ""
    window: Window = field(default_factory=Window)


def read_report(path: Path) -> ReportScope:
    """The files and keys named by a ``verify --json`` report (failures and their evidence)."""
    try:
        report = json.loads(path.read_text())
    except OSError as exc:
        raise AuditUsageError(f"cannot read report {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise AuditUsageError(f"{path} is not a JSON verification report: {exc}") from None
    if not isinstance(report, dict) or not isinstance(report.get("failures"), list):
        raise AuditUsageError(f"{path} is not a verification report (no 'failures' list)")
    scope = ReportScope(source=str(report.get("source", "")))
    for failure in report["failures"]:
        for name in [failure.get("location", ""), *failure.get("related", [])]:
            _add_name(scope, str(name))
    return scope


def _add_name(scope: ReportScope, name: str) -> None:
    name = name.split("?versionId=")[0]
    day = day_of_local_name(name)
    if day is not None:
        scope.days.add(day)
    elif name:
        scope.keys.add(name)


@dataclass(frozen=True, slots=True)
class Event:
    """One decoded record and where it is stored."""

    record: dict[str, Any]
    location: str
    line: int


def iter_events(
    location: Location, window: Window, s3: RunOptions | None = None
) -> Iterator[Event]:
    """The window's records in chain order, as the verifier reads them (original versions)."""
    for where, number, line in iter_lines(location, window, s3 or RunOptions()):
        try:
            record = decode_record(line.rstrip(b"\n"))
        except MalformedLine:
            continue
        yield Event(record, where, number)


def iter_lines(
    location: Location, window: Window, s3: RunOptions
) -> Iterator[tuple[str, int, bytes]]:
    """``(location, line number, raw line)`` of the window in chain order."""
    source = open_source(location.text, **s3.for_location(location))
    for segment in source.segments(window.start, window.end):
        for number, raw in enumerate(segment.open_lines(), start=1):
            yield segment.location, number, raw


def verify_window(
    location: Location,
    window: Window,
    s3: RunOptions,
    checkpoints: CheckpointOptions | None = None,
) -> VerificationResult:
    """:func:`verify_audit_trail` over ``window`` of ``location`` (and its signed checkpoints
    when ``checkpoints`` carries a verifier key)."""
    return verify_audit_trail(
        location.text,
        start=window.start,
        end=window.end,
        progress=s3.progress,
        checkpoints=checkpoints,
        **s3.for_location(location),
    )
