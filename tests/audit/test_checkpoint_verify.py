"""``verify --vkey`` on local logs: each tamper names the checkpoint that proves it.

The log is written by the real trail (``build_log``); checkpoints and tiles are published over it
at chosen tree sizes by ``checkpoints.publish`` (what the writer does), then the log or the
checkpoints are damaged as an attacker with write access to the store would.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_bridge.audit import tree_offload
from mcp_bridge.audit import verification as verification_module
from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.checkpoint_check import CheckpointOptions
from mcp_bridge.audit.checkpoint_store import checkpoint_name
from mcp_bridge.audit.checkpoint_verify import SeqCapture
from mcp_bridge.audit.jobs import run_scheduled_verification
from mcp_bridge.audit.records import seal_record
from mcp_bridge.audit.results import Reason, VerificationResult
from mcp_bridge.audit.storage.local import parallel as local_parallel
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.verification import verify_audit_trail
from mcp_bridge.config import load_config

from ..conftest import DAYS, Log, build_log, run_module
from .checkpoints import (
    OTHER_SIGNER,
    SIGNER,
    VKEY,
    publish,
    publish_local,
    record_hashes,
    reseal_from,
)

LATER = datetime(2025, 10, 25, 13, 0, tzinfo=UTC)  # an hour after the last record


def verify(log: Log, *, now: datetime = LATER, **options: object) -> VerificationResult:
    checkpoints = CheckpointOptions(VKEY, now=now, **options)  # type: ignore[arg-type]
    return verify_audit_trail(log.root, checkpoints=checkpoints, parallel=False)


def reasons(result: VerificationResult) -> list[Reason]:
    return [failure.reason for failure in result.failures]


@pytest.fixture
def signed(log3: Log) -> Log:
    """``log3`` (30 records over three days) with checkpoints at 10, 20 and 30 records."""
    publish_local(log3.root, [10, 20, 30])
    return log3


def test_an_intact_log_verifies_against_every_checkpoint(signed: Log) -> None:
    result = verify(signed)
    assert result.ok, result.render_text()
    summary = result.stats["checkpoints"]
    assert summary["checked"] == 3 and summary["valid"] == 3
    assert summary["newest"]["treeSize"] == 30
    assert summary["treeHashedBy"] == "this process"  # a short log: no helper
    assert "uncovered" not in summary
    assert result.stats["checkpoints"]["verifierKey"] == VKEY


def test_without_a_key_the_report_says_what_is_not_covered(
    signed: Log, cli_env: dict[str, str]
) -> None:
    result = verify_audit_trail(signed.root, parallel=False)
    assert result.ok
    assert "records cut from the end" in result.stats["checkpoints"]["notCovered"]
    shown = run_module("mcp_bridge.audit", "verify", str(signed.root), env=cli_env)
    assert shown.returncode == 0
    assert shown.stdout.startswith("verified: 30 events")
    assert shown.stdout.rstrip().endswith("are not detected")


def _cut_last(log: Log, day: date, keep: int) -> None:
    log.write_lines(day, log.lines(day)[:keep])


def test_newest_records_cut(signed: Log) -> None:
    _cut_last(signed, DAYS[-1], 7)  # 27 records left; checkpoint 30 covers 30
    result = verify(signed)
    assert reasons(result) == [Reason.LOG_TRUNCATED]
    failure = result.failures[0]
    assert failure.location.endswith(checkpoint_name(30))
    assert "holds 27 records" in failure.message and "tree size 30" in failure.message
    assert "2025-10-25T12:00:00.000000Z" in failure.message  # its publication time
    assert failure.seq == 27


def test_newest_partition_deleted(signed: Log) -> None:
    signed.file_of(DAYS[-1]).unlink()
    result = verify(signed)
    assert reasons(result) == [Reason.LOG_TRUNCATED]
    assert result.failures[0].location.endswith(checkpoint_name(30))
    assert "holds 20 records" in result.failures[0].message


def _append_forged(log: Log, timestamp: str) -> None:
    """A correctly chained record, as anyone who can write the store can append."""
    last = json.loads(log.lines(DAYS[-1])[-1])
    _, line = seal_record(last["hash"], last["seq"] + 1, timestamp, "forged-1", "tool.call", "{}")
    with log.file_of(DAYS[-1]).open("ab") as handle:
        handle.write(line)


def test_forged_record_appended_after_the_newest_checkpoint(signed: Log) -> None:
    _append_forged(signed, "2025-10-25T12:30:00.000000Z")
    # Still within interval + grace of "now": reported as not yet covered, not a failure.
    fresh = verify(signed, now=datetime(2025, 10, 25, 12, 33, tzinfo=UTC))
    assert fresh.ok, fresh.render_text()
    assert [n.kind for n in fresh.notes] == ["not_yet_covered"]
    assert fresh.stats["checkpoints"]["uncovered"]["count"] == 1
    # Once older than the interval plus the grace, a live writer would have covered it.
    late = verify(signed)
    assert reasons(late) == [Reason.UNCOVERED_RECORDS]
    failure = late.failures[0]
    assert failure.seq == 30 and failure.timestamp == "2025-10-25T12:30:00.000000Z"
    assert failure.location == str(signed.file_of(DAYS[-1]))
    assert "1 records (seq 30..30" in failure.message


def _rewrite(log: Log, first: int = 0) -> None:
    """Records from seq ``first`` on get another payload and a recomputed chain: the chain
    verifies, only the Merkle roots the records give can tell."""
    previous = "0" * 64
    for day in DAYS:
        lines, previous = reseal_from(log.lines(day), first, previous)
        log.write_lines(day, lines)


def test_the_whole_log_rewritten_with_new_hashes(signed: Log) -> None:
    _rewrite(signed)
    result = verify(signed)
    assert reasons(result) == [Reason.CHECKPOINT_MISMATCH] * 3
    assert [f.seq for f in result.failures] == [9, 19, 29]
    assert result.failures[0].location.endswith(checkpoint_name(10))
    assert "records up to it were changed" in result.failures[0].message


def test_a_record_rewritten_with_a_recomputed_chain_after_its_checkpoints(signed: Log) -> None:
    """Seq 15 changed and every later record re-chained: the chain alone verifies, the
    checkpoints covering seq 15 (20 and 30) do not; 10 still matches."""
    _rewrite(signed, 15)
    assert verify_audit_trail(signed.root, parallel=False).ok  # the chain cannot tell
    result = verify(signed)
    assert reasons(result) == [Reason.CHECKPOINT_MISMATCH] * 2
    first, second = result.failures
    assert first.location.endswith(checkpoint_name(20)) and first.seq == 19
    assert second.location.endswith(checkpoint_name(30)) and second.seq == 29
    assert "checkpoint of tree size 20 (published 2025-10-25T12:00:00.000000Z)" in first.message
    assert "its first 20 records" in first.message
    assert first.related == (str(signed.file_of(DAYS[1])),)  # where seq 19 is stored
    assert result.stats["checkpoints"]["recomputed"] == 1


def test_a_checkpoint_whose_root_the_records_do_not_give(signed: Log) -> None:
    """A checkpoint of a new size, signed with the right key over other records."""
    store = local_checkpoints(signed.root)
    other = [f"{n:064x}" for n in range(25)]
    publish(store, other, [25])
    result = verify(signed)
    assert Reason.CHECKPOINT_MISMATCH in reasons(result)
    mismatch = result.failures[reasons(result).index(Reason.CHECKPOINT_MISMATCH)]
    assert mismatch.location.endswith(checkpoint_name(25)) and mismatch.seq == 24
    # 30 matches the records, so 25 is also another history than 30's.
    assert Reason.CHECKPOINT_INCONSISTENT in reasons(result)
    assert all("tree size 25" in failure.message for failure in result.failures)


def test_a_window_recomputes_its_checkpoints_from_tiles_and_its_records(signed: Log) -> None:
    _rewrite(signed, 15)
    window = CheckpointOptions(VKEY, now=LATER)
    result = verify_audit_trail(signed.root, start=DAYS[1], checkpoints=window, parallel=False)
    assert reasons(result) == [Reason.CHECKPOINT_MISMATCH] * 2
    assert [f.seq for f in result.failures] == [19, 29]
    # A damaged tile before the window (a level-0 tile as logs written before they were
    # derived store them, read first) is named, never taken as the records' fault.
    local_checkpoints(signed.root).put_tile("tile/0/000.p/10", bytes(32 * 10))
    damaged = verify_audit_trail(signed.root, start=DAYS[2], checkpoints=window, parallel=False)
    assert reasons(damaged) == [Reason.TILE_MISSING]
    assert damaged.failures[0].location.endswith(checkpoint_name(10))
    assert "do not reproduce its root" in damaged.failures[0].message


def test_a_window_reads_the_records_before_it_by_seq(signed: Log) -> None:
    """The tree before a window is the newest checkpoint before it (from its tiles) and the
    records between that and the window, read by seq: one missing there is named."""
    lines = signed.lines(DAYS[0])
    signed.write_lines(DAYS[0], lines[:5] + lines[6:])  # seq 5 gone, seq 9 anchors the window
    window = CheckpointOptions(VKEY, now=LATER)
    result = verify_audit_trail(signed.root, start=DAYS[1], checkpoints=window, parallel=False)
    assert reasons(result) == [Reason.TILE_MISSING]
    failure = result.failures[0]
    assert failure.seq == 5 and failure.related == (str(signed.file_of(DAYS[0])),)
    assert "record seq 5 is missing" in failure.message


def test_a_checkpoint_replaced_by_one_signed_with_another_key(signed: Log) -> None:
    store = local_checkpoints(signed.root)
    path = Path(store.where(checkpoint_name(30)))
    path.unlink()
    publish(store, record_hashes(signed.root), [30], signer=OTHER_SIGNER)
    result = verify(signed)
    assert reasons(result)[0] == Reason.CHECKPOINT_SIGNATURE
    assert result.failures[0].location == str(path)
    assert "[unknown_key]" in result.failures[0].message
    # Without a valid newest checkpoint, records 20..29 are no longer covered.
    assert Reason.UNCOVERED_RECORDS in reasons(result)


def test_a_checkpoint_deleted_while_the_mirror_keeps_it(signed: Log, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    publish_local(mirror, [])  # an empty mirror directory
    for size in (10, 20, 30):
        source = local_checkpoints(signed.root).get_checkpoint(size)
        assert source is not None
        local_checkpoints(mirror).put_checkpoint(size, source.note, "x", "o")
    Path(local_checkpoints(signed.root).where(checkpoint_name(30))).unlink()
    _cut_last(signed, DAYS[-1], 5)  # and the records it covered
    result = verify(signed, mirror=str(mirror))
    assert reasons(result) == [Reason.CHECKPOINT_DELETED, Reason.LOG_TRUNCATED]
    deleted = result.failures[0]
    assert deleted.location.endswith(checkpoint_name(30))
    assert deleted.related == (str(mirror / checkpoint_name(30)),)
    assert "holds 25 records" in result.failures[1].message


def test_inconsistent_checkpoints_signed_with_the_right_key(signed: Log) -> None:
    """What a compromised or buggy writer could do: sign a second history."""
    store = local_checkpoints(signed.root)
    Path(store.where(checkpoint_name(20))).unlink()
    bogus = sign_checkpoint(Checkpoint("audit.example.com/test", 20, bytes(32)), SIGNER)
    store.put_checkpoint(20, bogus, "2025-10-24T12:00:00.000000Z", "o")
    result = verify(signed)
    assert Reason.CHECKPOINT_MISMATCH in reasons(result)
    assert Reason.CHECKPOINT_INCONSISTENT in reasons(result)
    assert all("tree size 20" in f.message for f in result.failures)


@pytest.fixture
def signed300(tmp_path: Path) -> Log:
    """300 records over three days, checkpoints at 100, 200 and 300: level-1 tiles stored."""
    log = build_log(tmp_path / "audit", DAYS, 100)
    publish_local(log.root, [100, 200, 300])
    return log


def test_a_missing_tile_is_named(signed300: Log) -> None:
    assert verify(signed300).ok
    tiles = signed300.root / "_tiles" / "tile"
    assert sorted(p.name for p in tiles.iterdir()) == ["1"]  # level 0 is never stored
    shutil.rmtree(tiles)
    for start in (None, DAYS[1]):
        options = CheckpointOptions(VKEY, now=LATER)
        result = verify_audit_trail(
            signed300.root, start=start, checkpoints=options, parallel=False
        )
        assert reasons(result) == [Reason.TILE_MISSING], start
        assert "tile/1/000.p/1" in result.failures[0].message
        assert result.failures[0].location.endswith(checkpoint_name(300))


def test_a_damaged_level1_tile_is_named_not_the_records(signed300: Log) -> None:
    store = local_checkpoints(signed300.root)
    tile = Path(store.where("_tiles/tile/1/000.p/1"))
    tile.unlink()
    store.put_tile("tile/1/000.p/1", bytes(32))
    result = verify(signed300)
    assert reasons(result) == [Reason.TILE_MISSING]
    assert "right-edge hash tiles do not give its root" in result.failures[0].message


def test_windowed_verification_checks_the_window_and_the_newest(signed: Log) -> None:
    result = verify_audit_trail(
        signed.root,
        start=DAYS[1],
        checkpoints=CheckpointOptions(VKEY, now=LATER),
        parallel=False,
    )
    assert result.ok, result.render_text()
    # 10 (its last record is the one the window links to), 20 and 30.
    assert result.stats["checkpoints"]["checked"] == 3
    signed.file_of(DAYS[-1]).unlink()
    damaged = verify_audit_trail(
        signed.root, start=DAYS[1], checkpoints=CheckpointOptions(VKEY, now=LATER)
    )
    assert reasons(damaged) == [Reason.LOG_TRUNCATED]


def test_window_ending_in_the_past_does_not_claim_the_length_was_checked(signed: Log) -> None:
    _cut_last(signed, DAYS[-1], 3)
    result = verify_audit_trail(
        signed.root, end=DAYS[1], checkpoints=CheckpointOptions(VKEY, now=LATER)
    )
    assert result.ok
    assert "log_end_not_checked" in [n.kind for n in result.notes]


def test_no_checkpoint_at_all_fails_once_records_are_old(log3: Log) -> None:
    result = verify(log3)
    assert reasons(result) == [Reason.UNCOVERED_RECORDS]
    assert "30 records (seq 0..29" in result.failures[0].message


def test_cli_exit_codes_and_json(signed: Log, cli_env: dict[str, str], tmp_path: Path) -> None:
    root = str(signed.root)
    ok = run_module("mcp_bridge.audit", "verify", root, "--vkey", VKEY, "--json", env=cli_env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["stats"]["checkpoints"]["checked"] == 3
    key_file = tmp_path / "vkey"
    key_file.write_text(VKEY + "\n")
    signed.file_of(DAYS[-1]).unlink()
    failed = run_module("mcp_bridge.audit", "verify", root, "--vkey", str(key_file), env=cli_env)
    assert failed.returncode == 1
    assert "log_truncated" in failed.stdout and checkpoint_name(30) in failed.stdout
    for bad in (["--vkey", "nonsense"], ["--vkey", SIGNER.to_text()], ["--mirror", root]):
        usage = run_module("mcp_bridge.audit", "verify", root, *bad, env=cli_env)
        assert usage.returncode == 2, (bad, usage.stderr)
        assert "Traceback" not in usage.stderr
        assert SIGNER.to_text() not in usage.stderr
    os.chmod(signed.root / "_checkpoints", 0o000)
    try:
        if os.access(signed.root / "_checkpoints", os.R_OK):
            return  # running as root: permissions do not apply
        broken = run_module("mcp_bridge.audit", "verify", root, "--vkey", VKEY, env=cli_env)
        assert broken.returncode == 3, broken.stderr
    finally:
        os.chmod(signed.root / "_checkpoints", 0o755)


def test_jobs_reads_the_verifier_key_and_timing_from_the_config(
    signed: Log, tmp_path: Path
) -> None:
    key_file = tmp_path / "vkey"
    key_file.write_text(VKEY + "\n")
    config = load_config(
        audit_storage_path=signed.root,
        audit_verify_report_dir=tmp_path / "reports",
        audit_verify_lookback_days=2,
        audit_verify_key=str(key_file),
        audit_checkpoint_grace_seconds=60,
    )
    now = datetime(2025, 10, 25, 23, tzinfo=UTC)
    assert run_scheduled_verification(config, reference_time=now).ok
    _append_forged(signed, "2025-10-25T12:30:00.000000Z")
    outcome = run_scheduled_verification(config, reference_time=now)
    assert reasons(outcome.result) == [Reason.UNCOVERED_RECORDS]
    assert "interval plus grace (70 s)" in outcome.result.failures[0].message
    signed.file_of(DAYS[-1]).unlink()
    truncated = run_scheduled_verification(config, reference_time=now)
    assert reasons(truncated.result) == [Reason.LOG_TRUNCATED]


def _lines(count: int) -> list[bytes]:
    previous, out = "0" * 64, []
    for seq in range(count):
        previous, line = seal_record(previous, seq, "2025-10-25T12:00:00.000000Z", "e", "t", "{}")
        out.append(line)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 400).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(st.integers(0, n + 5)),
            st.lists(st.integers(0, n - 1), max_size=4),
            st.lists(st.integers(0, n - 1), max_size=3),
        )
    )
)
def test_seq_capture_finds_every_wanted_record_even_in_a_damaged_log(
    case: tuple[int, set[int], list[int], list[int]],
) -> None:
    count, wanted, dropped, garbage = case
    lines = _lines(count)
    kept = [line for seq, line in enumerate(lines) if seq not in dropped]
    for at in sorted(garbage, reverse=True):
        kept.insert(min(at, len(kept)), b'{"torn": \n')
    capture = SeqCapture(wanted)
    assert list(capture.lines(kept, "here")) == kept  # every line passes through, in order
    present = {seq for seq in range(count) if seq not in dropped}
    assert set(capture.found) == wanted & present
    for seq, record in capture.found.items():
        assert record.hash == json.loads(lines[seq])["hash"] and record.location == "here"


def test_parallel_confirmation_picks_the_checkpoint_records_out_in_the_workers(
    signed: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large local log is confirmed on every core; the few records the checkpoint checks
    need are picked out of the lines the workers read, none looked up afterwards, so --vkey
    keeps the parallel speed."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("parallel confirmation needs two cores")
    monkeypatch.setattr(local_parallel, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(local_parallel, "_MIN_CHUNK_BYTES", 1500)
    looked_up: list[int] = []
    find = verification_module.find_by_seq
    monkeypatch.setattr(
        verification_module,
        "find_by_seq",
        lambda root, seq: looked_up.append(seq) or find(root, seq),
    )
    options = CheckpointOptions(VKEY, now=LATER)
    result = verify_audit_trail(signed.root, checkpoints=options)
    assert result.ok and result.stats["parallel"] is True
    assert result.stats["checkpoints"]["checked"] == 3
    assert looked_up == []
    _rewrite(signed)  # an intact chain (confirmed in parallel) but another history
    damaged = verify_audit_trail(signed.root, checkpoints=options)
    assert damaged.stats["parallel"] is True
    assert reasons(damaged) == [Reason.CHECKPOINT_MISMATCH] * 3


def test_a_window_after_the_newest_checkpoint(log3: Log) -> None:
    publish_local(log3.root, [10])
    options = CheckpointOptions(VKEY, now=LATER, grace_seconds=10**9)
    result = verify_audit_trail(log3.root, start=DAYS[2], checkpoints=options)
    assert result.ok, result.render_text()
    assert result.stats["checkpoints"]["uncovered"]["count"] == 20
    older = verify_audit_trail(log3.root, start=DAYS[1], end=DAYS[1], checkpoints=options)
    assert older.ok, older.render_text()  # checkpoint 10 ends at the record the window links to
    # The window's records are old and uncovered: a failure, though the oldest uncovered
    # record (seq 10) is before the window.
    strict = CheckpointOptions(VKEY, now=LATER)
    late = verify_audit_trail(log3.root, start=DAYS[2], checkpoints=strict)
    assert reasons(late) == [Reason.UNCOVERED_RECORDS]
    assert "20 records (seq 10..29, 2025-10-25T12:00:00.000000Z" in late.failures[0].message


def test_seq_capture_finds_a_wanted_record_before_a_gap_in_its_chunk() -> None:
    """seq 1 deleted: the chunk [0, 2] ends at 2, yet seq 0 sits before where it would be."""
    lines = _lines(3)
    capture = SeqCapture({0})
    list(capture.lines([lines[0], lines[2]], "here"))
    assert sorted(capture.found) == [0]


def test_parallel_confirmation_recomputes_the_roots_on_every_core(
    signed: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers hash their ranges into the tree; the parent joins them in order."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("parallel confirmation needs two cores")
    monkeypatch.setattr(local_parallel, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(local_parallel, "_MIN_CHUNK_BYTES", 1500)
    _rewrite(signed, 15)
    result = verify_audit_trail(signed.root, checkpoints=CheckpointOptions(VKEY, now=LATER))
    assert result.stats["parallel"] is True
    assert result.stats["checkpoints"]["treeHashedBy"] == "parallel workers"
    assert reasons(result) == [Reason.CHECKPOINT_MISMATCH] * 2
    assert [f.seq for f in result.failures] == [19, 29]
    assert result.stats["checkpoints"]["recomputed"] == 1


def test_the_tree_hashed_in_a_helper_process_gives_the_same_report(
    signed: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long sequential run hashes the tree in a helper process: same checks, same names."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("the helper needs a second core")
    monkeypatch.setattr(tree_offload, "OFFLOAD_AFTER", 5)
    monkeypatch.setattr(tree_offload, "SPAWNED_AFTER", 5)
    intact = verify(signed)
    assert intact.ok and intact.stats["checkpoints"]["treeHashedBy"] == "helper process"
    _rewrite(signed, 15)
    result = verify(signed)
    assert reasons(result) == [Reason.CHECKPOINT_MISMATCH] * 2
    assert [f.seq for f in result.failures] == [19, 29]
    assert result.stats["checkpoints"]["recomputed"] == 1
