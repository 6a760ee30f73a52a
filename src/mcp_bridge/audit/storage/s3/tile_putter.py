"""Hash tiles put from a helper process, so their S3 requests cost the writer's process no CPU.

A checkpoint needs every tile completed since the previous one (one per 256 records) stored
before it is signed. Each PUT costs the calling process about 2 ms of CPU in botocore (measured
against SeaweedFS), and the writer's appends share that process's one GIL: at one tile per 256
records that was most of what checkpoints cost a busy writer. So a batch of
:data:`MIN_BATCH` tiles or more goes to one child process with its own S3 client, which puts
them from a few threads with the same write-once rules (:class:`WriteOnceCheckpoints`: put once
with ``If-None-Match: *`` and the log's Object Lock headers, a lost race compared byte for byte)
and answers once every tile is stored. The checkpoint thread waits for that answer before it
signs, so tiles still come first and a crash loses nothing: tiles are write-once and a
restarted writer rebuilds from the tiles of its newest checkpoint, which were stored before it.

Smaller batches (a quiet writer, most tests) are put in process: starting the child costs more
than they do. A child that died is started again for the next batch; its failure is reported as
storage trouble, so the checkpoint is retried at the next interval. If no child can be started
at all (a program that cannot spawn), tiles are put in process from then on, with a warning:
checkpoints never stop for want of a helper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

from ...checkpoint_store import WriteOnceCheckpoints
from ...errors import AuditCorruptionError, AuditStorageError
from ...helper_process import Helper, start_helper, stop_helper
from .client import ClientOptions, WritePolicy, connect

logger = logging.getLogger(__name__)

#: Batches of at least this many tiles go to the helper process.
MIN_BATCH = 8
_THREADS = 8


@dataclass(frozen=True, slots=True)
class TileTarget:
    """Where the helper puts tiles (everything it needs to open its own S3 client)."""

    options: ClientOptions
    bucket: str
    prefix: str
    policy: WritePolicy


class PutterUnavailable(Exception):
    """No helper process could be started: put the tiles in process."""


class TilePutter:
    """The writer's side: send a batch, wait until the child stored it (or say why not)."""

    def __init__(self, target: TileTarget) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._helper: Helper | None = None
        self.batches = 0
        self.unavailable = False

    def put(self, tiles: Sequence[tuple[str, bytes]]) -> None:
        """Store every tile (write-once); raise as :meth:`WriteOnceCheckpoints.put_tile` does."""
        with self._lock:
            if self.unavailable:
                raise PutterUnavailable
            conn = self._started()
            try:
                conn.send(list(tiles))
                kind, message = conn.recv()
            except (OSError, EOFError) as exc:
                self._stop()
                raise AuditStorageError(
                    f"the tile writer process stopped ({exc or type(exc).__name__}); the tiles "
                    "are written again with the next checkpoint"
                ) from None
            self.batches += 1
        if kind == "corrupt":
            raise AuditCorruptionError(message)
        if kind != "ok":
            raise AuditStorageError(message)

    def _started(self) -> Connection:
        if self._helper is not None and self._helper[1].is_alive():
            return self._helper[0]
        self._stop()
        try:
            self._helper = start_helper(serve, self.target, "audit-tile-writer")
        except Exception as exc:  # any failure: putting in process is right
            logger.warning("hash tiles are put in this process: no helper process (%s)", exc)
            self.unavailable = True
            raise PutterUnavailable from exc
        return self._helper[0]

    def _stop(self) -> None:
        helper, self._helper = self._helper, None
        stop_helper(helper, goodbye=None)

    def close(self) -> None:
        with self._lock:
            self._stop()


def serve(conn: Connection, target: TileTarget) -> None:
    """The child: put each batch it receives, answer ``(kind, message)``; stop on ``None``."""
    from .checkpoints import s3_checkpoints

    store = s3_checkpoints(connect(target.options), target.bucket, target.prefix, target.policy)
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="tile-put") as pool:
        while True:
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                return
            if batch is None:
                return
            conn.send(_put_all(store, pool, batch))


def _put_all(
    store: WriteOnceCheckpoints, pool: ThreadPoolExecutor, batch: list[tuple[str, bytes]]
) -> tuple[str, str]:
    try:
        list(pool.map(lambda tile: store.put_tile(*tile), batch))
    except AuditCorruptionError as exc:
        return "corrupt", str(exc)
    except AuditStorageError as exc:
        return "storage", str(exc)
    return "ok", ""
