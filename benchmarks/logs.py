"""Writing big logs fast, ours and the baseline's, with the same payloads and time span.

Our log is sealed in batches of 5,000 straight into the local store (``LocalStore.append``, the
path the group committer takes under load), so a million records take seconds, not minutes.
Both logs span a few UTC days so verifiers cross partition files as they would in production.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mcp_bridge.audit.sequencing import PendingEvent
from mcp_bridge.audit.storage.local.store import LocalStore

from .baseline import BaselineWriter
from .workload import EVENT_TYPE, payload_cycle

_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_BATCH = 5_000


def _moment(index: int, total: int, days: int) -> datetime:
    """Time of event ``index`` when ``total`` events are spread evenly over ``days`` days."""
    return _START + timedelta(days=days) * index / max(total, 1)


def write_ours(root: Path, events: int, *, days: int = 3) -> None:
    """``events`` records in our format under ``root`` (a fresh directory)."""
    pending = [PendingEvent.create(EVENT_TYPE, payload) for payload in payload_cycle()]
    store = LocalStore(root)
    try:
        for first in range(0, events, _BATCH):
            count = min(_BATCH, events - first)
            batch = [pending[(first + k) % len(pending)] for k in range(count)]
            store.append(batch, _moment(first, events, days))
    finally:
        store.close()


def write_baseline(root: Path, events: int, *, days: int = 3) -> None:
    """``events`` records in the baseline format, written by the baseline writer itself."""
    payloads = payload_cycle()
    counter = itertools.count()
    writer = BaselineWriter(root, lambda: _moment(next(counter), events, days), flush=False)
    try:
        for index in range(events):
            writer.record_event(EVENT_TYPE, payloads[index % len(payloads)])
    finally:
        writer.close()
