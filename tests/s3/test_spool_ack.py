"""``AUDIT_S3_ACK=spool``: acknowledged from the local fsync'd spool, shipped to the bucket."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mcp_bridge.audit import AuditTrail, verify_audit_trail
from mcp_bridge.audit.storage.s3.client import ClientOptions
from mcp_bridge.audit.storage.s3.spool_ack import SpoolAckStore
from mcp_bridge.config import ConfigError, load_config

from ..conftest import REPO
from .conftest import Clock
from .seaweed import SeaweedServer

# Refused connections fail fast while S3 is down.
QUICK = ClientOptions(connect_timeout=0.5, read_timeout=5.0, max_attempts=2)


def _shipped_numbers(trail: AuditTrail) -> list[int]:
    return sorted(r["payload"]["n"] for r in trail.fetch_events(10_000) if "n" in r["payload"])


def test_records_are_acknowledged_from_the_spool_and_shipped(
    open_trail, bucket: str, clock: Clock
) -> None:
    trail = open_trail(clock, audit_s3_ack="spool")
    store = trail._store
    assert isinstance(store, SpoolAckStore)

    async def main() -> list[object]:
        return list(await asyncio.gather(*(trail.arecord_event("e", {"n": n}) for n in range(60))))

    assert asyncio.run(main()) == [None] * 60  # acknowledged unsealed: no seq yet
    trail.close()  # a clean stop ships everything spooled
    assert _shipped_numbers(trail) == list(range(60))
    assert store.shipping_lags()  # one lag per shipped spool entry
    assert trail.last_durable_seq == 59
    result = verify_audit_trail(f"s3://{bucket}/audit")
    assert result.ok and result.checked_events == 60, result.render_text()


def test_acknowledgements_go_on_while_s3_is_down_and_ship_after(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    seaweed.stop()
    try:
        down = open_trail(clock, options=QUICK, audit_s3_ack="spool")
        for n in range(3):
            assert down.record_event("e", {"n": n}) is None  # durable locally: the call goes on
        assert down.healthy
        down.close()  # the last shipping attempt fails: the events stay in the spool
        assert "shipping the spool" in (down.last_error or "")
        assert any(p.stat().st_size for p in (tmp_path / "spool").glob("spool-*.jsonl"))
    finally:
        seaweed.start()
    successor = open_trail(clock, options=QUICK, audit_s3_ack="spool")
    successor.close()
    assert _shipped_numbers(successor) == [0, 1, 2]
    assert verify_audit_trail(f"s3://{bucket}/audit").ok


def test_sigkill_mid_traffic_loses_nothing_acknowledged(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.s3.spool_writer_proc", bucket, str(spool)],
        stdout=subprocess.PIPE,
        env={**cli_env, **seaweed.env()},
        cwd=REPO,
    )
    assert writer.stdout is not None
    acked: list[int] = []
    try:
        while len(acked) < 300:
            line = writer.stdout.readline()
            assert line, f"the writer exited early with {writer.poll()}"
            acked.append(int(line))
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    acked += [int(line) for line in writer.stdout.read().split()]  # printed before the kill
    assert list(spool.glob("spool-*.jsonl")), "the killed writer left its spool"

    restarted = open_trail(clock, audit_s3_ack="spool")  # adopts the dead writer's spool
    restarted.close()
    shipped = _shipped_numbers(restarted)
    assert set(acked) <= set(shipped)
    result = verify_audit_trail(f"s3://{bucket}/audit")
    assert result.ok, result.render_text()
    assert not any(p.stat().st_size for p in spool.glob("spool-*.jsonl"))


def test_shipping_rounds_are_spaced_and_a_clean_stop_ships_at_once(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer
) -> None:
    trail = open_trail(clock, audit_s3_ack="spool", audit_s3_ship_interval_ms=600_000)
    store = trail._store
    assert isinstance(store, SpoolAckStore)
    first_round = threading.Event()
    store.on_shipped(lambda records, error: records and first_round.set())

    assert trail.record_event("e", {"n": 0}) is None
    assert first_round.wait(30), "the first round after a quiet spell starts at once"
    for n in range(1, 21):
        assert trail.record_event("e", {"n": n}) is None
    assert store.spooled_records == 20  # acknowledged; the next round is ten minutes away

    trail.close()  # does not wait for the interval: ships the 20 in one more round
    assert _shipped_numbers(trail) == list(range(21))
    listing = seaweed.client().list_objects_v2(Bucket=bucket, Prefix="audit/2025/")
    assert len(listing["Contents"]) == 2  # one segment per round
    assert verify_audit_trail(f"s3://{bucket}/audit").ok


def test_a_wrong_ship_interval_names_the_variable() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_env_file=None, audit_s3_ship_interval_ms=0)
    assert "AUDIT_S3_SHIP_INTERVAL_MS" in str(error.value)


def test_a_wrong_ack_mode_names_the_variable() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_env_file=None, audit_s3_ack="disk")
    assert "AUDIT_S3_ACK=disk" in str(error.value)
    assert "bucket, spool" in str(error.value)
