"""Streaming Merkle roots (``verify --vkey``) equal the reference roots, however they are fed.

The reference is RFC 6962 §2.1 written out recursively here (``_mth``), independent of the
compact-range code under test; ``test_merkle.py`` pins it to the published vectors.
"""

from __future__ import annotations

import hashlib
import os
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_bridge.audit.merkle import (
    ProofError,
    hex_leaf_hashes,
    leaf_hash,
    leaf_hashes,
    node_hash,
    perfect_root,
)
from mcp_bridge.audit.tree_offload import OffloadedFeed
from mcp_bridge.audit.tree_stream import (
    BLOCK,
    RangeHashes,
    TreeFeed,
    chunk_tree,
    feed_result,
    join_chunks,
    join_cuts,
)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH over leaf hashes, by its recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _hexes(count: int) -> list[bytes]:
    return [hashlib.sha256(b"record %d" % i).hexdigest().encode() for i in range(count)]


def _leaves(hexes: list[bytes]) -> list[bytes]:
    return [leaf_hash(bytes.fromhex(h.decode())) for h in hexes]


HEXES = _hexes(3 * BLOCK + 77)
LEAVES = _leaves(HEXES)


def _feed(feed: TreeFeed, first: int, hexes: list[bytes], cuts: list[int]) -> None:
    """Feed ``hexes`` (records ``first, first + 1, ...``) in batches ending at ``cuts``."""
    at = 0
    for cut in [*sorted(cuts), len(hexes)]:
        if cut > at:
            feed.add(first + at, hexes[at:cut])
            at = cut


@settings(max_examples=120, deadline=None)
@given(
    st.integers(0, len(HEXES)).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(st.integers(0, n + 3), max_size=8),
            st.lists(st.integers(0, n), max_size=6),
        )
    )
)
def test_the_streaming_root_equals_the_reference_root(
    case: tuple[int, set[int], list[int]],
) -> None:
    """Random log sizes, checkpoint positions and batch boundaries, from leaf 0."""
    count, sizes, batches = case
    feed = TreeFeed(sizes)
    _feed(feed, 0, HEXES[:count], batches)
    result = feed_result(feed)
    passed = {size for size in sizes if 0 < size <= count}
    assert set(result.roots) == passed and not result.cuts  # from leaf 0: 32 bytes a size
    for size, root in result.roots.items():
        assert root == _mth(LEAVES[:size]), size
    assert result.broken_at is None


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, len(HEXES)).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.integers(0, n - 1),
            st.lists(st.integers(1, n), min_size=1, max_size=5),
            st.sets(st.integers(1, n), max_size=6),
        )
    )
)
def test_ranges_computed_apart_join_into_the_reference_root(
    case: tuple[int, int, list[int], set[int]],
) -> None:
    """A window starting anywhere (prefix from elsewhere) and workers' chunks, joined."""
    count, begin, bounds, sizes = case
    edges = sorted({begin, *(b for b in bounds if b > begin), count})
    trees = []
    for low, high in pairwise(edges):
        feed = TreeFeed(sizes)
        feed.add(low, HEXES[low:high])
        tree = chunk_tree(feed)
        assert tree is not None
        trees.append(tree)
    prefix = RangeHashes(0)
    for leaf in LEAVES[:begin]:
        prefix.push(0, leaf)
    joined = join_chunks(None, trees)
    assert joined is not None and joined.begin == begin
    roots = join_cuts(prefix, joined.cuts) if begin else joined.all_roots()
    assert set(roots) == {size for size in sizes if begin < size <= count}
    for size, root in roots.items():
        assert root == _mth(LEAVES[:size])


def test_a_gap_breaks_the_stream_and_keeps_what_came_before() -> None:
    feed = TreeFeed([10, 300, 400])
    feed.add(0, HEXES[:299])
    feed.add(300, HEXES[300:500])  # seq 299 missing
    result = feed_result(feed)
    assert result.broken_at == 299
    assert set(result.all_roots()) == {10}
    assert result.roots[10] == _mth(LEAVES[:10])


def test_a_rival_record_forgets_the_sizes_it_reached() -> None:
    feed = TreeFeed([5, 6, 7])
    feed.add(0, HEXES[:6])
    feed.broken(5)  # the record given for seq 5 was an inserted rival
    feed.add(6, HEXES[6:8])
    result = feed_result(feed)
    assert set(result.all_roots()) == {5} and result.broken_at == 5


@settings(max_examples=60, deadline=None)
@given(st.integers(0, BLOCK), st.integers(0, len(HEXES) - BLOCK))
def test_batched_leaves_and_blocks_are_the_definition(count: int, first: int) -> None:
    """The batch functions of the hot path against one ``leaf_hash`` / ``node_hash`` at a time."""
    hexes = HEXES[first : first + count]
    assert hex_leaf_hashes(hexes) == LEAVES[first : first + count]
    assert leaf_hashes([h.decode() for h in hexes]) == LEAVES[first : first + count]
    width = 1 << (count.bit_length() - 1) if count else 0
    if width:
        assert perfect_root(LEAVES[first : first + width]) == _mth(LEAVES[first : first + width])


@pytest.mark.parametrize("bad", [b"0" * 63, b"0" * 65, b"g" * 64, b"", b"0" * 62 + "é".encode()])
def test_a_record_hash_that_is_not_64_hex_digits_is_named(bad: bytes) -> None:
    hexes = [*HEXES[:3], bad, *HEXES[3:6]]
    with pytest.raises(ProofError, match="not 64 hex digits") as caught:
        hex_leaf_hashes(hexes)
    assert repr(bad[:16]) in str(caught.value)
    with pytest.raises(ProofError, match="not 64 hex digits"):
        TreeFeed([2 * BLOCK]).add(0, [*HEXES[: BLOCK - 1], bad])


def test_ranges_refuse_what_does_not_fit() -> None:
    with pytest.raises(ProofError):
        RangeHashes(3).push(1, bytes(32))  # a height-1 subtree cannot start at leaf 3
    with pytest.raises(ProofError):
        RangeHashes(0).extend(RangeHashes(5))
    with pytest.raises(ProofError):
        RangeHashes(2, 4, [1], [bytes(32)]).root()


@pytest.mark.parametrize("gap", [None, 600])
def test_a_helper_process_gives_the_same_hashes(gap: int | None) -> None:
    """The feed moves to a helper process after 300 records: same cuts, same break."""
    sizes = [10, 256, 301, 512, 700, 900]
    hexes = _hexes(1000)
    local, helper = TreeFeed(sizes), OffloadedFeed(sizes, after=300)
    for feed in (local, helper):
        for first in range(0, 1000, 100):
            if gap is None or not first <= gap < first + 100:
                feed.add(first, hexes[first : first + 100])
            else:
                feed.add(first, hexes[first:gap])
                feed.add(gap + 1, hexes[gap + 1 : first + 100])
    expected, got = feed_result(local), helper.result()
    assert helper.offloaded == (len(os.sched_getaffinity(0)) > 1)
    assert got.begin == expected.begin == 0 and got.broken_at == expected.broken_at == gap
    assert got.all_roots() == expected.all_roots()
    assert set(got.all_roots()) == {s for s in sizes if gap is None or s <= gap}
