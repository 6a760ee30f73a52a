"""``retention-report`` (checklist: monthly retention review): Object Lock against policy.

Per day: the Object Lock modes found and the range of retain-until dates of the original
version of every log object, next to the policy (``AUDIT_S3_OBJECT_LOCK_MODE``/``_DAYS`` or
``--object-lock-mode/--object-lock-days``) and the bucket's default retention. Objects below
policy are listed with a reason code (``no_retention``, ``mode_mismatch``,
``retention_too_short``: retain-until earlier than the object's upload time + the policy days,
less one hour of grace for the time between the newest record and its upload), and objects whose
retention ends within ``--expiring-within DAYS``. Exit 1 if any object violates policy.
One HEAD request per object.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..cli_support import EXIT_FAILED, EXIT_OK
from ..errors import AuditUsageError
from ..layout import day_key
from . import cli
from .forensic import s3_connection
from .records import iso
from .s3_listing import by_key, each_original, window_versions
from .trail import Location, RunOptions, Window

SCHEMA = "mcp-bridge/retention-report/v1"
GRACE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Policy:
    mode: str | None
    days: int

    @property
    def label(self) -> str:
        return f"{(self.mode or 'any mode').upper()}, {self.days} day(s)"


@dataclass(slots=True)
class DayRow:
    day: date
    objects: int = 0
    modes: dict[str, int] = field(default_factory=dict)
    earliest: datetime | None = None
    latest: datetime | None = None

    def add(self, mode: str | None, until: datetime | None) -> None:
        self.objects += 1
        self.modes[mode or "none"] = self.modes.get(mode or "none", 0) + 1
        if until is not None:
            self.earliest = min(self.earliest or until, until)
            self.latest = max(self.latest or until, until)

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": day_key(self.day),
            "objects": self.objects,
            "modes": self.modes,
            "retainUntilFrom": iso(self.earliest),
            "retainUntilTo": iso(self.latest),
        }


@dataclass(slots=True)
class RetentionReport:
    location: str
    policy: Policy
    bucket_default: dict[str, Any] | None
    days: list[DayRow] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    expiring: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "location": self.location,
            "policy": {"mode": self.policy.mode, "days": self.policy.days},
            "bucketDefault": self.bucket_default,
            "days": [row.to_dict() for row in self.days],
            "violations": self.violations,
            "expiring": self.expiring,
        }

    def render_text(self) -> str:
        lines = [
            f"retention of {self.location}: policy {self.policy.label}; bucket default "
            f"{self.bucket_default or 'none'}"
        ]
        for row in self.days:
            modes = ", ".join(f"{m} {n}" for m, n in sorted(row.modes.items()))
            lines.append(
                f"  {day_key(row.day)}: {row.objects} object(s) [{modes}] retain-until "
                f"{iso(row.earliest)} .. {iso(row.latest)}"
            )
        lines.extend(
            f"VIOLATION {v['reason']}: {v['key']}: {v['message']}" for v in self.violations
        )
        lines.extend(f"expiring: {e['key']} on {e['retainUntil']}" for e in self.expiring)
        verdict = (
            "OK: every object meets policy" if self.ok else f"{len(self.violations)} violation(s)"
        )
        lines.append(verdict)
        return "\n".join(lines)


def _judge(
    key: str, mode: str | None, until: datetime | None, uploaded: datetime | None, policy: Policy
) -> dict[str, Any] | None:
    def violation(reason: str, message: str) -> dict[str, Any]:
        return {"key": key, "reason": reason, "message": message, "retainUntil": iso(until)}

    if not mode or until is None:
        return violation("no_retention", f"no Object Lock retention; {policy.label} required")
    if policy.mode and mode.upper() != policy.mode.upper():
        return violation("mode_mismatch", f"mode {mode}; {policy.mode.upper()} required")
    if uploaded is not None:
        required = uploaded + timedelta(days=policy.days) - GRACE
        if until < required:
            return violation(
                "retention_too_short",
                f"retain-until {iso(until)} is before upload {iso(uploaded)} + {policy.days} "
                f"day(s) (at least {iso(required)})",
            )
    return None


def retention_report(
    location: Location, window: Window, policy: Policy, s3: RunOptions, expiring_within: int | None
) -> RetentionReport:
    from ..storage.s3.ops import bucket_controls, head_version

    assert location.bucket is not None
    conn = s3_connection(s3)
    lock = bucket_controls(conn, location.bucket).object_lock or {}
    default = lock.get("Rule", {}).get("DefaultRetention")
    report = RetentionReport(location.text, policy, default)
    rows: dict[date, DayRow] = {}
    horizon = datetime.now(UTC) + timedelta(days=expiring_within or 0)
    grouped = by_key(location, window_versions(conn, location, window))
    for key, entry, original in each_original(grouped, s3.progress):
        head = head_version(conn, location.bucket, key, original.version_id)
        until = head.retain_until.astimezone(UTC) if head.retain_until else None
        rows.setdefault(entry.day, DayRow(entry.day)).add(head.lock_mode, until)
        found = _judge(key, head.lock_mode, until, head.last_modified, policy)
        if found is not None:
            report.violations.append(found)
        if expiring_within is not None and until is not None and until <= horizon:
            report.expiring.append({"key": key, "retainUntil": iso(until)})
    report.days = [rows[day] for day in sorted(rows)]
    _check_default(report, default, policy)
    return report


def _check_default(report: RetentionReport, default: dict[str, Any] | None, policy: Policy) -> None:
    """A bucket default weaker than the policy is a violation of its own."""
    if not default:
        return
    days = int(default.get("Days") or 0) + 365 * int(default.get("Years") or 0)
    mode = str(default.get("Mode", ""))
    if days < policy.days or (policy.mode and mode.upper() != policy.mode.upper()):
        report.violations.append(
            {
                "key": "(bucket default)",
                "reason": "bucket_default_below_policy",
                "message": f"bucket default {mode} {days} day(s); {policy.label} required",
                "retainUntil": None,
            }
        )


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("retention-report", "Object Lock retention per day against policy")
    made.add_argument("path", help="the audit trail: s3://bucket/prefix")
    cli.add_lock_options(made, "the policy requires")
    made.add_argument(
        "--expiring-within", type=int, metavar="DAYS", help="list retention ending within DAYS"
    )
    cli.add_window(made)
    cli.add_s3(made)
    return made


def execute(args: argparse.Namespace) -> int:
    from ...config import load_config

    location = cli.s3_location(
        args.path,
        "retention-report reads S3 Object Lock retention; a local store has none (its "
        "retention is that of its backups)",
    )
    config = load_config()
    days = args.object_lock_days or config.audit_s3_object_lock_days
    if not days or days < 1:
        raise AuditUsageError(
            "no retention policy: set AUDIT_S3_OBJECT_LOCK_DAYS or pass --object-lock-days N (≥ 1)"
        )
    policy = Policy(args.object_lock_mode or config.audit_s3_object_lock_mode, days)
    with cli.options(args, "reading retention") as s3:
        report = retention_report(location, cli.window_of(args), policy, s3, args.expiring_within)
    cli.emit(report.to_dict(), report.render_text(), args.json)
    return EXIT_OK if report.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(build_parser(), argv, execute)
