"""``kms-report`` (runbook §3, checklist: quarterly KMS check): objects per KMS key id.

For the original version of every log object in the window: the SSE-KMS key id (``none`` for
objects without SSE-KMS). Per key: object count, first and last day it was used, and the latest
retain-until among its objects (decrypt access to a key must outlive that date). Then one ranged
GET per key, of its newest object, proves the key still decrypts; exit 1 if any key in use
cannot. With ``--expect-key-id`` (repeatable), a key in use that is not one of those is a
finding too (exit 1): objects written under a key nobody approved, or still under ``none`` after
SSE-KMS was switched on. Key ids are compared as S3 reports them (``SSEKMSKeyId``, on AWS the
key ARN; a bare key id matches the ARN ending in ``key/<id>``); aliases are not resolved. One
HEAD per object plus one GET per key.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ..cli_support import EXIT_FAILED, EXIT_OK
from ..layout import day_key
from . import cli
from .forensic import s3_connection
from .records import iso
from .s3_listing import by_key, each_original, window_versions
from .trail import Location, RunOptions, Window

SCHEMA = "mcp-bridge/kms-report/v1"
NO_KMS = "none"


@dataclass(slots=True)
class KeyUse:
    key_id: str
    objects: int = 0
    first_day: date | None = None
    last_day: date | None = None
    latest_retain_until: datetime | None = None
    probe: tuple[str, str] | None = None  # newest object (key, version) under this KMS key
    decrypts: bool | None = None
    error: str | None = None
    expected: bool | None = None  # None: no --expect-key-id given

    def add(self, day: date, until: datetime | None, obj: tuple[str, str]) -> None:
        self.objects += 1
        self.first_day = min(self.first_day or day, day)
        if self.last_day is None or day >= self.last_day:
            self.last_day, self.probe = day, obj
        if until is not None:
            self.latest_retain_until = max(self.latest_retain_until or until, until)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kmsKeyId": self.key_id,
            "objects": self.objects,
            "firstDay": day_key(self.first_day) if self.first_day else None,
            "lastDay": day_key(self.last_day) if self.last_day else None,
            "latestRetainUntil": iso(self.latest_retain_until),
            "probedObject": f"{self.probe[0]}?versionId={self.probe[1]}" if self.probe else None,
            "decrypts": self.decrypts,
            "error": self.error,
            "expected": self.expected,
        }

    def render(self) -> str:
        state = "decrypts" if self.decrypts else f"CANNOT DECRYPT ({self.error})"
        if self.expected is False:
            state += "; NOT AN EXPECTED KEY (unexpected_kms_key)"
        first = day_key(self.first_day) if self.first_day else "-"
        last = day_key(self.last_day) if self.last_day else "-"
        return (
            f"  {self.key_id}: {self.objects} object(s), {first} .. {last}, keep until "
            f"{iso(self.latest_retain_until) or 'no retention'}; {state}"
        )


@dataclass(slots=True)
class KmsReport:
    location: str
    keys: list[KeyUse] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(use.decrypts and use.expected is not False for use in self.keys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "location": self.location,
            "keys": [use.to_dict() for use in self.keys],
            "unexpectedKeys": [use.key_id for use in self.keys if use.expected is False],
        }

    def render_text(self) -> str:
        lines = [f"KMS keys of {self.location}: {len(self.keys)}"]
        lines.extend(use.render() for use in self.keys)
        undecryptable = [use.key_id for use in self.keys if not use.decrypts]
        unexpected = [use.key_id for use in self.keys if use.expected is False]
        if undecryptable:
            lines.append(f"FAILED: key(s) in use that cannot decrypt: {', '.join(undecryptable)}")
        if unexpected:
            lines.append(f"FAILED: key(s) in use not expected: {', '.join(unexpected)}")
        if self.ok:
            lines.append("OK: every key in use decrypts")
        return "\n".join(lines)


def is_expected(key_id: str, expected: Sequence[str]) -> bool:
    """``key_id`` as S3 reports it is one of ``expected`` (an id matches its ARN)."""
    return any(key_id == want or key_id.endswith(f":key/{want}") for want in expected)


def kms_report(
    location: Location, window: Window, s3: RunOptions, expected: Sequence[str] = ()
) -> KmsReport:
    from ..storage.s3.ops import head_version, probe_read

    assert location.bucket is not None
    conn = s3_connection(s3)
    uses: dict[str, KeyUse] = {}
    grouped = by_key(location, window_versions(conn, location, window))
    for key, entry, original in each_original(grouped, s3.progress):
        if original.size == 0:  # forward markers carry no data
            continue
        head = head_version(conn, location.bucket, key, original.version_id)
        key_id = head.kms_key_id or NO_KMS
        until = head.retain_until.astimezone(UTC) if head.retain_until else None
        uses.setdefault(key_id, KeyUse(key_id)).add(entry.day, until, (key, original.version_id))
    for use in uses.values():
        assert use.probe is not None
        use.error = probe_read(conn, location.bucket, *use.probe)
        use.decrypts = use.error is None
        use.expected = is_expected(use.key_id, expected) if expected else None
    return KmsReport(location.text, [uses[k] for k in sorted(uses)])


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("kms-report", "objects per KMS key id, and whether each key still decrypts")
    made.add_argument("path", help="the audit trail: s3://bucket/prefix")
    made.add_argument(
        "--expect-key-id",
        action="append",
        default=[],
        metavar="KEY_ID",
        help="a key id (or ARN) objects may use, repeatable; `none` allows objects without "
        "SSE-KMS; any other key in use is a finding (exit 1)",
    )
    cli.add_window(made)
    cli.add_s3(made)
    return made


def execute(args: argparse.Namespace) -> int:
    location = cli.s3_location(
        args.path,
        "kms-report reads SSE-KMS headers of S3 objects; a local store is not encrypted by "
        "mcp-bridge (use an encrypted file system)",
    )
    with cli.options(args, "reading KMS headers") as s3:
        report = kms_report(location, cli.window_of(args), s3, args.expect_key_id)
    cli.emit(report.to_dict(), report.render_text(), args.json)
    return EXIT_OK if report.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(build_parser(), argv, execute)
