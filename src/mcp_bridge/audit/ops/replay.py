"""``replay``: the timeline of one request, subject, tool, upstream or session, verified.

Reads the window's records in chain order (as ``verify`` reads them), keeps those matching the
filter, marks each one verified (its hash recomputes and no chain failure precedes it) and pairs
each mutating call's durable intent (``mcp.tools.call.intent``) with its outcome
(``mcp.tools.call``, same correlationId, session and request id). An intent that never got an
outcome is flagged ``intent_without_outcome``; an outcome of a mutating call without its intent
is flagged ``outcome_without_intent``. Exit 1 when anything is flagged or does not verify.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cli_support import EXIT_FAILED, EXIT_OK
from ..errors import AuditPayloadError, AuditUsageError
from ..records import compute_event_hash
from ..results import VerificationResult
from . import cli
from .trail import (
    NOT_CHAIN,
    Event,
    Location,
    RunOptions,
    Window,
    iter_events,
    parse_location,
    verify_window,
)

SCHEMA = "mcp-bridge/replay/v1"
INTENT = "mcp.tools.call.intent"
OUTCOME = "mcp.tools.call"


def _get(payload: Any, *path: str) -> Any:
    for name in path:
        payload = payload.get(name) if isinstance(payload, dict) else None
    return payload


#: Filter name → how to read it from a record's payload.
FILTERS: dict[str, Callable[[Any], Any]] = {
    "correlation_id": lambda p: _get(p, "correlationId"),
    "subject": lambda p: _get(p, "identity", "subject"),
    "tool": lambda p: _get(p, "target", "name") if _get(p, "target", "kind") == "tool" else None,
    "upstream": lambda p: _get(p, "upstream"),
    "session": lambda p: _get(p, "sessionId"),
}


@dataclass(slots=True)
class Row:
    event: Event
    verified: bool
    phase: str  # intent | outcome | event
    paired_with: int | None = None
    flag: str | None = None

    @property
    def record(self) -> dict[str, Any]:
        return self.event.record

    def pair_key(self) -> tuple[Any, ...]:
        payload = self.record.get("payload")
        return tuple(_get(payload, name) for name in ("correlationId", "sessionId", "requestId"))

    def to_dict(self) -> dict[str, Any]:
        payload = self.record.get("payload")
        return {
            "seq": self.record.get("seq"),
            "timestamp": self.record.get("timestamp"),
            "eventId": self.record.get("eventId"),
            "eventType": self.record.get("eventType"),
            "phase": self.phase,
            "tool": _get(payload, "target", "name"),
            "subject": _get(payload, "identity", "subject"),
            "decision": _get(payload, "decision", "outcome"),
            "verified": self.verified,
            "pairedWith": self.paired_with,
            "flag": self.flag,
            "location": f"{self.event.location}:{self.event.line}",
            "payload": payload,
        }

    def render(self) -> str:
        row = self.to_dict()
        mark = "✓" if self.verified else "✗"
        note = f"  ⚑ {self.flag}" if self.flag else ""
        pair = f" ↔ seq {self.paired_with}" if self.paired_with is not None else ""
        return (
            f"{mark} {row['seq']:>6} {row['timestamp']} {row['eventType']:<24} "
            f"{row['tool'] or '-':<20} {row['subject'] or '-':<16} {row['decision'] or '-'}"
            f"{pair}{note}"
        )


@dataclass(slots=True)
class Timeline:
    filters: dict[str, str]
    verification: VerificationResult
    rows: list[Row] = field(default_factory=list)

    @property
    def flagged(self) -> list[Row]:
        return [row for row in self.rows if row.flag]

    @property
    def ok(self) -> bool:
        return not self.flagged and all(row.verified for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "filters": self.filters,
            "events": [row.to_dict() for row in self.rows],
            "flagged": [
                {"seq": r.record.get("seq"), "flag": r.flag, "eventId": r.record.get("eventId")}
                for r in self.flagged
            ],
            "verification": self.verification.to_dict(),
        }

    def render_text(self) -> str:
        chosen = ", ".join(f"{k}={v}" for k, v in self.filters.items())
        lines = [f"timeline of {chosen}: {len(self.rows)} event(s)"]
        lines.extend(row.render() for row in self.rows)
        for row in self.flagged:
            lines.append(
                f"flagged: seq {row.record.get('seq')}: {row.flag}: {_FLAG_TEXT[row.flag]}"
            )
        lines.append(self.verification.summary())
        return "\n".join(lines)


_FLAG_TEXT: dict[str | None, str] = {
    "intent_without_outcome": "the durable intent of a mutating call has no outcome in this "
    "window: the call may have been cut off (bridge crash, upstream hang) or its outcome "
    "lies after --end; check the upstream for its effect",
    "outcome_without_intent": "a mutating call's outcome has no intent before it in this window: "
    "the intent lies before --start, or was never made durable",
}


def _verified(event: Event, chain_break: int | None) -> bool:
    try:
        intact = compute_event_hash(event.record) == event.record.get("hash")
    except (AuditPayloadError, ValueError, TypeError):
        intact = False
    seq = event.record.get("seq")
    return intact and (chain_break is None or (isinstance(seq, int) and seq < chain_break))


def _phase(record: dict[str, Any]) -> str:
    kind = record.get("eventType")
    if kind == INTENT:
        return "intent"
    if kind == OUTCOME and _get(record.get("payload"), "mutating"):
        return "outcome"
    return "event"


def _pair(rows: list[Row]) -> None:
    waiting: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        if row.phase == "intent":
            waiting[row.pair_key()] = row
        elif row.phase == "outcome":
            intent = waiting.pop(row.pair_key(), None)
            if intent is None:
                row.flag = "outcome_without_intent"
            else:
                intent.paired_with, row.paired_with = row.record["seq"], intent.record["seq"]
    for intent in waiting.values():
        intent.flag = "intent_without_outcome"


def replay(location: Location, window: Window, filters: dict[str, str], s3: RunOptions) -> Timeline:
    if not filters:
        raise AuditUsageError(
            "replay needs at least one of --correlation-id, --subject, --tool, --upstream, "
            "--session"
        )
    verification = verify_window(location, window, s3)
    breaks = [
        f.seq for f in verification.failures if f.seq is not None and f.reason not in NOT_CHAIN
    ]
    chain_break = min(breaks) if breaks else None
    timeline = Timeline(filters, verification)
    for event in iter_events(location, window, s3):
        payload = event.record.get("payload")
        if all(FILTERS[name](payload) == value for name, value in filters.items()):
            row = Row(event, _verified(event, chain_break), _phase(event.record))
            timeline.rows.append(row)
    _pair(timeline.rows)
    return timeline


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("replay", "the verified timeline of one request, subject, tool, …")
    made.add_argument("path", help="the audit trail: a directory or s3://bucket/prefix")
    for name in FILTERS:
        made.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"only this {name}")
    cli.add_window(made)
    cli.add_s3(made)
    return made


def execute(args: argparse.Namespace) -> int:
    filters = {name: getattr(args, name) for name in FILTERS if getattr(args, name)}
    with cli.options(args) as run:
        timeline = replay(parse_location(args.path), cli.window_of(args), filters, run)
    cli.emit(timeline.to_dict(), timeline.render_text(), args.json)
    return EXIT_OK if timeline.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(build_parser(), argv, execute)
