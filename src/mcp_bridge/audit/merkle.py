"""RFC 6962 / RFC 9162 Merkle tree over the audit log: hashes, compact ranges and proofs.

Pure functions only (no I/O). Leaf *i* of the tree is the record with ``seq = i``; its leaf
input is the record's 32-byte hash (see ``docs/audit-format.md``). Proof generation asks a
*node-hash provider* for hashes of perfect subtrees, so the same code serves an in-memory
list of leaves (tests), C2SP hash tiles read from storage (``prove``, ``consistency``) and the
writer's compact range. Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 literally.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
from binascii import Error as HexError
from binascii import unhexlify
from collections.abc import Callable, Iterable, Sequence
from typing import Any

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``(level, index) -> hash`` of the perfect subtree over leaves
#: ``[index * 2**level, (index + 1) * 2**level)``.
NodeHashProvider = Callable[[int, int], bytes]


def _one_block_sha256() -> Callable[[bytes], Any]:
    """The SHA-256 constructor cheapest for a one-block message (a 33-byte leaf input).

    ``hashlib.sha256`` is OpenSSL's: fast over long inputs, but each call sets up and copies an
    OpenSSL digest context, most of its cost for 33 bytes. CPython 3.11's own implementation
    (``_sha256``) has no such set-up and hashes one block in less time overall (measured: about
    a fifth less per leaf); where it is absent, OpenSSL's is used. Both are SHA-256.
    """
    with contextlib.suppress(ImportError, AttributeError):
        constructor: Callable[[bytes], Any] = importlib.import_module("_sha256").sha256
        return constructor
    return hashlib.sha256


_LEAF_SHA256 = _one_block_sha256()


class ProofError(ValueError):
    """A proof was asked for sizes or indexes that do not exist, or it does not verify."""


def leaf_hash(leaf_input: bytes) -> bytes:
    """``SHA-256(0x00 || leaf_input)``; for the audit log the input is the record's hash."""
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The root over a power-of-two count of subtree hashes (a full tile's 256 leaves).

    One list comprehension per level over a locally bound ``hashlib.sha256``: no Python
    function call per node, which is what makes hashing whole tiles cheap.
    """
    sha256, level = hashlib.sha256, list(hashes)
    if not level or len(level) & (len(level) - 1):
        raise ProofError(f"{len(level)} hashes are not a perfect subtree")
    while len(level) > 1:
        level = [
            sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)
        ]
    return level[0]


def leaf_hashes(hexes: Iterable[str | bytes]) -> list[bytes]:
    """``leaf_hash`` of many records at once, from their hex ``hash`` members."""
    return hex_leaf_hashes([h.encode("ascii") if isinstance(h, str) else h for h in hexes])


def hex_leaf_hashes(hexes: Sequence[bytes]) -> list[bytes]:
    """``leaf_hash`` of many records from their hex hashes (as stored, 64 digits each, bytes).

    The hot path of root recomputation (``verify --vkey``): one hex decoding for the whole
    batch with the ``0x00`` prefixes already in place (33 bytes per leaf), then one list
    comprehension over a locally bound constructor, so no Python function runs per record.
    The batch is checked as a whole (its length, and a ``0x00`` where each leaf starts), which
    refuses any one hash of another length or that is not hex; the verifier's hashes are the
    ones the chain checker matched or parsed, 64 lowercase hex digits each.
    """
    if not hexes:
        return []
    data = b""
    with contextlib.suppress(HexError):
        data = unhexlify(b"00" + b"00".join(hexes))
    if len(data) != 33 * len(hexes) or data[::33].count(0) != len(hexes):
        bad = next((h for h in hexes if not _is_hex_hash(h)), hexes[0])
        raise ProofError(f"a record hash is not 64 hex digits: {bad[:16]!r}")
    sha256 = _LEAF_SHA256
    return [sha256(data[i : i + 33]).digest() for i in range(0, len(data), 33)]


def _is_hex_hash(value: bytes) -> bool:
    try:
        return len(unhexlify(value)) == HASH_SIZE
    except HexError:
        return False


def _largest_power_of_two_below(n: int) -> int:
    """The ``k`` of RFC 6962 §2.1: the largest power of two strictly smaller than ``n > 1``."""
    return 1 << ((n - 1).bit_length() - 1)


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Merge perfect subtree hashes, largest (leftmost) first, into the root over them all."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


class CompactRange:
    """The right edge of a tree of ``size`` leaves: enough to append leaves and compute roots.

    ``hashes`` are the roots of the perfect subtrees the size decomposes into, largest first
    (one per set bit of ``size``). This is the writer's whole tree state: 32 bytes per set bit.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self._size = size
        self._hashes = list(hashes)
        if size < 0 or len(self._hashes) != size.bit_count():
            raise ProofError(f"a compact range of size {size} has {size.bit_count()} hashes")
        if any(len(h) != HASH_SIZE for h in self._hashes):
            raise ProofError("compact range hashes must be 32 bytes each")

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Append one leaf *hash* (already ``leaf_hash``-ed), merging completed subtrees."""
        merged = leaf
        size = self._size
        while size & 1:
            merged = node_hash(self._hashes.pop(), merged)
            size >>= 1
        self._hashes.append(merged)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        return fold_right(self._hashes)

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __hash__(self) -> int:
        return hash((self._size, tuple(self._hashes)))

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()[:16]}…)"


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """``(level, index)`` of the aligned perfect subtrees covering ``[start, end)``, left first."""
    nodes: list[tuple[int, int]] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def subtree_hash(start: int, end: int, nodes: NodeHashProvider) -> bytes:
    """``MTH(D[start:end])`` for a range that is a node of the RFC 6962 tree (or a right edge)."""
    return fold_right([nodes(level, index) for level, index in perfect_subtrees(start, end)])


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 root over leaf *hashes*."""
    tree = CompactRange()
    tree.extend(leaves)
    return tree.root()


def memory_provider(leaves: Sequence[bytes]) -> NodeHashProvider:
    """A node-hash provider over leaf hashes held in memory (tests, small trees)."""

    def provide(level: int, index: int) -> bytes:
        first = index << level
        if first + (1 << level) > len(leaves):
            raise ProofError(f"no perfect subtree at level {level} index {index}")
        return root_of(leaves[first : first + (1 << level)])

    return provide


def inclusion_proof(index: int, size: int, nodes: NodeHashProvider) -> list[bytes]:
    """RFC 6962 §2.1.1 ``PATH(index, D[size])``: sibling hashes from the leaf up to the root."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            path.append(subtree_hash(start + k, end, nodes))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, nodes))
            start += k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, nodes: NodeHashProvider) -> list[bytes]:
    """RFC 6962 §2.1.2 ``PROOF(old_size, D[new_size])``; empty when either size is 0 or equal."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, whole = 0, new_size, True
    while old_size != end:
        k = _largest_power_of_two_below(end - start)
        if old_size - start <= k:
            proof.append(subtree_hash(start + k, end, nodes))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, nodes))
            start += k
            whole = False
    if not whole:
        proof.append(subtree_hash(start, end, nodes))
    proof.reverse()
    return proof


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root ``proof`` leads to from ``leaf`` (a leaf hash) at ``index``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        _check_hash(sibling)
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` puts leaf hash ``leaf`` at ``index``."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the tree's root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: raise :class:`ProofError` unless the new tree extends the old one."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"a tree of size {new_size} cannot extend one of size {old_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for tree size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    for h in path:
        _check_hash(h)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than expected")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than expected")
    if fr != old_root:
        raise ProofError(f"consistency proof does not lead to the root of size {old_size}")
    if sr != new_root:
        raise ProofError(f"consistency proof does not lead to the root of size {new_size}")


def _check_hash(value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"a proof hash has {len(value)} bytes, not {HASH_SIZE}")
