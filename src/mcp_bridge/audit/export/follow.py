"""``export --follow``: tail the trail into a sink, from a durable cursor, at least once.

Each poll re-reads the trail through the verifier from the cursor's partition on (the cursor
record itself is read again and must still carry the cursor's hash: the follower proves it
resumes on the same chain). Rows after the cursor are gathered into a batch of at most
``batch_size`` rows, the bounded in-memory queue: when it is full, reading pauses until the
sink has acknowledged it, so a slow or failing sink never makes memory grow and never makes
the follower skip anything; what it has not delivered yet it reads again from the trail.
The cursor is saved only after an acknowledgement, so a crash re-delivers (never loses) the
last batch; rows carry ``seq`` for the receiver to deduplicate.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..checkpoint_store import CheckpointStore
from ..engine import RecordSource
from ..errors import AuditError
from ..layout import parse_day_key
from ..results import VerificationResult
from .checkpoints import CoveringCheckpoints
from .cursor import Cursor, load_cursor, save_cursor
from .reader import Selection, read_rows
from .rows import ExportRow
from .sinks import Sink, SinkUnavailable


class FollowStopped(Exception):
    """Raised inside a poll when a stop was requested; the batch in hand is not acknowledged."""


class ChainProblem(AuditError):
    """The trail fails verification (or no longer holds the cursor's record): exit 1."""

    exit_code = 1
    hint = (
        "run `python -m mcp_bridge.audit verify` on the trail and follow the incident runbook; "
        "--allow-unverified streams flagged rows instead of stopping"
    )


@dataclass(frozen=True, slots=True)
class FollowSettings:
    poll_interval: float = 2.0
    batch_size: int = 500
    max_retries: int = 0  # 0 = retry for ever
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    allow_unverified: bool = False


class Follower:
    """One follower: ``run()`` polls until ``stop`` is set; ``poll()`` does one pass."""

    def __init__(
        self,
        open_source: Callable[[], RecordSource],
        sink: Sink,
        cursor_path: Path | None,
        settings: FollowSettings,
        *,
        start: Selection | None = None,
        stop: threading.Event | None = None,
        log: Callable[[str], None] = lambda message: None,
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        self._open_source = open_source
        self._sink = sink
        self._cursor_path = cursor_path
        self._settings = settings
        self._start = start or Selection()
        self._stop = stop or threading.Event()
        self._log = log
        self._checkpoints = checkpoints
        self._cursor = load_cursor(cursor_path) if cursor_path else None
        self._batch: list[ExportRow] = []
        self._seen_cursor = False
        self.delivered = 0

    @property
    def cursor(self) -> Cursor | None:
        return self._cursor

    def run(self) -> None:
        """Poll, deliver, wait; until ``stop`` is set (then return quietly)."""
        while not self._stop.is_set():
            try:
                self.poll()
            except FollowStopped:
                return
            self._stop.wait(self._settings.poll_interval)

    def poll(self) -> VerificationResult:
        """Read everything after the cursor through the verifier and deliver it."""
        self._batch = []
        self._seen_cursor = self._cursor is None
        selection = self._selection()
        covering = None
        if self._checkpoints is not None:
            listed = CoveringCheckpoints.listed(self._checkpoints, selection.first_seq or 0)
            covering = listed.covering
        result = read_rows(self._open_source(), selection, self._take, covering=covering)
        self._flush()
        if not result.ok and not self._settings.allow_unverified:
            raise ChainProblem(f"the trail fails verification: {result.message}")
        if not result.ok:
            self._log(f"warning: {result.message} (rows streamed flagged)")
        return result

    def _selection(self) -> Selection:
        cursor = self._cursor
        if cursor is None:
            return self._start
        return Selection(start=_day(cursor.partition), first_seq=cursor.seq)

    def _take(self, row: ExportRow) -> None:
        cursor = self._cursor
        if cursor is not None and not self._seen_cursor:
            if row.seq != cursor.seq or row.hash != cursor.hash:
                raise ChainProblem(
                    f"the cursor's record (seq {cursor.seq}, hash {cursor.hash[:16]}…) is not in "
                    f"the trail: found seq {row.seq} hash {row.hash[:16]}… in {row.segment}"
                )
            self._seen_cursor = True
            return
        if not row.verified and not self._settings.allow_unverified:
            self._flush()
            raise ChainProblem(
                f"seq {row.seq} in {row.segment} line {row.line} fails verification; "
                f"everything before it was delivered"
            )
        self._batch.append(row)
        if len(self._batch) >= self._settings.batch_size:
            self._flush()

    def _flush(self) -> None:
        """Deliver the batch (retrying with backoff), then move the cursor past it."""
        if not self._batch:
            return
        batch = self._batch
        self._deliver(batch)
        last = batch[-1]
        self._cursor = Cursor(last.seq, last.hash, last.partition)
        if self._cursor_path is not None:
            save_cursor(self._cursor_path, self._cursor)
        self.delivered += len(batch)
        self._batch = []

    def _deliver(self, batch: list[ExportRow]) -> None:
        settings = self._settings
        failures = 0
        while True:
            if self._stop.is_set():
                raise FollowStopped
            try:
                self._sink.send(batch)
                return
            except SinkUnavailable as exc:
                failures += 1
                if settings.max_retries and failures > settings.max_retries:
                    raise
                delay = min(settings.backoff_max, settings.backoff_initial * 2 ** (failures - 1))
                delay *= random.uniform(0.5, 1.0)
                self._log(
                    f"delivery of seq {batch[0].seq}..{batch[-1].seq} failed ({exc}); "
                    f"retry {failures} in {delay:.1f}s"
                )
                self._stop.wait(delay)


def _day(partition: str) -> date:
    return parse_day_key(partition, option="cursor partition")
