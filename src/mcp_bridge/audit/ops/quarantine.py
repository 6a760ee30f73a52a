"""``quarantine`` (runbook §4 step 1): copy what an incident touches to a forensic location.

From a window (``--start/--end``) or a verification report (``--from-report report.json``), copy
every affected local day file, or every version and delete marker of every affected S3 key,
to ``--to DIR`` or ``--to s3://bucket/prefix``; write a manifest with the SHA-256 of each copy
and the source's version ids, retention, legal hold, KMS key id and ETag; read every copy back
and compare. The source is only read (``--legal-hold`` additionally places a legal hold on the
S3 originals). Copies are created once under names derived from their content or version id,
so a second run adds nothing and overwrites nothing.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cli_support import EXIT_FAILED, EXIT_OK
from ..errors import AuditUsageError
from ..layout import day_key
from . import cli
from .forensic import ForensicTarget, open_target, s3_connection
from .manifest import (
    MANIFEST_SCHEMA,
    Item,
    copy_items,
    day_copy_name,
    marker_copy_name,
    version_copy_name,
)
from .records import iso, iso_now, operator, sha256_bytes, sha256_file, utc_stamp
from .s3_listing import window_versions
from .trail import (
    FROM_ENV,
    WHOLE,
    Location,
    RunOptions,
    Window,
    local_days,
    local_file,
    parse_location,
    read_report,
    verify_window,
    within,
)

if TYPE_CHECKING:
    from ..storage.s3.client import S3Connection

SCHEMA = "mcp-bridge/quarantine/v1"


@dataclass(slots=True)
class QuarantineResult:
    source: str
    target: str
    items: list[Item] = field(default_factory=list)
    legal_holds: int = 0
    manifest: str | None = None
    manifest_sha256: str | None = None
    problems: list[str] = field(default_factory=list)
    verification: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def changed(self) -> bool:
        return self.manifest is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "source": self.source,
            "target": self.target,
            "items": len(self.items),
            "newCopies": sum(item.new for item in self.items),
            "legalHoldsPlaced": self.legal_holds,
            "copiesVerified": all(item.copy_ok for item in self.items),
            "manifest": self.manifest,
            "manifestSha256": self.manifest_sha256,
            "problems": self.problems,
            "copies": [item.to_dict() for item in self.items],
        }

    def render_text(self) -> str:
        new = sum(item.new for item in self.items)
        lines = [
            f"quarantined {len(self.items)} item(s) of {self.source} into {self.target}: "
            f"{new} new cop{'y' if new == 1 else 'ies'}, {len(self.items) - new} already there, "
            f"every copy verified by SHA-256"
            if self.ok
            else "; copies NOT all verified"
        ]
        if self.legal_holds:
            lines.append(f"legal hold placed on {self.legal_holds} object version(s)")
        if self.manifest:
            lines.append(f"manifest: {self.manifest} (sha256 {self.manifest_sha256})")
        else:
            lines.append("nothing new: no manifest written, nothing changed")
        lines.extend(f"problem: {problem}" for problem in self.problems)
        return "\n".join(lines)


def quarantine(
    source: Location,
    to: Location,
    *,
    window: Window = WHOLE,
    report: Path | None = None,
    legal_hold: bool = False,
    s3: RunOptions = FROM_ENV,
    incident: str | None = None,
) -> QuarantineResult:
    """Copy, record, verify; see the module docstring. Never modifies ``source``'s data."""
    if legal_hold and not source.is_s3:
        raise AuditUsageError(
            "--legal-hold applies to S3 only: local files have no legal hold",
            hint="protect the forensic copies with file-system permissions instead",
        )
    if within(to, source):
        raise AuditUsageError(
            f"--to {to.text} overlaps the audit trail {source.text}",
            hint="quarantine into a directory, prefix or bucket of its own: copies inside the "
            "trail would change the trail they are evidence of",
        )
    target = open_target(to, s3)
    result = QuarantineResult(source.text, target.description)
    if source.is_s3:
        conn = s3_connection(s3)
        result.items, window = _s3_items(conn, source, window, report)
        result.problems = copy_items(result.items, target, s3.progress)
        if legal_hold:  # after the copies: their facts record the hold as it was found
            result.legal_holds = _hold(conn, source, result.items)
    else:
        result.items, window = _local_items(source, window, report)
        result.problems = copy_items(result.items, target, s3.progress)
    verification = verify_window(source, window, s3)
    result.verification = verification.to_dict()
    if any(item.new for item in result.items) or result.legal_holds:
        _write_manifest(result, target, window, report, incident)
    return result


def _report_window(days: set[date]) -> Window:
    return Window(min(days), max(days)) if days else Window()


def _local_items(
    source: Location, window: Window, report: Path | None
) -> tuple[list[Item], Window]:
    assert source.root is not None
    days = local_days(source.root, window)
    if report is not None:
        scope = read_report(report)
        days = sorted(day for day in scope.days if local_file(source.root, day).exists())
        window = _report_window(scope.days)
    items = []
    for day in days:
        path = local_file(source.root, day)
        name = day_copy_name(day, sha256_file(path))
        items.append(Item(str(path), name, path=path, size=path.stat().st_size))
    return items, window


def _s3_items(
    conn: S3Connection, source: Location, window: Window, report: Path | None
) -> tuple[list[Item], Window]:
    from ..storage.s3.layout import parse_segment_key
    from ..storage.s3.ops import list_version_details

    assert source.bucket is not None
    bucket = source.bucket
    if report is not None:
        keys = read_report(report).keys
        listed = [
            version
            for key in sorted(keys)
            for version in list_version_details(conn, bucket, key)
            if version.key == key
        ]
        days = {p.day for p in (parse_segment_key(source.prefix, k) for k in keys) if p}
        window = _report_window(days)
    else:
        listed = window_versions(conn, source, window)
    items = []
    for version in listed:
        url = f"s3://{bucket}/{version.key}"
        facts: dict[str, Any] = {
            "key": version.key,
            "versionId": version.version_id,
            "deleteMarker": version.delete_marker,
            "isLatest": version.is_latest,
            "etag": version.etag,
            "lastModified": iso(version.last_modified),
        }
        if version.delete_marker:
            name = marker_copy_name(version.key, version.version_id)
            items.append(Item(url, name, bytes, facts=facts))
            continue
        name = version_copy_name(version.key, version.version_id)
        reader = partial(_read, conn, bucket, facts)
        items.append(Item(url, name, reader, facts=facts, size=version.size))
    return items, window


def _read(conn: S3Connection, bucket: str, facts: dict[str, Any]) -> bytes:
    """One GET per version: its bytes, and its retention, legal hold and KMS key as stored."""
    from ..storage.s3.ops import read_with_headers

    body, head = read_with_headers(conn, bucket, facts["key"], facts["versionId"])
    facts.update(
        objectLockMode=head.lock_mode,
        retainUntil=iso(head.retain_until),
        legalHold=head.legal_hold,
        serverSideEncryption=head.encryption,
        kmsKeyId=head.kms_key_id,
    )
    return body


def _hold(conn: S3Connection, source: Location, items: Sequence[Item]) -> int:
    """Legal hold ON for every data version that lacks one; the count newly placed."""
    from ..storage.s3.ops import place_legal_hold

    assert source.bucket is not None
    placed = 0
    for item in items:
        facts = item.facts
        if facts["deleteMarker"] or facts.get("legalHold") == "ON":
            continue
        place_legal_hold(conn, source.bucket, facts["key"], facts["versionId"])
        facts["legalHoldPlaced"] = True
        placed += 1
    return placed


def _write_manifest(
    result: QuarantineResult,
    target: ForensicTarget,
    window: Window,
    report: Path | None,
    incident: str | None,
) -> None:
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "source": result.source,
        "target": result.target,
        "window": {
            "start": day_key(window.start) if window.start else None,
            "end": day_key(window.end) if window.end else None,
        },
        "fromReport": str(report) if report else None,
        "incident": incident,
        "operator": operator(),
        "at": iso_now(),
        "items": [item.to_dict() for item in result.items],
        "legalHoldsPlaced": result.legal_holds,
        "copiesVerified": all(item.copy_ok for item in result.items),
        "verification": result.verification,
    }
    data = (json.dumps(manifest, indent=2, default=str) + "\n").encode()
    name = f"manifests/quarantine-{utc_stamp()}.json"
    target.create(name, data)
    result.manifest, result.manifest_sha256 = target.url(name), sha256_bytes(data)


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("quarantine", "copy what an incident touches to a forensic location")
    add_arguments(made)
    return made


def add_arguments(made: argparse.ArgumentParser) -> None:
    made.add_argument("path", help="the audit trail: a directory or s3://bucket/prefix")
    made.add_argument(
        "--to",
        "--forensic",
        dest="to",
        required=True,
        help="forensic location: a directory or s3://bucket/prefix (copies are never replaced)",
    )
    made.add_argument(
        "--from-report", type=Path, help="quarantine what this `verify --json` report names"
    )
    made.add_argument(
        "--legal-hold", action="store_true", help="S3: also place a legal hold on the originals"
    )
    cli.add_window(made)
    cli.add_s3(made)
    cli.add_incident(made)


def execute(args: argparse.Namespace, argv: Sequence[str]) -> int:
    window = cli.window_of(args)
    if args.from_report is not None and (window.start or window.end):
        raise AuditUsageError("give either --from-report or --start/--end, not both")
    source = parse_location(args.path)
    records = cli.ops_records(source)
    with cli.options(args, "quarantining") as run:
        result = quarantine(
            source,
            parse_location(args.to, must_exist=False),
            window=window,
            report=args.from_report,
            legal_hold=args.legal_hold,
            s3=run,
            incident=args.incident,
        )
    document = result.to_dict()
    if result.changed:
        record = records.write("quarantine", argv, incident=args.incident, result=document)
        document["opsRecord"] = str(record)
    cli.emit(document, result.render_text(), args.json)
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    made = build_parser()
    words = cli.argv_or_sys(argv)
    return cli.run(made, words, lambda args: execute(args, words))
