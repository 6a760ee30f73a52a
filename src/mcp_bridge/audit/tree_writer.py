"""The writer's Merkle tree: extended with records, persisted as tiles, published as checkpoints.

:class:`TreeWriter` does the work; :mod:`.checkpointing` decides when. Rules it keeps:

* **tiles first**: the hash tiles a checkpoint needs are stored before the checkpoint (levels
  1 and up: level-0 tiles are the records' leaf hashes, derived by whoever reads them,
  :mod:`.tile_source`);
* **never backwards, never inconsistent**: the tree only grows by records that continue its
  chain (seq and ``previousHash`` checked), and a checkpoint another writer published at a
  size this tree passes through must have this tree's root at that size, else
  :class:`AuditCorruptionError` before anything is signed;
* **restart without reading the log**: :meth:`resume` refuses a log shorter than a genuine
  checkpoint (one this key signed), rebuilds the tree from the newest checkpoint's right-edge
  tiles (the level-0 one derived from at most 255 records), checks their root against the
  checkpoint and the last covered record against its leaf.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from .checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from .checkpoint_store import CheckpointStore, LogReader
from .errors import AuditCorruptionError, AuditStorageError
from .merkle import leaf_hash, leaf_hashes, perfect_root
from .note import NoteError, Signer
from .records import GENESIS_HASH
from .sequencing import format_timestamp
from .tile_source import TileSource
from .tiles import (
    TILE_WIDTH,
    TileBuilder,
    TileError,
    TileId,
    compact_range_from_tiles,
    edge_tiles,
    split_tile,
    tile_for,
    tiles_to_store,
)

logger = logging.getLogger(__name__)

#: Leaves appended between two tile flushes at most, so catching up on a long log keeps
#: memory bounded (completed tiles are written out as it goes).
FLUSH_EVERY = 1 << 16
#: Records hashed into the tree at once (one list comprehension each).
_BATCH = 4096


class Linked(Protocol):
    """A record as the tree sees it (``SealedRecord`` and ``LogEntry`` both fit)."""

    @property
    def seq(self) -> int: ...

    @property
    def previous_hash(self) -> str: ...

    @property
    def hash(self) -> str: ...


class TreeWriter:
    """One writer's view of the tree over the log, and the checkpoints it publishes."""

    def __init__(
        self,
        log: LogReader,
        store: CheckpointStore,
        signer: Signer,
        origin: str,
        *,
        clock: Callable[[], datetime],
        mirror: CheckpointStore | None = None,
    ) -> None:
        self._log = log
        self._store = store
        self._signer = signer
        self._verifier = signer.verifier
        self._origin = origin
        self._clock = clock
        self._mirror = mirror
        self._builder = TileBuilder()
        self._edge: dict[TileId, bytes] = {}
        self._unwritten: list[tuple[TileId, bytes]] = []
        self._unmirrored: list[int] = []
        self._tail_hash = GENESIS_HASH
        self.published = 0
        self.last_note: bytes | None = None  # the newest note this writer published

    @property
    def size(self) -> int:
        return self._builder.size

    # -- restart -------------------------------------------------------------------------

    def resume(self) -> None:
        """Check the log against the newest genuine checkpoint and rebuild the tree there."""
        size = self._log.log_size()
        size = self._refuse_truncation(size)
        newest = self._newest_genuine(size)
        if newest is None:
            return
        checkpoint, where = newest
        fetched: dict[TileId, bytes] = {}
        self._builder = TileBuilder.from_tiles(checkpoint.size, self._fetcher(fetched))
        root = compact_range_from_tiles(checkpoint.size, self._fetcher(fetched)).root()
        if root != checkpoint.root:
            edge = checkpoint.size % TILE_WIDTH
            records = (
                f" and the log's records seq {checkpoint.size - edge:,}..{checkpoint.size - 1:,}"
                if edge
                else ""
            )
            raise AuditCorruptionError(
                f"the hash tiles under {self._store.where('_tiles')}{records} do not give the "
                f"root of the checkpoint {where} (tree size {checkpoint.size}): the log was "
                "rewritten below a signed checkpoint, or a tile was damaged. Refusing to write"
            )
        self._edge = {tile: fetched[tile] for tile in edge_tiles(checkpoint.size)}
        self._check_last_leaf(checkpoint, where, self._fetcher(fetched))
        self.published = checkpoint.size
        self.catch_up()

    def _refuse_truncation(self, size: int) -> int:
        """The log size, unless a checkpoint this key signed covers more records than that."""
        for larger in reversed(self._store.checkpoint_sizes(after=size)):
            size = max(size, self._log.log_size())  # another writer may be appending now
            if larger <= size:
                break
            genuine = self._open(larger)
            if genuine is not None:
                raise AuditCorruptionError(
                    f"the log holds {size} records but the checkpoint {genuine[1]}, signed with "
                    f"this writer's key, covers {larger}: acknowledged records were removed. "
                    "Refusing to write (new records would re-use their seqs)"
                )
        return size

    def _newest_genuine(self, size: int) -> tuple[Checkpoint, str] | None:
        """The newest checkpoint of at most ``size`` leaves that this writer's key signed."""
        bound = size
        while bound >= 0:
            found = self._store.newest_size(at_most=bound)
            if found is None:
                return None
            opened = self._open(found)
            if opened is not None:
                return opened
            bound = found - 1
        return None

    def _open(self, size: int) -> tuple[Checkpoint, str] | None:
        """The checkpoint of ``size`` if this writer's key signed it (else a warning)."""
        stored = self._store.get_checkpoint(size)
        if stored is None:
            return None
        try:
            checkpoint = open_checkpoint(stored.note, self._verifier)
        except NoteError as exc:
            logger.warning("ignoring checkpoint %s: %s (%s)", stored.where, exc, exc.reason)
            return None
        if checkpoint.size != size:
            raise AuditCorruptionError(
                f"{stored.where} is named for tree size {size} but says {checkpoint.size}"
            )
        if checkpoint.origin != self._origin:
            logger.warning(
                "checkpoint %s has origin %r; this writer signs %r (AUDIT_CHECKPOINT_ORIGIN)",
                stored.where,
                checkpoint.origin,
                self._origin,
            )
        return checkpoint, stored.where

    def _fetcher(self, fetched: dict[TileId, bytes]) -> Callable[[TileId], bytes]:
        """Tiles as stored, level 0 derived from the log's records (:class:`TileSource`)."""
        source = TileSource(self._store, self._log)

        def fetch(tile: TileId) -> bytes:
            if tile not in fetched:
                try:
                    fetched[tile] = source(tile)
                except TileError as exc:
                    raise AuditCorruptionError(
                        f"{exc}; the writer cannot extend the tree without it"
                    ) from None
            return fetched[tile]

        return fetch

    def _check_last_leaf(
        self, checkpoint: Checkpoint, where: str, fetch: Callable[[TileId], bytes]
    ) -> None:
        """The log's record ``size - 1`` must be the one the checkpoint's last leaf covers.

        Its level-0 tile comes from the log itself when the size is a multiple of 256 (a full
        tile, outside the right edge the root was checked with), so it is checked upwards too.
        """
        last = checkpoint.size - 1
        if last < 0:
            return
        tile = tile_for(0, last, checkpoint.size)
        entries = split_tile(tile, fetch(tile))
        expected = entries[last - tile.index * TILE_WIDTH]
        entry = next(iter(self._log.entries_since(last)), None)
        if (
            entry is None
            or entry.seq != last
            or leaf_hash(bytes.fromhex(entry.hash)) != expected
            or not _up_to_the_edge(tile, entries, checkpoint.size, fetch)
        ):
            raise AuditCorruptionError(
                f"the log's record seq {last} is not the one the checkpoint {where} covers: the "
                "log was rewritten below a signed checkpoint. Refusing to write"
            )
        self._tail_hash = entry.hash

    # -- growing ---------------------------------------------------------------------------

    def extend(self, records: Iterable[Linked], stops: Sequence[int] = ()) -> bool:
        """Append records that continue the tree (older ones are skipped).

        Returns False at the first record beyond the tree's end (a gap: records another writer
        appended, to be read from the log with :meth:`catch_up`). At every size in ``stops``
        (checkpoints other writers published) the tree's root is compared with theirs. The
        links are checked record by record; the hashing is done in batches
        (:func:`~.merkle.leaf_hashes`, :meth:`~.tiles.TileBuilder.extend`).
        """
        stop_at = set(stops)
        batch: list[str] = []
        size, tail = self._builder.size, self._tail_hash
        try:
            for record in records:
                seq = record.seq
                if seq < size:
                    continue
                if seq > size:
                    return False
                if record.previous_hash != tail:
                    raise AuditCorruptionError(
                        f"record seq {seq} links to {record.previous_hash[:12]}…, not to the "
                        f"record before it ({tail[:12]}…); refusing to sign a checkpoint over it"
                    )
                tail = record.hash
                batch.append(tail)
                size += 1
                if size in stop_at:
                    self._grow(batch, tail)
                    self._compare_with_published(size)
                elif len(batch) >= _BATCH:
                    self._grow(batch, tail)
        finally:
            self._grow(batch, tail)
        return True

    def _grow(self, batch: list[str], tail: str) -> None:
        """Hash a batch of record hashes into the tree; write tiles every ``FLUSH_EVERY``."""
        if not batch:
            return
        before = self._builder.size
        self._builder.extend(leaf_hashes(batch))
        self._tail_hash = tail
        batch.clear()
        if before // FLUSH_EVERY != self._builder.size // FLUSH_EVERY:
            self._flush_tiles()

    def catch_up(self, stops: Sequence[int] = ()) -> None:
        """Extend the tree with what the log holds beyond it (other writers' records)."""
        if not self.extend(self._log.entries_since(self.size), stops):
            raise AuditCorruptionError(
                f"the log has no record seq {self.size} but holds later ones: records are "
                "missing from the log; refusing to sign a checkpoint over the gap"
            )

    def _flush_tiles(self) -> None:
        """Store every tile of level 1 and up completed or changed since the last flush (before
        any checkpoint that needs them); a failed write is retried at the next flush. Level-0
        tiles are kept for the root but never stored: readers derive them from the records."""
        flushed = self._builder.flush()
        self._edge.update(flushed)
        self._unwritten.extend(tiles_to_store(flushed))
        if self._unwritten:
            self._store.put_tiles([(tile.path, data) for tile, data in self._unwritten])
            self._unwritten = []
        keep = set(edge_tiles(self.size))
        self._edge = {tile: data for tile, data in self._edge.items() if tile in keep}

    def root(self) -> bytes:
        """The root at the current size (tiles flushed first, so it rests on stored tiles)."""
        self._flush_tiles()
        return compact_range_from_tiles(self.size, self._edge.__getitem__).root()

    def _compare_with_published(self, size: int) -> None:
        opened = self._open(size)
        root = self.root()
        if opened is not None and opened[0].root != root:
            raise AuditCorruptionError(
                f"the checkpoint {opened[1]} (tree size {size}) has another root than the log "
                "gives at that size: two histories of one log. Nothing was signed"
            )
        self.published = max(self.published, size)

    # -- publishing --------------------------------------------------------------------------

    def newer_elsewhere(self) -> list[int]:
        """Sizes of checkpoints above the newest one this writer knows (other writers')."""
        return self._store.checkpoint_sizes(after=self.published)

    def publish(self) -> bool:
        """Sign and store a checkpoint of the current size, if it is new; True if stored."""
        self._retry_mirror()
        if self.size <= self.published:
            return False
        root = self.root()
        note = sign_checkpoint(Checkpoint(self._origin, self.size, root), self._signer)
        published_at = format_timestamp(self._clock())
        self._store.put_checkpoint(self.size, note, published_at, self._origin)
        self.published = self.size
        self.last_note = note
        self._to_mirror(self.size, note, published_at)
        return True

    def _to_mirror(self, size: int, note: bytes, published_at: str) -> None:
        if self._mirror is None:
            return
        try:
            self._mirror.put_checkpoint(size, note, published_at, self._origin)
        except AuditCorruptionError:
            raise
        except AuditStorageError as exc:
            logger.error("checkpoint %d not mirrored yet (retried later): %s", size, exc)
            self._unmirrored.append(size)

    def _retry_mirror(self) -> None:
        pending, self._unmirrored = self._unmirrored, []
        for size in pending:
            stored = self._store.get_checkpoint(size)
            if stored is not None:
                self._to_mirror(size, stored.note, stored.published_at or "")


def _up_to_the_edge(
    tile: TileId, entries: list[bytes], size: int, fetch: Callable[[TileId], bytes]
) -> bool:
    """Whether a full tile, and each full tile above it, hashes to the entry its parent tile
    holds, up to the first partial one: a right-edge tile, which the root was checked with."""
    while tile.full:
        parent = tile_for(tile.level + 1, tile.index, size)
        above = split_tile(parent, fetch(parent))
        if perfect_root(entries) != above[tile.index - parent.index * TILE_WIDTH]:
            return False
        tile, entries = parent, above
    return True
