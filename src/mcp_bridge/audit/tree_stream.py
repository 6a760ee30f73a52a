"""Merkle tree hashes recomputed from a stream of record hashes, in O(log n) memory.

Pure. ``verify --vkey`` feeds every record hash the chain checker confirms into a
:class:`TreeFeed`; at each checkpoint size it keeps the *compact range* (RFC 6962 right edge) of
the tree over the records read, from which the root at that size follows. Nothing but the
current compact range, one 256-leaf block of pending hashes and the ranges at the wanted sizes is
held, whatever the log's length.

Why batches: hashing is the cost, two SHA-256 calls per record (leaf and node), each mostly
the fixed cost of a ``hashlib`` call rather than the 33 or 65 bytes hashed. The pending hashes
are taken a whole number of 256-leaf blocks at a time (the width of a level-0 hash tile):
their leaves in one comprehension (:func:`~.merkle.hex_leaf_hashes`), then the largest aligned
perfect subtrees they hold, each reduced level by level (:func:`~.merkle.perfect_root`), cut
where a checkpoint's size falls. No function written in Python runs per record.

A :class:`RangeHashes` may start anywhere (a window's first record, a worker's chunk), so
ranges computed separately are joined with :meth:`RangeHashes.extend` (that is how the parallel
verifier's workers and the tiles before a window combine with the records read).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from .merkle import ProofError, fold_right, hex_leaf_hashes, node_hash, perfect_root

BLOCK_HEIGHT = 8
BLOCK = 1 << BLOCK_HEIGHT


@dataclass(slots=True)
class RangeHashes:
    """The aligned perfect subtrees covering leaves ``[begin, end)``, left to right.

    ``levels[i]`` is the height of the subtree whose hash is ``hashes[i]``. Appending merges a
    node with its left sibling whenever both are in the range, so the decomposition stays the
    canonical one (for ``begin = 0``: one subtree per set bit of ``end``, largest first).
    """

    begin: int
    end: int = -1
    levels: list[int] = field(default_factory=list)
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.end < 0:
            self.end = self.begin

    def push(self, level: int, node: bytes) -> None:
        """Append the hash of the perfect subtree of height ``level`` starting at ``end``."""
        end = self.end
        if end & ((1 << level) - 1):
            raise ProofError(f"a subtree of height {level} cannot start at leaf {end}")
        self.end = end + (1 << level)
        index, levels, hashes = end >> level, self.levels, self.hashes
        while index & 1 and levels and levels[-1] == level:
            levels.pop()
            node = node_hash(hashes.pop(), node)
            level += 1
            index >>= 1
        levels.append(level)
        hashes.append(node)

    def extend(self, other: RangeHashes) -> None:
        """Append a range that starts where this one ends."""
        if other.begin != self.end:
            raise ProofError(
                f"a range from leaf {other.begin} cannot follow one ending at {self.end}"
            )
        for level, node in zip(other.levels, other.hashes, strict=True):
            self.push(level, node)

    def copy(self) -> RangeHashes:
        return RangeHashes(self.begin, self.end, list(self.levels), list(self.hashes))

    def root(self) -> bytes:
        """The RFC 6962 root of the tree of ``end`` leaves (the range must start at leaf 0)."""
        if self.begin != 0:
            raise ProofError(f"the root needs the leaves before {self.begin}")
        return fold_right(self.hashes)


def range_of(begin: int, nodes: Iterable[tuple[int, bytes]]) -> RangeHashes:
    """A range from ``begin`` made of the given ``(level, hash)`` subtrees, left to right."""
    made = RangeHashes(begin)
    for level, node in nodes:
        made.push(level, node)
    return made


class TreeFeed:
    """Consecutive record hashes in; the tree's compact range at each wanted size out.

    ``add(seq, hexes)`` takes the hex ``hash`` members of records ``seq, seq + 1, ...``. The
    first call fixes where the range starts (unless ``begin`` was given); any later call that
    does not continue exactly where the previous one ended (a gap, a record out of place)
    marks the stream *broken* at that point, and nothing later is hashed: the sizes beyond it
    cannot be recomputed from this stream. For every wanted size the stream passed (call
    :meth:`close` after the last record), ``roots[size]`` is the root when the stream starts at
    leaf 0 (32 bytes per size), else ``cuts[size]`` is the range ``[begin, size)``, to be joined
    with the part before it.
    """

    def __init__(self, sizes: Iterable[int], begin: int | None = None) -> None:
        self._sizes = sorted(set(sizes))
        self.range: RangeHashes | None = None
        self._pending: list[bytes] = []
        self._next = 0  # index in _sizes of the smallest wanted size not yet passed
        if begin is not None:
            self._start(begin)
        self.cuts: dict[int, RangeHashes] = {}
        self.roots: dict[int, bytes] = {}
        self.broken_at: int | None = None

    @property
    def begin(self) -> int | None:
        return None if self.range is None else self.range.begin

    @property
    def size(self) -> int | None:
        """The leaf count the stream has reached (hashed or pending), ``None`` before any."""
        if self.range is None:
            return None
        return self.range.end + len(self._pending)

    def add(self, seq: int, hexes: list[bytes]) -> None:
        if self.broken_at is not None or not hexes:
            return
        if self.range is None:
            self._start(seq)
            assert self.range is not None
        size = self.range.end + len(self._pending)
        if seq != size:
            self.broken_at = size
            return
        pending = self._pending
        pending.extend(hexes)
        end = size + len(hexes)
        if end >> BLOCK_HEIGHT != self.range.end >> BLOCK_HEIGHT:
            self._hash_blocks(end)

    def _start(self, begin: int) -> None:
        self.range = RangeHashes(begin)
        self._next = bisect_right(self._sizes, begin)

    def broken(self, at: int) -> None:
        """Leaf ``at`` and those after it were not the log's: forget every size beyond ``at``
        (a record the stream took turned out to be an inserted rival of the genuine one)."""
        if self.range is None or (self.broken_at is not None and self.broken_at <= at):
            return
        self.broken_at = at
        del self._pending[max(0, at - self.range.end) :]
        for taken in (self.cuts, self.roots):
            for size in [size for size in taken if size > at]:
                del taken[size]

    def close(self) -> None:
        """Hash what is pending (a last, partial block) and take the ranges it holds."""
        if self.range is not None and self._pending:
            self._hash(self._pending)
            self._pending = []

    def _hash_blocks(self, end: int) -> None:
        """Hash the whole blocks between the range's end and ``end``; keep the rest pending."""
        assert self.range is not None
        count = (end >> BLOCK_HEIGHT << BLOCK_HEIGHT) - self.range.end
        self._hash(self._pending[:count])
        del self._pending[:count]

    def _hash(self, hexes: list[bytes]) -> None:
        """Append these records' leaves a block at a time (each block's hashes stay in cache)."""
        assert self.range is not None
        at = 0
        while at < len(hexes):
            take = BLOCK - (self.range.end & (BLOCK - 1))  # to the next block boundary
            self._push_leaves(hex_leaf_hashes(hexes[at : at + take]))
            at += take

    def _push_leaves(self, leaves: list[bytes]) -> None:
        """Append leaf hashes as the largest aligned perfect subtrees they hold, taking the
        range at every wanted size on the way."""
        assert self.range is not None
        tree, sizes = self.range, self._sizes
        at = 0
        while at < len(leaves):
            upto = len(leaves)
            if self._next < len(sizes):  # the next wanted size is beyond the range's end
                upto = min(upto, at + sizes[self._next] - tree.end)
            while at < upto:
                level = (upto - at).bit_length() - 1
                if tree.end & ((1 << level) - 1):
                    level = (tree.end & -tree.end).bit_length() - 1
                tree.push(level, perfect_root(leaves[at : at + (1 << level)]))
                at += 1 << level
            self._cut_at(tree.end)

    def _cut_at(self, end: int) -> None:
        sizes = self._sizes
        while self._next < len(sizes) and sizes[self._next] <= end:
            size = sizes[self._next]
            if size == end:
                assert self.range is not None
                if self.range.begin == 0:
                    self.roots[size] = self.range.root()
                else:
                    self.cuts[size] = self.range.copy()
            self._next += 1


def join_cuts(prefix: RangeHashes, cuts: dict[int, RangeHashes]) -> dict[int, bytes]:
    """The root at each cut's size: ``prefix`` (from leaf 0) followed by the cut."""
    roots = {}
    for size, cut in cuts.items():
        whole = prefix.copy()
        whole.extend(cut)
        roots[size] = whole.root()
    return roots


@dataclass(frozen=True, slots=True)
class Recomputed:
    """What the records read gave: the range ``[begin, size)`` at every wanted size passed.

    ``begin`` is the seq of the first record hashed (``None`` when none was); ``broken_at``
    the leaf from which the records no longer followed each other (sizes beyond it could not
    be recomputed).
    """

    begin: int | None
    cuts: dict[int, RangeHashes]
    broken_at: int | None = None
    roots: dict[int, bytes] = field(default_factory=dict)

    def all_roots(self) -> dict[int, bytes]:
        """The roots known without the leaves before ``begin`` (all of them when it is 0)."""
        if self.begin != 0:
            return dict(self.roots)
        return {**{size: cut.root() for size, cut in self.cuts.items()}, **self.roots}


@dataclass(frozen=True, slots=True)
class ChunkTree:
    """One worker's share of the tree: its whole range, and the ranges at the wanted sizes."""

    whole: RangeHashes
    cuts: dict[int, RangeHashes]
    roots: dict[int, bytes]


def feed_result(feed: TreeFeed) -> Recomputed:
    """Close the feed and say what it recomputed."""
    feed.close()
    return Recomputed(feed.begin, feed.cuts, feed.broken_at, feed.roots)


def chunk_tree(feed: TreeFeed) -> ChunkTree | None:
    """A worker's closed feed as its share of the tree (``None`` if it hashed nothing)."""
    feed.close()
    if feed.range is None or feed.broken_at is not None:
        return None
    return ChunkTree(feed.range, feed.cuts, feed.roots)


def join_chunks(start: RangeHashes | None, chunks: Iterable[ChunkTree]) -> Recomputed | None:
    """Chain the workers' ranges in order (after ``start``, the record before a window, if
    any): the ranges from the first leaf at every wanted size. ``None`` if two chunks do not
    meet (the parallel check then is not trusted)."""
    running = start.copy() if start is not None else None
    cuts: dict[int, RangeHashes] = {}
    roots: dict[int, bytes] = {}
    for chunk in chunks:
        if running is None:
            running = RangeHashes(chunk.whole.begin)
        if chunk.whole.begin != running.end:
            return None
        roots.update(chunk.roots)  # a chunk that starts at leaf 0 has its roots already
        for size, cut in chunk.cuts.items():
            whole = running.copy()
            whole.extend(cut)
            if whole.begin == 0:
                roots[size] = whole.root()
            else:
                cuts[size] = whole
        running.extend(chunk.whole)
    return Recomputed(None if running is None else running.begin, cuts, None, roots)
