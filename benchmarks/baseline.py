"""The baseline: what the original project did, kept small so its cost is easy to read.

Writer: per event, ``json.dumps(event, sort_keys=True, separators=(",", ":"))`` of the event
without ``hash`` → SHA-256 → add ``hash`` → serialise again → write + flush to
``root/YYYY/MM/DD.jsonl`` (one file per UTC day). It never fsyncs: a record can be lost in a
crash after ``record_event`` returned, so its rate is *not* a durable rate.

Verifier: re-read each line, ``json.loads``, pop ``hash``, re-serialise with sorted keys,
re-hash, check ``previousHash`` links to the previous record.

Run as ``python -m benchmarks.baseline verify DIR`` to verify in a child process (prints the
number of checked events; exit code 1 on a broken chain).
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

GENESIS_HASH = "0" * 64


def _canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


class BaselineWriter:
    """One record per call, hashed and written under a lock; not durable (no fsync)."""

    def __init__(
        self,
        root: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        flush: bool = True,
    ) -> None:
        """``flush=False`` only for generating big logs quickly: same bytes, fewer syscalls."""
        self.root = root
        self._clock = clock
        self._flush = flush
        self._lock = threading.Lock()
        self._previous = GENESIS_HASH
        self._day = ""
        self._file: IO[str] | None = None

    def record_event(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            event: dict[str, Any] = {
                "eventId": str(uuid.uuid4()),
                "timestamp": now.isoformat(),
                "eventType": event_type,
                "payload": payload,
                "previousHash": self._previous,
            }
            event["hash"] = hashlib.sha256(_canonical(event).encode()).hexdigest()
            handle = self._file_for(now)
            handle.write(_canonical(event) + "\n")
            if self._flush:
                handle.flush()
            self._previous = event["hash"]
            return event

    def _file_for(self, now: datetime) -> IO[str]:
        day = now.strftime("%Y/%m/%d")
        if self._file is None or day != self._day:
            self.close()
            path = self.root / f"{day}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file, self._day = path.open("a", encoding="utf-8"), day
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def verify(root: Path) -> tuple[bool, int]:
    """``(ok, checked_events)`` for the baseline log under ``root``, day files in order."""
    previous, checked = GENESIS_HASH, 0
    for path in sorted(root.glob("*/*/*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                event = json.loads(line)
                stored = event.pop("hash")
                digest = hashlib.sha256(_canonical(event).encode()).hexdigest()
                if digest != stored or event["previousHash"] != previous:
                    return False, checked
                previous, checked = stored, checked + 1
    return True, checked


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "verify":
        print("usage: python -m benchmarks.baseline verify DIR", file=sys.stderr)
        return 2
    ok, checked = verify(Path(argv[1]))
    print(checked)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
