"""Level-0 hash tiles derived from the records (``tile_source``) and the records read by seq
from a local log (``storage/local/lookup.record_lines``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_bridge.audit.checkpoint_store import StoredLine
from mcp_bridge.audit.merkle import leaf_hash
from mcp_bridge.audit.records import parse_header, seal_record
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.storage.local.lookup import LocalRecords, record_lines
from mcp_bridge.audit.tile_source import TileMissing, TileSource, derive_level0
from mcp_bridge.audit.tiles import TILE_WIDTH, TileBuilder, TileId

from ..conftest import DAYS, Log

TORN = b'{"v":1,"previousHash":"00'  # the fragment a crash mid-write leaves


def chain(count: int) -> list[bytes]:
    """``count`` sealed records, seq 0..count-1, each linked to the one before."""
    previous, lines = "0" * 64, []
    for seq in range(count):
        previous, line = seal_record(
            previous, seq, "2025-10-24T12:00:00.000000Z", f"e{seq}", "t", "{}"
        )
        lines.append(line.rstrip(b"\n"))
    return lines


def hashes_of(lines: list[bytes]) -> list[str]:
    return [parse_header(line).hash for line in lines]


LINES = chain(3 * TILE_WIDTH + 17)


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(1, len(LINES)), min_size=1, max_size=6),
    torn=st.sets(st.integers(0, len(LINES) - 1), max_size=5),
)
def test_a_derived_level0_tile_is_the_one_the_builder_computes(
    cuts: list[int], torn: set[int]
) -> None:
    """Flushed at any sizes, every level-0 tile (full or partial) the writer's builder made is
    what the records give, torn fragments between them notwithstanding."""
    stored = [StoredLine(line, "day.jsonl") for line in LINES]
    for at in sorted(torn, reverse=True):
        stored.insert(at, StoredLine(TORN, "day.jsonl"))
    builder = TileBuilder()
    for size in sorted(set(cuts)):
        builder.extend([leaf_hash(bytes.fromhex(h)) for h in hashes_of(LINES[builder.size : size])])
        for tile, data in builder.flush():
            if tile.level == 0:
                assert derive_level0(tile, stored) == data, tile.path


def test_a_missing_or_altered_record_is_named() -> None:
    tile = TileId(0, 0, 10)
    lines = [StoredLine(line, "2025/10/24.jsonl") for line in LINES[:10]]
    with pytest.raises(TileMissing) as missing:
        derive_level0(tile, lines[:4] + lines[5:])
    assert missing.value.seq == 4 and missing.value.where == "2025/10/24.jsonl"
    assert "tile/0/000.p/10" in str(missing.value) and "record seq 4 is missing" in str(
        missing.value
    )
    with pytest.raises(TileMissing) as short:
        derive_level0(tile, lines[:7])
    assert short.value.seq == 7 and "record seq 7 is not in the log" in str(short.value)
    altered = StoredLine(LINES[6].replace(b'"e6"', b'"e9"'), "2025/10/24.jsonl")
    with pytest.raises(TileMissing) as changed:
        derive_level0(tile, [*lines[:6], altered, *lines[7:]])
    assert changed.value.seq == 6 and "does not match its hash" in str(changed.value)


def _log(root: Path, per_day: int) -> Log:
    """``LINES`` written as a local log, ``per_day`` records a day over the days of DAYS."""
    root.mkdir(parents=True)
    for index, day in enumerate(DAYS):
        path = root / f"{day:%Y/%m/%d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        part = LINES[index * per_day : (index + 1) * per_day]
        path.write_bytes(b"".join(line + b"\n" for line in part))
    return Log(root, [])


def test_local_record_lines_across_days(tmp_path: Path) -> None:
    log = _log(tmp_path / "audit", 300)
    seqs = [
        [parse_header(line).seq for line, _ in record_lines(log.root, a, b)]
        for a, b in ((0, 5), (295, 305), (598, 800), (790, 900))
    ]
    assert seqs == [list(range(5)), list(range(295, 305)), list(range(598, 785)), []]
    [(_, where)] = record_lines(log.root, 300, 301)
    assert where == str(log.file_of(DAYS[1]))


def test_a_tile_source_reads_stored_tiles_first_then_derives(tmp_path: Path) -> None:
    log = _log(tmp_path / "audit", 300)
    store = local_checkpoints(log.root)
    tiles = TileSource(store, LocalRecords(log.root))
    expected = b"".join(leaf_hash(bytes.fromhex(h)) for h in hashes_of(LINES[256:300]))
    assert tiles(TileId(0, 1, 44)) == expected and tiles.derived == 1
    store.put_tile("tile/0/001.p/44", bytes(len(expected)))  # a legacy tile: read as stored
    assert tiles(TileId(0, 1, 44)) == bytes(len(expected)) and tiles.derived == 1
    with pytest.raises(TileMissing) as missing:
        tiles(TileId(1, 0, 3))  # above level 0 nothing is derived
    assert missing.value.where == str(log.root / "_tiles" / "tile" / "1" / "000.p" / "3")
    with pytest.raises(TileMissing):
        TileSource(store)(TileId(0, 0, 10))  # no records: stored tiles only
