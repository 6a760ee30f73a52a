"""Partition naming shared by every driver and verifier: one partition per UTC day.

A partition's name is ``YYYY/MM/DD`` (the runbook's ``--start/--end`` keys). The local driver
stores it as ``YYYY/MM/DD.jsonl``; the S3 driver as segment objects under ``prefix/YYYY/MM/DD/``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from .errors import AuditUsageError

_DAY_KEY = re.compile(r"(\d{4})/(\d{2})/(\d{2})\Z")


def day_key(day: date) -> str:
    """``2026/11/27`` for 27 November 2026."""
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


def parse_day_key(text: str, *, option: str = "date") -> date:
    """Parse ``YYYY/MM/DD``; a malformed or impossible date is a usage error naming ``option``."""
    match = _DAY_KEY.match(text.strip())
    if not match:
        raise AuditUsageError(f"{option} {text!r} is not a date in the form YYYY/MM/DD")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise AuditUsageError(f"{option} {text!r} is not a valid date: {exc}") from None


def check_window(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise AuditUsageError(
            f"--start {day_key(start)} is after --end {day_key(end)}: the window is empty"
        )


def lookback_window(today: date, days: int) -> tuple[date, date]:
    """The last ``days`` UTC days ending with ``today`` (inclusive)."""
    return today - timedelta(days=days - 1), today


def local_partition_path(day: date) -> str:
    """Relative path of a day's file in the local store."""
    return f"{day_key(day)}.jsonl"


def day_of_timestamp(timestamp: str) -> date:
    return date.fromisoformat(timestamp[:10])
