"""RFC 6962 Merkle tree: known answers from published vectors, then properties.

Vectors (hex and base64 copied as data, not code) come from transparency-dev/merkle at commit
417fb0c314750d94e53942e9f92e79b6d35915db: ``rfc6962/rfc6962_test.go`` (hasher answers),
``testonly/constants.go`` (the eight RFC 6962 leaf inputs, their node hashes and the root of
every prefix, the same data as certificate-transparency's reference tests) and
``testdata/{inclusion,consistency}/<n>/happy-path.json`` (proofs).
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_bridge.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    memory_provider,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

INPUTS = [
    bytes.fromhex(h)
    for h in (
        *("", "00", "10", "2021", "3031", "40414243", "5051525354555657"),
        "606162636465666768696a6b6c6d6e6f",
    )
]
LEAVES = [leaf_hash(data) for data in INPUTS]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEVEL_1 = [
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
]

#: (leaf index, tree size, proof) from testdata/inclusion/{0..4}/happy-path.json.
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ],
    ),
    (
        5,
        8,
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
    ),
    (2, 3, ["+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU="]),
    (
        1,
        5,
        [
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
        ],
    ),
]

#: (size1, size2, proof) from testdata/consistency/{0..4}/happy-path.json.
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ],
    ),
    (
        6,
        8,
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
    ),
    (
        2,
        5,
        [
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
        ],
    ),
    (
        6,
        7,
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
    ),
]


def _b64(items: list[str]) -> list[bytes]:
    return [base64.b64decode(item) for item in items]


def test_hasher_known_answers() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert leaf_hash(b"").hex() == ROOTS[1]
    assert (
        leaf_hash(b"L123456").hex()
        == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert (
        node_hash(b"N123", b"N456").hex()
        == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(9))
def test_root_of_every_prefix(size: int) -> None:
    assert root_of(LEAVES[:size]).hex() == ROOTS[size]
    tree = CompactRange()
    tree.extend(LEAVES[:size])
    assert tree.root().hex() == ROOTS[size]
    assert len(tree.hashes) == size.bit_count()


def test_perfect_subtree_hashes_of_level_one() -> None:
    nodes = memory_provider(LEAVES)
    assert [nodes(1, i).hex() for i in range(4)] == LEVEL_1


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[str]) -> None:
    expected = _b64(proof)
    root = bytes.fromhex(ROOTS[size])
    assert inclusion_proof(index, size, memory_provider(LEAVES[:size])) == expected
    verify_inclusion(index, size, LEAVES[index], expected, root)
    # The vectors' mutations (wrong leaf, index ± 1, size × 2, a bit flipped, a hash
    # removed or added) all fail.
    with pytest.raises(ProofError):
        verify_inclusion(index, size, LEAVES[(index + 1) % 8], expected, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size * 2, LEAVES[index], expected, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, LEAVES[index], [*expected, LEAVES[0]], root)
    if expected:
        flipped = [bytes([expected[0][0] ^ 1]) + expected[0][1:], *expected[1:]]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, LEAVES[index], flipped, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, LEAVES[index], expected[:-1], root)
        with pytest.raises(ProofError):
            verify_inclusion(index ^ 1, size, LEAVES[index], expected, root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vectors(old: int, new: int, proof: list[str]) -> None:
    expected = _b64(proof)
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert consistency_proof(old, new, memory_provider(LEAVES[:new])) == expected
    verify_consistency(old, new, old_root, new_root, expected)
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, bytes(32), expected)
    if expected:
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, expected[:-1])
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, [*expected, LEAVES[0]])
        with pytest.raises(ProofError):
            verify_consistency(old + 1, new, old_root, new_root, expected)


def test_consistency_edge_cases() -> None:
    root = bytes.fromhex(ROOTS[3])
    verify_consistency(0, 3, EMPTY_ROOT, root, [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="two different roots"):
        verify_consistency(3, 3, root, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(3, 3, root, root, [root])
    with pytest.raises(ProofError, match="cannot extend"):
        verify_consistency(4, 3, root, root, [root])
    with pytest.raises(ProofError, match="is empty"):
        verify_consistency(2, 3, root, root, [])
    with pytest.raises(ProofError):
        inclusion_proof(3, 3, memory_provider(LEAVES))
    with pytest.raises(ProofError):
        consistency_proof(4, 3, memory_provider(LEAVES))
    with pytest.raises(ProofError, match="5 bytes, not 32"):
        verify_inclusion(0, 2, LEAVES[0], [b"short"], root)


def _leaves(count: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(count)]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_verifies_and_only_for_its_leaf(case: tuple[int, int]) -> None:
    size, index = case
    leaves = _leaves(size)
    root = root_of(leaves)
    proof = inclusion_proof(index, size, memory_provider(leaves))
    verify_inclusion(index, size, leaves[index], proof, root)
    for other in {0, size - 1, (index + 1) % size, index // 2}:
        if other != index:
            with pytest.raises(ProofError):
                verify_inclusion(index, size, leaves[other], proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(other, size, leaves[index], proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(b"forged"), proof, root)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 300).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n), st.integers(0, n - 1))
    )
)
def test_every_consistency_proof_verifies_and_fails_when_an_old_leaf_changes(
    case: tuple[int, int, int],
) -> None:
    old, new, changed = case
    leaves = _leaves(new)
    old_root, new_root = root_of(leaves[:old]), root_of(leaves)
    proof = consistency_proof(old, new, memory_provider(leaves))
    verify_consistency(old, new, old_root, new_root, proof)
    if changed < old:
        # The log was rewritten below the old checkpoint: its new root is inconsistent.
        rewritten = [*leaves[:changed], leaf_hash(b"forged"), *leaves[changed + 1 :]]
        forged_proof = consistency_proof(old, new, memory_provider(rewritten))
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, root_of(rewritten), forged_proof)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 600), st.integers(0, 600))
def test_compact_range_matches_root_of_leaves_at_every_size(first: int, second: int) -> None:
    leaves = _leaves(max(first, second))
    tree = CompactRange()
    tree.extend(leaves[: min(first, second)])
    assert tree.root() == root_of(leaves[: min(first, second)])
    resumed = CompactRange(tree.size, tree.hashes)
    resumed.extend(leaves[min(first, second) :])
    assert resumed.root() == root_of(leaves)
    assert resumed.size == len(leaves)


def test_compact_range_rejects_a_wrong_number_of_hashes() -> None:
    with pytest.raises(ProofError, match="has 2 hashes"):
        CompactRange(3, [LEAVES[0]])
