"""C2SP tlog-tiles *hash* tiles: names, which tiles a tree has, building and reading them.

Pure (no I/O): storage drivers move the bytes. A tile at level ``L`` holds up to 256
consecutive Merkle tree hashes of tree level ``8 * L``; entry ``i`` of tile ``N`` is the
perfect subtree hash at tree level ``8L``, index ``256 N + i`` (c2sp.org/tlog-tiles). A tree of
size ``s`` has ``(s >> 8L) // 256`` full tiles at level ``L`` and, when ``(s >> 8L) % 256`` is
not zero, one partial tile of that width: its right edge. Those right-edge tiles are all a
writer needs to resume (:meth:`TileBuilder.from_tiles`, :func:`compact_range_from_tiles`) and,
with the full tiles, all a prover needs (:class:`TileHashes`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .merkle import HASH_SIZE, CompactRange, ProofError, perfect_root, root_of

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: Tiles of level 0 (the leaf hashes, one tile per 256 records) are not stored: each is derived
#: from the records it covers when read (:mod:`.tile_source`). Stored tiles start here.
FIRST_STORED_LEVEL = 1
_MAX_LEVEL = 63
_MAX_NODES = 1 << 16
_PATH = re.compile(r"tile/(0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?\Z")


class TileError(ProofError):
    """A tile name or tile content that does not follow c2sp.org/tlog-tiles."""


@dataclass(frozen=True, order=True, slots=True)
class TileId:
    """One hash tile: its level, its index within the level and its width (256 when full)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= _MAX_LEVEL or self.index < 0:
            raise TileError(f"no tile at level {self.level}, index {self.index}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"a tile is 1 to {TILE_WIDTH} hashes wide, not {self.width}")

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``, ``N`` in 3-digit groups, all but the last ``x``-prefixed."""
        digits = str(self.index)
        digits = "0" * (-len(digits) % 3) + digits
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        index = "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])
        suffix = "" if self.full else f".p/{self.width}"
        return f"tile/{self.level}/{index}{suffix}"

    @property
    def byte_size(self) -> int:
        return self.width * HASH_SIZE


def parse_tile_path(path: str) -> TileId:
    """The :class:`TileId` named by a ``tile/<L>/<N>[.p/<W>]`` path (strict: one spelling each)."""
    match = _PATH.match(path)
    if match is None:
        raise TileError(f"{path!r} is not a hash tile path (tile/<L>/<N>[.p/<W>])")
    level, index, width = match.groups()
    tile = TileId(
        int(level), int(index.replace("x", "").replace("/", "")), int(width or TILE_WIDTH)
    )
    if tile.path != path:
        raise TileError(f"{path!r} is not the canonical spelling of {tile.path!r}")
    return tile


def edge_tiles(size: int) -> list[TileId]:
    """The partial tiles of a tree of ``size`` leaves, level 0 first (its right edge)."""
    tiles = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        if count % TILE_WIDTH:
            tiles.append(TileId(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return tiles


def tile_for(level: int, index: int, size: int) -> TileId:
    """The tile of a tree of ``size`` leaves holding entry ``index`` of tile level ``level``."""
    count = size >> (TILE_HEIGHT * level)
    if index >= count:
        raise TileError(f"a tree of size {size} has no hash {index} at tile level {level}")
    tile_index = index // TILE_WIDTH
    full = (tile_index + 1) * TILE_WIDTH <= count
    return TileId(level, tile_index, TILE_WIDTH if full else count % TILE_WIDTH)


def new_tiles(old_size: int, new_size: int) -> list[TileId]:
    """Tiles a tree of ``new_size`` has and one of ``old_size`` has not (full, then partial)."""
    tiles: list[TileId] = []
    level = 0
    while new_size >> (TILE_HEIGHT * level):
        old = old_size >> (TILE_HEIGHT * level)
        new = new_size >> (TILE_HEIGHT * level)
        tiles.extend(TileId(level, n) for n in range(old // TILE_WIDTH, new // TILE_WIDTH))
        if new % TILE_WIDTH and new != old:
            tiles.append(TileId(level, new // TILE_WIDTH, new % TILE_WIDTH))
        level += 1
    return tiles


def split_tile(tile: TileId, data: bytes) -> list[bytes]:
    """The hashes in a tile's bytes; the length must match the tile's width exactly."""
    if len(data) != tile.byte_size:
        raise TileError(f"{tile.path} has {len(data)} bytes, expected {tile.byte_size}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def tiles_to_store(tiles: Iterable[tuple[TileId, bytes]]) -> list[tuple[TileId, bytes]]:
    """The tiles a writer stores of those a :class:`TileBuilder` flushed (level 1 and up)."""
    return [(tile, data) for tile, data in tiles if tile.level >= FIRST_STORED_LEVEL]


TileFetcher = Callable[[TileId], bytes]


class TileHashes:
    """A node-hash provider (see :mod:`.merkle`) for a tree of ``size`` leaves, read from tiles.

    A perfect subtree at tree level ``8L + r`` is the hash of ``2**r`` aligned entries of one
    tile at level ``L``: one tile read (cached, bounded) per node, never the log itself.
    """

    def __init__(self, size: int, fetch: TileFetcher, *, cache_tiles: int = 64) -> None:
        self.size = size
        self._fetch = fetch
        self._cache: OrderedDict[TileId, list[bytes]] = OrderedDict()
        self._cache_tiles = cache_tiles
        # Proofs for many tree sizes of one tree share most nodes (a verifier checks every
        # checkpoint): computed nodes are kept, up to a bound.
        self._nodes: dict[tuple[int, int], bytes] = {}
        self.tiles_read = 0

    def entries(self, tile: TileId) -> list[bytes]:
        cached = self._cache.get(tile)
        if cached is not None:
            self._cache.move_to_end(tile)
            return cached
        hashes = split_tile(tile, self._fetch(tile))
        self.tiles_read += 1
        self._cache[tile] = hashes
        if len(self._cache) > self._cache_tiles:
            self._cache.popitem(last=False)
        return hashes

    def __call__(self, level: int, index: int) -> bytes:
        known = self._nodes.get((level, index))
        if known is not None:
            return known
        tile_level, rest = divmod(level, TILE_HEIGHT)
        first = index << rest
        if (index + 1) << level > self.size:
            raise TileError(f"a tree of size {self.size} has no node at level {level}:{index}")
        tile = tile_for(tile_level, first, self.size)
        offset = first - tile.index * TILE_WIDTH
        node = root_of(self.entries(tile)[offset : offset + (1 << rest)])
        if len(self._nodes) >= _MAX_NODES:
            self._nodes.clear()
        self._nodes[(level, index)] = node
        return node


def compact_range_from_tiles(size: int, fetch: TileFetcher) -> CompactRange:
    """The compact range of a tree of ``size`` leaves, from its right-edge tiles only."""
    nodes = TileHashes(size, fetch)
    hashes = [
        nodes(level, (size >> level) - 1)
        for level in reversed(range(size.bit_length()))
        if size >> level & 1
    ]
    return CompactRange(size, hashes)


class TileBuilder:
    """Turns appended leaf hashes into the tiles to write, level by level.

    Holds the current partial tile of each level (at most 255 hashes per level). ``flush()``
    returns every tile completed since the previous flush and the new right-edge partial tiles,
    which is exactly the set a checkpoint of the current size needs (write them before it).
    """

    def __init__(self) -> None:
        self._size = 0
        self._levels: list[list[bytes]] = [[]]
        self._done: list[tuple[TileId, bytes]] = []
        self._dirty: set[int] = set()

    @classmethod
    def from_tiles(cls, size: int, fetch: TileFetcher) -> TileBuilder:
        """Resume at ``size`` from the right-edge tiles a previous writer flushed."""
        builder = cls()
        builder._size = size
        levels = max(1, -(-size.bit_length() // TILE_HEIGHT))
        builder._levels = [[] for _ in range(levels + 1)]
        for tile in edge_tiles(size):
            builder._levels[tile.level] = split_tile(tile, fetch(tile))
        return builder

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self.extend([leaf])

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append leaf hashes; completes full tiles (and their parents' entries) as it goes.

        Leaves are added a tile's worth at a time and a full tile is reduced with
        :func:`~.merkle.perfect_root`, so the cost per leaf is a slice, not a function call.
        """
        at = 0
        while at < len(leaves):
            entries = self._levels[0]
            take = leaves[at : at + TILE_WIDTH - len(entries)]
            entries.extend(take)
            at += len(take)
            self._size += len(take)
            self._dirty.add(0)
            level = 0
            while len(self._levels[level]) == TILE_WIDTH:
                entries = self._levels[level]
                index = (self._size >> (TILE_HEIGHT * (level + 1))) - 1
                self._done.append((TileId(level, index), b"".join(entries)))
                self._levels[level] = []
                level += 1
                if level == len(self._levels):
                    self._levels.append([])
                self._levels[level].append(perfect_root(entries))
                self._dirty.add(level)

    def flush(self) -> list[tuple[TileId, bytes]]:
        """Tiles to write now, lower levels first within full then partial; resets the batch."""
        out = self._done
        for level in sorted(self._dirty):
            entries = self._levels[level]
            if entries:
                index = (self._size >> (TILE_HEIGHT * level)) // TILE_WIDTH
                out.append((TileId(level, index, len(entries)), b"".join(entries)))
        self._done = []
        self._dirty = set()
        return out
