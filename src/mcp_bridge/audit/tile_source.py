"""The hash tiles of a log as every reader sees them: level 0 derived from the records.

A level-0 tile holds the leaf hashes of 256 consecutive records, and a leaf hash is
SHA-256(0x00 || the record's 32 hash bytes): the tile is the records, hashed. Storing it cost
the writer one write-once PUT (or two fsyncs) per 256 records, about seven times its segment
PUTs, for bytes anyone can recompute. So the writer stores tiles of level 1 and up only
(:data:`~.tiles.FIRST_STORED_LEVEL`), and :class:`TileSource` derives each level-0 tile, full or
partial, from the at most 256 records it covers, read by seq (:class:`~.checkpoint_store.
RecordRange`: a binary search locally, the segment keys on S3). A level-0 tile that a log
written before keeps under ``_tiles/tile/0/`` is read as stored, first.

Every reader (the restarted writer, ``prove``, ``consistency``, windowed ``verify``, the witness
submitter) uses a tile only once it reproduced a signed root, so a derived tile is believed
exactly as far as a stored one was. Each record is checked on the way (no seq is missing, its
hash matches its bytes); a tile that cannot be derived raises :class:`TileMissing`, the error a
missing stored tile raises, naming the seq and where.

Pure: the store and the records come in through their protocols.
"""

from __future__ import annotations

from collections.abc import Iterable

from .checkpoint_store import CheckpointStore, RecordRange, StoredLine, tile_name
from .merkle import leaf_hashes
from .records import MalformedLine, body_hash, parse_header
from .tiles import TILE_WIDTH, TileError, TileId


class TileMissing(TileError):
    """A tile that is neither stored nor derivable: ``where`` names the blob or the records,
    ``seq`` the record that is missing or damaged (for a level-0 tile)."""

    def __init__(self, message: str, *, where: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.where = where
        self.seq = seq


class TileSource:
    """A tile fetcher (:data:`~.tiles.TileFetcher`) over a log's stored tiles and its records.

    Level-0 tiles are derived from the first of ``records`` that holds the tile's records
    intact (a restore's scratch copy first, then the trail the checkpoints belong to); with
    none (a checkpoint mirror) only stored tiles are found. ``derived`` counts the level-0
    tiles computed from records.
    """

    def __init__(self, store: CheckpointStore, *records: RecordRange) -> None:
        self.store = store
        self.records = records
        self.derived = 0

    def reading_first(self, *records: RecordRange) -> TileSource:
        """The same tiles, level 0 derived from ``records`` first (then from these)."""
        return TileSource(self.store, *records, *self.records)

    def __call__(self, tile: TileId) -> bytes:
        data = self.store.get_tile(tile.path)
        if data is not None:
            return data
        if tile.level == 0 and self.records:
            return self._derive(tile)
        where = self.store.where(tile_name(tile.path))
        raise TileMissing(f"the hash tile {where} is missing", where=where)

    def _derive(self, tile: TileId) -> bytes:
        first = tile.index * TILE_WIDTH
        data = b"".join(self._read(first, first + tile.width, f"the hash tile {tile.path}"))
        self.derived += 1
        return data

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of records ``start`` to ``end - 1``, read by seq and checked as a
        derived tile's are (never from a stored tile)."""
        return self._read(start, end, "the leaves")

    def _read(self, start: int, end: int, what: str) -> list[bytes]:
        if start >= end:
            return []
        failures: list[TileMissing] = []
        for records in self.records:
            try:
                return record_leaves(start, end, records.record_lines(start, end), what)
            except TileMissing as exc:
                failures.append(exc)
        if not failures:
            raise TileMissing(f"{what} cannot be derived: no records to read", where="")
        raise failures[0]


def derive_level0(tile: TileId, lines: Iterable[StoredLine]) -> bytes:
    """The bytes of level-0 ``tile`` from the stored lines of the records it covers."""
    first = tile.index * TILE_WIDTH
    return b"".join(record_leaves(first, first + tile.width, lines, f"the hash tile {tile.path}"))


def record_leaves(start: int, end: int, lines: Iterable[StoredLine], what: str) -> list[bytes]:
    """The leaf hashes of records ``start`` to ``end - 1`` from their stored lines.

    Lines before ``start`` are skipped, as are lines without the record shape (the torn
    fragment a ``chain.recovered`` record explains); every seq must follow, each record
    matching its hash, else :class:`TileMissing` names the seq and where (``what`` says what
    was being derived). The ``previousHash`` links are not part of the tree (the chain
    verifier checks them): a record replaced by one with a valid hash gives a leaf the signed
    root rejects, which names that record rather than its neighbour's broken link.
    """
    hashes: list[str] = []
    where = ""
    for line, where in lines:
        try:
            header = parse_header(line)
        except MalformedLine:
            continue
        seq = start + len(hashes)
        if header.seq < seq:
            continue
        if header.seq >= end:
            break
        if header.seq > seq:
            found = f"is missing (the next record in {where} is seq {header.seq:,})"
            raise _underivable(what, start, end, seq, found, where)
        if body_hash(header) != header.hash:
            raise _underivable(what, start, end, seq, f"in {where} does not match its hash", where)
        hashes.append(header.hash)
    if len(hashes) < end - start:
        after = f" (the log read ends in {where})" if where else ""
        seq = start + len(hashes)
        raise _underivable(what, start, end, seq, f"is not in the log{after}", where)
    return leaf_hashes(hashes)


def _underivable(what: str, start: int, end: int, seq: int, why: str, where: str) -> TileMissing:
    return TileMissing(
        f"{what} (of records seq {start:,}..{end - 1:,}) cannot be derived: record seq {seq:,} "
        f"{why}",
        where=where,
        seq=seq,
    )
