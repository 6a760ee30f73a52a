"""C2SP tlog-tiles hash tiles: names, the tiles of a tree, building, reading back.

The examples (index 1234067 → ``x001/x234/067``; a tree of 70,000 leaves) are the ones in
c2sp.org/tlog-tiles (C2SP/C2SP ``tlog-tiles.md``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_bridge.audit.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    memory_provider,
    root_of,
)
from mcp_bridge.audit.tiles import (
    TILE_WIDTH,
    TileBuilder,
    TileError,
    TileHashes,
    TileId,
    compact_range_from_tiles,
    edge_tiles,
    new_tiles,
    parse_tile_path,
    split_tile,
)


@pytest.mark.parametrize(
    ("tile", "path"),
    [
        (TileId(0, 1234067), "tile/0/x001/x234/067"),
        (TileId(0, 0), "tile/0/000"),
        (TileId(1, 5, 17), "tile/1/005.p/17"),
        (TileId(2, 1000, 1), "tile/2/x001/000.p/1"),
        (TileId(63, 999), "tile/63/999"),
    ],
)
def test_tile_paths_round_trip(tile: TileId, path: str) -> None:
    assert tile.path == path
    assert parse_tile_path(path) == tile


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",  # not three digits
        "tile/00/000",  # leading zero in the level
        "tile/64/000",  # level out of range
        "tile/0/001/000",  # inner group without x
        "tile/0/x000/001",  # non-canonical leading group
        "tile/0/000.p/0",  # empty tiles do not exist
        "tile/0/000.p/256",  # a full tile has no .p suffix
        "tile/0/000.p/07",
        "tile/entries/000",
        "tile/0/000/",
    ],
)
def test_bad_tile_paths_are_rejected(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


def test_the_specs_tree_of_70000() -> None:
    # "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1
    # tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1."
    tiles = new_tiles(0, 70_000)
    assert sum(1 for t in tiles if t.level == 0 and t.full) == 273
    assert [t for t in tiles if not t.full] == [
        TileId(0, 273, 112),
        TileId(1, 1, 17),
        TileId(2, 0, 1),
    ]
    assert [t for t in tiles if t.level == 1 and t.full] == [TileId(1, 0)]
    assert edge_tiles(70_000) == [TileId(0, 273, 112), TileId(1, 1, 17), TileId(2, 0, 1)]
    assert edge_tiles(256) == [TileId(1, 0, 1)]
    assert edge_tiles(0) == []


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(8, "big")) for i in range(count)]


def _build(leaves: list[bytes], cuts: list[int]) -> dict[TileId, bytes]:
    """Append ``leaves``, flushing at each size in ``cuts`` (like checkpoints) and at the end."""
    store: dict[TileId, bytes] = {}
    builder = TileBuilder()
    for i, leaf in enumerate(leaves, start=1):
        builder.append(leaf)
        if i in cuts or i == len(leaves):
            for tile, data in builder.flush():
                assert store.setdefault(tile, data) == data, f"{tile.path} written twice"
    return store


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 70_000 // 64), st.lists(st.integers(1, 70_000 // 64), max_size=6))
def test_tiles_rebuild_the_roots_and_compact_range_of_the_leaves(
    size: int, cuts: list[int]
) -> None:
    size *= 64  # cross tile boundaries often without hashing millions of leaves
    leaves = _leaves(size)
    store = _build(leaves, [c * 64 for c in cuts])
    # Exactly the tiles a tree of this size has (full ones, plus partials of flushed sizes).
    assert {t for t in new_tiles(0, size)} <= set(store)
    rebuilt = compact_range_from_tiles(size, store.__getitem__)
    assert rebuilt.root() == root_of(leaves)
    for cut in [c * 64 for c in cuts if c * 64 <= size]:
        assert compact_range_from_tiles(cut, store.__getitem__).root() == root_of(leaves[:cut])


def test_tile_contents_are_the_specs_hashes() -> None:
    leaves = _leaves(3 * TILE_WIDTH + 5)
    store = _build(leaves, [])
    assert split_tile(TileId(0, 1), store[TileId(0, 1)]) == leaves[256:512]
    level1 = split_tile(TileId(1, 0, 3), store[TileId(1, 0, 3)])
    assert level1 == [root_of(leaves[i * 256 : (i + 1) * 256]) for i in range(3)]
    assert store[TileId(0, 3, 5)] == b"".join(leaves[768:])


def test_proofs_from_tiles_equal_proofs_from_leaves() -> None:
    size = 256 * 256 + 3 * 256 + 77  # three tile levels, partial at each
    leaves = _leaves(size)
    store = _build(leaves, [1000, 65_536])
    memory = memory_provider(leaves)
    nodes = TileHashes(size, store.__getitem__)
    for index in (0, 255, 256, 65_535, 65_536, size - 1):
        assert inclusion_proof(index, size, nodes) == inclusion_proof(index, size, memory)
    for old in (1, 1000, 65_536, size - 1):
        assert consistency_proof(old, size, nodes) == consistency_proof(old, size, memory)
    # A proof reads a handful of tiles, never all of them.
    fresh = TileHashes(size, store.__getitem__)
    inclusion_proof(12_345, size, fresh)
    assert fresh.tiles_read <= 6


def test_builder_resumes_from_the_right_edge_tiles() -> None:
    leaves = _leaves(70_000)
    store = _build(leaves[:40_000], [])
    resumed = TileBuilder.from_tiles(40_000, store.__getitem__)
    for leaf in leaves[40_000:]:
        resumed.append(leaf)
    for tile, data in resumed.flush():
        assert store.setdefault(tile, data) == data
    assert store == {**_build(leaves, [40_000])}
    assert compact_range_from_tiles(70_000, store.__getitem__).root() == root_of(leaves)


def test_a_tile_of_the_wrong_length_is_rejected() -> None:
    with pytest.raises(TileError, match="has 31 bytes, expected 32"):
        split_tile(TileId(0, 0, 1), bytes(31))
    nodes = TileHashes(10, lambda tile: bytes(tile.byte_size - 32))
    with pytest.raises(TileError):
        nodes(0, 3)
    with pytest.raises(TileError, match="no node"):
        TileHashes(10, lambda tile: b"")(1, 5)
