"""``locate`` (runbook §4 step 2): the earliest failing event with its neighbours.

Verifies the window with :func:`verify_audit_trail`, takes the earliest failure (chain order)
and reads the records around it from the same source: the last record before it (the last one
known to chain) and the records after it, each with its location, line, seq, eventId,
timestamp, event type and whether its hash recomputes.
"""

from __future__ import annotations

import argparse
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cli_support import EXIT_FAILED, EXIT_OK
from ..records import MalformedLine, body_hash, decode_record, parse_header
from ..results import Failure, VerificationResult
from . import cli
from .trail import (
    FROM_ENV,
    WHOLE,
    Location,
    RunOptions,
    Window,
    iter_lines,
    parse_location,
    verify_window,
)

SCHEMA = "mcp-bridge/locate/v1"


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One stored line near the failure, described without trusting it."""

    location: str
    line: int
    seq: int | None
    event_id: str | None
    timestamp: str | None
    event_type: str | None
    hash_ok: bool
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "line": self.line,
            "seq": self.seq,
            "eventId": self.event_id,
            "timestamp": self.timestamp,
            "eventType": self.event_type,
            "hashOk": self.hash_ok,
            "text": self.text,
        }

    def render(self) -> str:
        state = "hash ok" if self.hash_ok else "HASH/FORMAT BAD"
        return (
            f"{self.location}:{self.line} seq {self.seq} {self.timestamp} {self.event_type} "
            f"eventId {self.event_id} ({state})"
        )


def describe(location: str, number: int, raw: bytes) -> Neighbour:
    line = raw.rstrip(b"\n")
    try:
        header = parse_header(line)
        record = decode_record(line)
    except MalformedLine:
        return Neighbour(location, number, None, None, None, None, False, _clip(line))
    return Neighbour(
        location,
        number,
        header.seq,
        str(record.get("eventId")),
        header.timestamp,
        str(record.get("eventType")),
        body_hash(header) == header.hash,
        _clip(line),
    )


def _clip(line: bytes, limit: int = 300) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(slots=True)
class LocateResult:
    verification: VerificationResult
    failure: Failure | None
    before: Neighbour | None = None
    at: Neighbour | None = None
    after: list[Neighbour] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.failure is None,
            "earliestFailure": self.failure.to_dict() if self.failure else None,
            "lastGoodBefore": self.before.to_dict() if self.before else None,
            "failingLine": self.at.to_dict() if self.at else None,
            "after": [n.to_dict() for n in self.after],
            "verification": self.verification.to_dict(),
        }

    def render_text(self) -> str:
        if self.failure is None:
            return f"no failure: {self.verification.summary()}"
        lines = [f"earliest failure: {self.failure.render()}"]
        lines.append(f"last good before: {self.before.render() if self.before else '(none)'}")
        if self.at is not None:
            lines.append(f"failing line:     {self.at.render()}")
        lines.extend(f"after:            {n.render()}" for n in self.after)
        lines.append(self.verification.summary())
        return "\n".join(lines)


def _is_failure_point(failure: Failure, where: str, number: int, found: Neighbour) -> bool:
    if failure.line is not None:
        return where == failure.location and number == failure.line
    if failure.seq is not None and found.seq is not None:
        return found.seq >= failure.seq
    return where == failure.location


def locate(
    location: Location, window: Window = WHOLE, s3: RunOptions = FROM_ENV, *, after: int = 3
) -> LocateResult:
    """Verify ``window`` and describe the earliest failure's neighbourhood."""
    verification = verify_window(location, window, s3)
    result = LocateResult(verification, verification.earliest_failure)
    if result.failure is None:
        return result
    recent: deque[Neighbour] = deque(maxlen=1)
    for where, number, raw in iter_lines(location, window, s3):
        found = describe(where, number, raw)
        if result.at is None:
            if _is_failure_point(result.failure, where, number, found):
                result.before = recent[0] if recent else None
                result.at = found
            else:
                recent.append(found)
        elif len(result.after) < after:
            result.after.append(found)
        else:
            break
    return result


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("locate", "the earliest failing event of a window, with its neighbours")
    add_arguments(made)
    return made


def add_arguments(made: argparse.ArgumentParser) -> None:
    made.add_argument("path", help="the audit trail: a directory or s3://bucket/prefix")
    made.add_argument(
        "--after", type=int, default=3, help="records to show after the failure (default 3)"
    )
    cli.add_window(made)
    cli.add_s3(made)
    cli.add_incident(made)


def execute(args: argparse.Namespace, argv: Sequence[str]) -> int:
    location = parse_location(args.path)
    records = cli.ops_records(location) if args.incident else None
    with cli.options(args) as run:
        result = locate(location, cli.window_of(args), run, after=args.after)
    document = result.to_dict()
    if records is not None:  # with --incident
        path = records.write(
            "locate",
            argv,
            incident=args.incident,
            result=document,
            attachments={"txt": result.render_text()},
        )
        document["opsRecord"] = str(path)
    cli.emit(document, result.render_text(), args.json)
    return EXIT_OK if result.failure is None else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    made = build_parser()
    words = cli.argv_or_sys(argv)
    return cli.run(made, words, lambda args: execute(args, words))
