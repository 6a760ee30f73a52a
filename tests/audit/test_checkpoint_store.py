"""The checkpoint store on a real directory: write-once, race-losing creates compared.

tests/s3/test_checkpoint_store.py runs the same cases against SeaweedFS (it imports them and
swaps the ``checkpoints`` fixture).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest

from mcp_bridge.audit.checkpoint_store import (
    WriteOnceCheckpoints,
    checkpoint_name,
    cosignature_name,
    meta_name,
    tile_name,
    timestamp_name,
)
from mcp_bridge.audit.errors import AuditCorruptionError, AuditStorageError
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints

NOTE = b"example.com/log\n5\nUk9PVDU=\n\n\xe2\x80\x94 k AAAA\n"
PUBLISHED = "2026-11-30T12:00:00.000001Z"


def note(size: int, root: str = "ROOT", signature: str = "sig") -> bytes:
    return f"example.com/log\n{size}\n{root}\n\n\u2014 key {signature}\n".encode()


@pytest.fixture
def checkpoints(tmp_path: Path) -> WriteOnceCheckpoints:
    return local_checkpoints(tmp_path / "store")


def test_a_checkpoint_is_stored_with_its_publication_time(
    checkpoints: WriteOnceCheckpoints,
) -> None:
    assert checkpoints.put_checkpoint(5, NOTE, PUBLISHED, "example.com/log") is True
    stored = checkpoints.get_checkpoint(5)
    assert stored is not None
    assert (stored.size, stored.note, stored.published_at) == (5, NOTE, PUBLISHED)
    assert stored.where.endswith("_checkpoints/00000000000000000005")
    meta = json.loads(checkpoints.blobs.read(meta_name(5)) or b"")
    assert meta == {"treeSize": 5, "publishedAt": PUBLISHED, "origin": "example.com/log"}
    assert checkpoints.get_checkpoint(6) is None


def test_the_same_tree_head_twice_keeps_the_first(checkpoints: WriteOnceCheckpoints) -> None:
    assert checkpoints.put_checkpoint(7, note(7, signature="first"), PUBLISHED, "o")
    assert not checkpoints.put_checkpoint(7, note(7, signature="other"), "later", "o")
    stored = checkpoints.get_checkpoint(7)
    assert stored is not None and stored.note == note(7, signature="first")
    assert stored.published_at == PUBLISHED


def test_two_roots_for_one_size_are_an_alarm(checkpoints: WriteOnceCheckpoints) -> None:
    checkpoints.put_checkpoint(7, note(7, root="AAAA"), PUBLISHED, "o")
    with pytest.raises(AuditCorruptionError) as caught:
        checkpoints.put_checkpoint(7, note(7, root="BBBB"), PUBLISHED, "o")
    assert "two checkpoints for tree size 7" in str(caught.value)
    assert checkpoint_name(7) in str(caught.value)
    stored = checkpoints.get_checkpoint(7)
    assert stored is not None and stored.note == note(7, root="AAAA")


def test_tiles_are_write_once_and_compared(checkpoints: WriteOnceCheckpoints) -> None:
    data = bytes(range(32)) * 3
    assert checkpoints.put_tile("tile/0/000.p/3", data) is True
    assert checkpoints.put_tile("tile/0/000.p/3", data) is False
    assert checkpoints.get_tile("tile/0/000.p/3") == data
    assert checkpoints.get_tile("tile/0/001") is None
    with pytest.raises(AuditCorruptionError) as caught:
        checkpoints.put_tile("tile/0/000.p/3", data[::-1])
    assert tile_name("tile/0/000.p/3") in str(caught.value)
    assert checkpoints.get_tile("tile/0/000.p/3") == data


def test_sizes_are_listed_in_order_and_other_names_ignored(
    checkpoints: WriteOnceCheckpoints,
) -> None:
    assert checkpoints.checkpoint_sizes() == [] and checkpoints.newest_size() is None
    for size in (1, 300, 20, 4000):
        checkpoints.put_checkpoint(size, note(size), PUBLISHED, "o")
    checkpoints.blobs.create("_checkpoints/README", b"not a checkpoint")
    assert checkpoints.checkpoint_sizes() == [1, 20, 300, 4000]
    assert checkpoints.checkpoint_sizes(after=20) == [300, 4000]
    assert checkpoints.newest_size() == 4000
    assert checkpoints.newest_size(at_most=3999) == 300
    assert checkpoints.newest_size(at_most=300) == 300
    assert checkpoints.newest_size(at_most=0) is None


def test_racing_writers_create_one_checkpoint(checkpoints: WriteOnceCheckpoints) -> None:
    barrier = Barrier(8)

    def publish(index: int) -> bool:
        barrier.wait()
        return checkpoints.put_checkpoint(9, note(9, signature=f"w{index}"), PUBLISHED, "o")

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(publish, range(8)))
    assert won.count(True) == 1
    stored = checkpoints.get_checkpoint(9)
    assert stored is not None and stored.note == note(9, signature=f"w{won.index(True)}")


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    store = local_checkpoints(tmp_path)
    store.put_checkpoint(3, note(3), PUBLISHED, "o")
    store.put_checkpoint(3, note(3, signature="x"), PUBLISHED, "o")
    assert sorted(os.listdir(tmp_path / "_checkpoints")) == [
        "00000000000000000003",
        "00000000000000000003.json",
    ]


def test_an_unwritable_store_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("a file where the directory should be")
    with pytest.raises(AuditStorageError) as caught:
        local_checkpoints(tmp_path / "store").put_checkpoint(1, note(1), PUBLISHED, "o")
    assert str(tmp_path / "store") in str(caught.value)


def test_attestations_are_write_once_and_keep_the_first(
    checkpoints: WriteOnceCheckpoints,
) -> None:
    """Witness cosignatures and timestamp tokens beside a checkpoint (issue 12)."""
    checkpoints.put_checkpoint(7, note(7), PUBLISHED, "o")
    cosig = cosignature_name(7, "0a1b2c3d")
    assert checkpoints.put_attestation(cosig, "\u2014 w AAAA\n".encode()) is True
    assert checkpoints.put_attestation(cosig, b"other") is False
    assert checkpoints.get_attestation(cosig) == "\u2014 w AAAA\n".encode()
    assert checkpoints.put_attestation(timestamp_name(7), b"\x30\x03") is True
    assert checkpoints.get_attestation(timestamp_name(8)) is None
    assert checkpoints.checkpoint_sizes() == [7]  # attestations are not checkpoints
