"""Witness cosignatures beside checkpoints on SeaweedFS: stored write-once with the records'
Object Lock, and checked by ``verify s3://… --witness``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.checkpoint_store import checkpoint_name, cosignature_name
from mcp_bridge.audit.storage.s3.checkpoints import s3_checkpoints
from mcp_bridge.audit.storage.s3.client import WritePolicy, connect
from mcp_bridge.audit.storage.s3.entries import S3Records
from mcp_bridge.audit.tile_source import TileSource
from mcp_bridge.audit.verify import main as verify_main
from mcp_bridge.audit.witness.endpoints import parse_witnesses
from mcp_bridge.audit.witness.submitter import WitnessSubmitter
from mcp_bridge.audit.witness.worker import Backoff

from ..audit.checkpoints import ORIGIN, VKEY, publish
from ..witness.support import SyntheticLog, WitnessProcess, published_now
from .conftest import FAST, Clock
from .seaweed import SeaweedServer


def test_cosignatures_on_s3_are_locked_and_verify(
    tmp_path: Path, bucket: str, seaweed: SeaweedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    store = s3_checkpoints(connect(FAST), bucket, "audit", WritePolicy("governance", 1, None))
    log = SyntheticLog(store)
    witness = WitnessProcess(tmp_path / "w", "w.example.net", [(log.origin, log.vkey)]).start()
    try:
        submitter = WitnessSubmitter(
            parse_witnesses(f"{witness.url} {witness.vkey}"),
            store,
            tiles=TileSource(store),  # a synthetic log: every tile stored, no records
            backoff=Backoff(0.05, 0.2),
        )
        log.append(300)
        submitter.submit(*log.publish())
        log.append(20)
        submitter.submit(*log.publish())
        assert submitter.wait_idle(30)
        submitter.close()
    finally:
        witness.stop()
    key = f"audit/{cosignature_name(320, witness.verifier.key_id.hex())}"
    head = seaweed.client().head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    # (the exit code also reflects the record chain, which this synthetic log does not have)
    verify_main([f"s3://{bucket}/audit", "--json", "--witness", witness.vkey])
    report = json.loads(capsys.readouterr().out)["attestations"]
    assert (report["ok"], report["findings"], report["newestCheckpoint"]) == (True, [], 320)
    assert list(report["cosignedBy"]) == [witness.verifier.who]


def test_a_window_on_s3_is_covered_through_a_later_consistent_checkpoint(
    tmp_path: Path,
    bucket: str,
    open_trail: Callable[..., AuditTrail],
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Records on two days, checkpoints at 4 and 8; the witness cosigned only 8 (it was down
    when 4 was offered): the first day's window is covered through 8, proven consistent."""
    trail = open_trail(clock)
    records = [trail.record_event("e", {"n": n}) for n in range(4)]
    clock.now += timedelta(days=1)
    records += [trail.record_event("e", {"n": n}) for n in range(4, 8)]
    trail.close()
    store = s3_checkpoints(connect(FAST), bucket, "audit", WritePolicy("governance", 1, None))
    publish(store, [r["hash"] for r in records], [4, 8], published_at=published_now())
    witness = WitnessProcess(tmp_path / "w", "w.example.net", [(ORIGIN, VKEY)]).start()
    try:
        stored = store.get_checkpoint(8)
        assert stored is not None
        submitter = WitnessSubmitter(
            parse_witnesses(f"{witness.url} {witness.vkey}"),
            store,
            tiles=TileSource(store, S3Records(connect(FAST), bucket, "audit")),
            backoff=Backoff(0.05, 0.2),
        )
        submitter.submit(stored.note, 8)
        assert submitter.wait_idle(30)
        submitter.close()
    finally:
        witness.stop()
    day = "2025/10/24"
    args = [f"s3://{bucket}/audit", "--json", "--vkey", VKEY, "--witness", witness.vkey]
    code = verify_main([*args, "--start", day, "--end", day])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    window = report["attestations"]["window"]
    assert (window["covering"], window["cosignedBy"], window["coveredThrough"]) == (4, [], 8)
    assert window["where"] == store.where(checkpoint_name(4))
