"""Recomputing the Merkle tree of ``verify --vkey`` on a second core.

Hashing the tree costs two small SHA-256 calls per record, about a third of what the chain check
costs per record, and both run in one Python process (one GIL). Once a sequential pass has
shown it is long (:data:`OFFLOAD_AFTER` records, :data:`SPAWNED_AFTER` where the helper must be
spawned) and a second core is available, the
:class:`~.tree_stream.TreeFeed` state (a compact range, a few hundred bytes) moves to a helper
process and the chain pass only forwards the record hashes it already holds, 64 hex bytes per
record in batches of :data:`_BATCH`. The helper answers with the same
:class:`~.tree_stream.Recomputed` the in-process feed gives, so the checks that follow are the
same whichever ran. A short pass never starts a process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection

from .errors import AuditStorageError
from .helper_process import Helper, start_helper, stop_helper
from .tree_stream import Recomputed, TreeFeed, feed_result

logger = logging.getLogger(__name__)

#: Records hashed in process before the rest goes to a helper process: a forked helper starts
#: in a few milliseconds, less than hashing 16,384 records takes; a spawned one (a program with
#: threads) imports the package first.
OFFLOAD_AFTER = 1 << 14
SPAWNED_AFTER = 1 << 19
_BATCH = 8192
_HEX = 64


class OffloadedFeed:
    """A :class:`~.chain.RecordHashes` sink that hashes in a helper once the stream is long."""

    def __init__(self, sizes: Sequence[int], *, after: int | None = None) -> None:
        self.local = TreeFeed(sizes)
        forks = threading.active_count() == 1
        self._after = after if after is not None else OFFLOAD_AFTER if forks else SPAWNED_AFTER
        self._cores = len(os.sched_getaffinity(0))
        self._helper: Helper | None = None
        self._pending: list[bytes] = []
        self._first = 0
        self.offloaded = False

    def add(self, seq: int, hexes: list[bytes]) -> None:
        if self._helper is None:
            self.local.add(seq, hexes)
            size = self.local.size
            if size is not None and size >= self._after and self._cores > 1:
                self._start()
            return
        if self._pending and seq != self._first + len(self._pending):
            self._send()
        if not self._pending:
            self._first = seq
        self._pending.extend(hexes)
        if len(self._pending) >= _BATCH:
            self._send()

    def broken(self, at: int) -> None:
        if self._helper is None:
            self.local.broken(at)
            return
        self._send()
        self._call(("broken", at))

    def result(self) -> Recomputed:
        """What the records gave (waits for the helper, which then exits)."""
        helper = self._helper
        if helper is None:
            return feed_result(self.local)
        self._send()
        self._call(None)
        try:
            answer = helper[0].recv()
        except (OSError, EOFError) as exc:
            raise self._lost(exc) from None
        finally:
            self._stop()
        if not isinstance(answer, Recomputed):
            raise AuditStorageError(f"the tree hashing process failed: {answer}")
        return answer

    def _start(self) -> None:
        """Move the feed to a helper; if none can be started, keep hashing here."""
        self._cores = 1  # one attempt only
        try:
            self._helper = start_helper(serve, self.local, "audit-tree-hash")
        except Exception as exc:  # any failure: hashing here is right
            logger.warning("tree hashing stays in this process: no helper process (%s)", exc)
            return
        self.offloaded = True

    def _send(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending = []
            self._call((self._first, data))

    def _call(self, message: object) -> None:
        assert self._helper is not None
        try:
            self._helper[0].send(message)
        except (OSError, EOFError) as exc:
            self._stop()
            raise self._lost(exc) from None

    def _lost(self, exc: BaseException) -> AuditStorageError:
        return AuditStorageError(
            f"the tree hashing process stopped ({exc or type(exc).__name__}); verify again"
        )

    def _stop(self) -> None:
        helper, self._helper = self._helper, None
        stop_helper(helper, goodbye=None)


def serve(conn: Connection, feed: TreeFeed) -> None:
    """The helper: take batches of hex hashes into ``feed``; on ``None`` answer its result."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            try:
                conn.send(feed_result(feed))
            except Exception as exc:  # answer with the cause rather than a silent EOF
                conn.send(repr(exc))
            return
        if message[0] == "broken":
            feed.broken(message[1])
            continue
        first, data = message
        feed.add(first, [data[i : i + _HEX] for i in range(0, len(data), _HEX)])
