"""The checkpoint writer on a real directory: when checkpoints appear, what they cover, and
the restart checks (a truncated or rewritten log is refused; the tree resumes from tiles)."""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit import AuditTrail, open_audit_trail
from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.checkpoint_check import CheckpointOptions
from mcp_bridge.audit.checkpointing import HEARTBEAT_EVENT
from mcp_bridge.audit.errors import AuditCorruptionError, AuditUsageError
from mcp_bridge.audit.records import encode_json, seal_record
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.verification import verify_audit_trail
from mcp_bridge.config import AppConfig

from ..conftest import PYTHON, Clock, acked_seqs
from .checkpoint_helpers import (
    OTHER_SIGNER,
    SIGNER,
    check_checkpoints,
    hashes_in_seq_order,
    local_lines,
    wait_for,
    write_key,
)

WRITER = Path(__file__).with_name("checkpoint_writer_process.py")


def config(tmp_path: Path, **overrides: Any) -> AppConfig:
    values: dict[str, Any] = {
        "audit_storage_path": tmp_path / "audit",
        "audit_signing_key": str(write_key(tmp_path)),
        "audit_checkpoint_interval_seconds": 0.05,
        "audit_checkpoint_heartbeat_seconds": 3600,
    }
    values.update(overrides)
    return AppConfig(**values)


def write(trail: AuditTrail, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        trail.record_event("test.write", {"n": n})


def test_checkpoints_appear_on_the_interval_and_on_shutdown(tmp_path: Path) -> None:
    store = local_checkpoints(tmp_path / "audit")
    trail = open_audit_trail(config(tmp_path))
    write(trail, 300)
    wait_for(lambda: store.newest_size() == 300)  # while the trail is still open
    write(trail, 200, 300)
    trail.close()
    assert store.newest_size() == 500  # the shutdown checkpoint covers the last record
    sizes = check_checkpoints(store, hashes_in_seq_order(local_lines(tmp_path / "audit")))
    assert 300 in sizes and len(sizes) >= 2


def test_a_heartbeat_proves_a_quiet_period(tmp_path: Path) -> None:
    store = local_checkpoints(tmp_path / "audit")
    trail = open_audit_trail(config(tmp_path, audit_checkpoint_heartbeat_seconds=0.2))
    write(trail, 3)
    wait_for(lambda: len(trail.fetch_events(10, HEARTBEAT_EVENT)) >= 2)
    beats = trail.fetch_events(10, HEARTBEAT_EVENT)
    wait_for(lambda: (store.newest_size() or 0) > beats[-1]["seq"])
    trail.close()
    assert beats[0]["seq"] == 3 and beats[0]["payload"]["treeSize"] == 3
    sizes = check_checkpoints(store, hashes_in_seq_order(local_lines(tmp_path / "audit")))
    assert {3, beats[0]["seq"] + 1, beats[1]["seq"] + 1} <= set(sizes)


def test_the_mirror_receives_every_checkpoint(tmp_path: Path) -> None:
    mirror_root = tmp_path / "mirror"
    trail = open_audit_trail(config(tmp_path, audit_checkpoint_mirror=str(mirror_root)))
    for burst in range(4):
        write(trail, 50, 50 * burst)
        wait_for(
            lambda burst=burst: (
                trail.checkpoints is not None and trail.checkpoints.published > burst
            )
        )
    trail.close()
    store, mirror = local_checkpoints(tmp_path / "audit"), local_checkpoints(mirror_root)
    assert mirror.checkpoint_sizes() == store.checkpoint_sizes()
    for size in store.checkpoint_sizes():
        assert mirror.get_checkpoint(size).note == store.get_checkpoint(size).note  # type: ignore[union-attr]
    check_checkpoints(mirror, hashes_in_seq_order(local_lines(tmp_path / "audit")), tiles=False)


def _close_with_checkpoint(tmp_path: Path, count: int) -> None:
    trail = open_audit_trail(config(tmp_path))
    write(trail, count)
    trail.close()
    assert local_checkpoints(tmp_path / "audit").newest_size() == count


def test_a_log_cut_below_its_checkpoint_is_refused(tmp_path: Path) -> None:
    _close_with_checkpoint(tmp_path, 40)
    [day_file] = (tmp_path / "audit").rglob("*.jsonl")
    lines = day_file.read_bytes().splitlines(keepends=True)
    day_file.write_bytes(b"".join(lines[:-5]))  # the attacker removes the newest 5 records
    before = day_file.read_bytes()
    with pytest.raises(AuditCorruptionError) as caught:
        open_audit_trail(config(tmp_path))
    message = str(caught.value)
    assert "the log holds 35 records" in message and "covers 40" in message
    assert "_checkpoints/00000000000000000040" in message
    assert day_file.read_bytes() == before  # nothing written, no seq re-used


def test_a_log_rewritten_below_its_checkpoint_is_refused(tmp_path: Path) -> None:
    _close_with_checkpoint(tmp_path, 20)
    [day_file] = (tmp_path / "audit").rglob("*.jsonl")
    lines = day_file.read_bytes().splitlines(keepends=True)
    previous, timestamp = json.loads(lines[-1])["previousHash"], "2030-01-01T00:00:00.000000Z"
    _, forged = seal_record(previous, 19, timestamp, "0" * 36, "forged", encode_json({}))
    day_file.write_bytes(b"".join(lines[:-1]) + forged)  # same length, valid hashes
    with pytest.raises(AuditCorruptionError) as caught:
        open_audit_trail(config(tmp_path))
    # Its level-0 tile is derived from the records: the right edge no longer gives the root.
    message = str(caught.value)
    assert "records seq 0..19" in message and "rewritten below a signed checkpoint" in message
    assert "_checkpoints/00000000000000000020" in message
    assert day_file.read_bytes() == b"".join(lines[:-1]) + forged  # nothing written


def _forge_last(day_file: Path) -> None:
    """Replace the newest record by another one with valid hashes, linked like it."""
    lines = day_file.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    _, forged = seal_record(
        last["previousHash"], last["seq"], last["timestamp"], "0" * 36, "forged", encode_json({})
    )
    day_file.write_bytes(b"".join(lines[:-1]) + forged)


def test_a_rewritten_last_record_of_a_full_tile_is_refused(tmp_path: Path) -> None:
    """At 512 records the right edge has no level-0 tile: the last record's full tile, derived
    from the log, must hash to the entry the stored level-1 tile holds for it."""
    _close_with_checkpoint(tmp_path, 512)
    assert not (tmp_path / "audit" / "_tiles" / "tile" / "0").exists()  # level 0: not stored
    [day_file] = (tmp_path / "audit").rglob("*.jsonl")
    _forge_last(day_file)
    with pytest.raises(AuditCorruptionError) as caught:
        open_audit_trail(config(tmp_path))
    assert "record seq 511 is not the one the checkpoint" in str(caught.value)


def test_a_record_missing_below_the_checkpoint_is_named(tmp_path: Path) -> None:
    _close_with_checkpoint(tmp_path, 20)
    [day_file] = (tmp_path / "audit").rglob("*.jsonl")
    lines = day_file.read_bytes().splitlines(keepends=True)
    day_file.write_bytes(b"".join(lines[:10] + lines[11:]))  # seq 10 removed
    with pytest.raises(AuditCorruptionError) as caught:
        open_audit_trail(config(tmp_path))
    message = str(caught.value)
    assert "tile/0/000.p/20" in message and "record seq 10 is missing" in message
    assert str(day_file) in message


def test_a_damaged_legacy_level0_tile_is_refused(tmp_path: Path) -> None:
    """Logs written before level-0 tiles were derived keep them; a stored one is read first,
    so damaging it is caught as before."""
    _close_with_checkpoint(tmp_path, 20)
    local_checkpoints(tmp_path / "audit").put_tile("tile/0/000.p/20", bytes(32 * 20))
    with pytest.raises(AuditCorruptionError) as caught:
        open_audit_trail(config(tmp_path))
    assert "do not give the root of the checkpoint" in str(caught.value)


def test_a_restart_resumes_from_tiles_without_reading_older_days(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    trail = open_audit_trail(config(tmp_path), clock=clock)
    write(trail, 700)
    clock.set_day(date(2026, 3, 2))
    write(trail, 100, 700)
    trail.close()
    old_day = tmp_path / "audit" / "2026" / "03" / "01.jsonl"
    hidden = old_day.rename(tmp_path / "hidden.jsonl")  # the writer must not need it
    trail = open_audit_trail(config(tmp_path), clock=clock)
    write(trail, 200, 800)
    trail.close()
    hidden.rename(old_day)
    store = local_checkpoints(tmp_path / "audit")
    assert store.newest_size() == 1000
    check_checkpoints(store, hashes_in_seq_order(local_lines(tmp_path / "audit")))


def test_checkpoints_start_on_a_log_written_without_them(tmp_path: Path) -> None:
    trail = open_audit_trail(config(tmp_path, audit_signing_key=None))
    write(trail, 600)
    trail.close()
    trail = open_audit_trail(config(tmp_path))
    write(trail, 1, 600)
    trail.close()
    store = local_checkpoints(tmp_path / "audit")
    assert store.newest_size() == 601
    check_checkpoints(store, hashes_in_seq_order(local_lines(tmp_path / "audit")))


def test_a_contradicting_checkpoint_fails_the_trail_closed(tmp_path: Path) -> None:
    _close_with_checkpoint(tmp_path, 10)
    trail = open_audit_trail(config(tmp_path))
    # Signed with the writer's own key (a stolen key, or a second writer on another history):
    forged = sign_checkpoint(Checkpoint("someone", 15, b"\x07" * 32), SIGNER)
    local_checkpoints(tmp_path / "audit").put_checkpoint(15, forged, "2030-01-01T00:00:00Z", "x")
    try:
        write(trail, 10, 10)
        wait_for(lambda: not trail.healthy)
        with pytest.raises(AuditCorruptionError) as caught:
            trail.record_event("test.write", {"n": "refused"})
        assert "tree size 15" in str(caught.value) and "two histories" in str(caught.value)
    finally:
        trail.close()
    assert local_checkpoints(tmp_path / "audit").newest_size() == 15  # nothing signed past it


def test_a_checkpoint_signed_with_another_key_does_not_block_the_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _close_with_checkpoint(tmp_path, 5)
    planted = sign_checkpoint(Checkpoint("x", 900, b"\x01" * 32), OTHER_SIGNER)
    local_checkpoints(tmp_path / "audit").put_checkpoint(900, planted, "2030-01-01T00:00:00Z", "x")
    with caplog.at_level(logging.WARNING):
        trail = open_audit_trail(config(tmp_path))
    write(trail, 5, 5)
    trail.close()
    assert "ignoring checkpoint" in caplog.text and "00000000000000000900" in caplog.text
    assert 10 in local_checkpoints(tmp_path / "audit").checkpoint_sizes()


def test_a_bad_signing_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(AuditUsageError) as caught:
        open_audit_trail(config(tmp_path, audit_signing_key=str(tmp_path / "missing.key")))
    assert f"AUDIT_SIGNING_KEY={tmp_path / 'missing.key'}: cannot read" in str(caught.value)
    (tmp_path / "bad.key").write_text("not a key\n")
    with pytest.raises(AuditUsageError) as caught:
        open_audit_trail(config(tmp_path, audit_signing_key=str(tmp_path / "bad.key")))
    assert "is not a signer key" in str(caught.value) and caught.value.exit_code == 2
    secret = "PRIVATE+KEY+name+00000000+c2VjcmV0"
    with pytest.raises(AuditUsageError) as caught:
        open_audit_trail(config(tmp_path, audit_signing_key=secret))
    assert "c2VjcmV0" not in str(caught.value)


def test_several_writer_processes_publish_one_consistent_sequence(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    key = write_key(tmp_path)
    env = {
        **cli_env,
        "AUDIT_STORAGE_PATH": str(tmp_path / "audit"),
        "AUDIT_SIGNING_KEY": str(key),
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": "0.02",
    }
    writers = [
        subprocess.Popen([PYTHON, str(WRITER), "1600", "8"], env=env, stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    assert sorted(acked_seqs(writers)) == list(range(6400))
    store = local_checkpoints(tmp_path / "audit")
    sizes = check_checkpoints(store, hashes_in_seq_order(local_lines(tmp_path / "audit")))
    assert sizes[-1] == 6400 and len(sizes) > 4
    verified = verify_audit_trail(
        tmp_path / "audit", checkpoints=CheckpointOptions(SIGNER.verifier.to_text())
    )
    assert verified.ok, verified.render_text()
    assert verified.stats["checkpoints"]["newest"]["treeSize"] == 6400
