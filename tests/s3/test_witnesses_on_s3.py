"""Witness cosignatures beside checkpoints on SeaweedFS: stored write-once with the records'
Object Lock, and checked by ``verify s3://… --witness``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_bridge.audit.checkpoint_store import cosignature_name
from mcp_bridge.audit.storage.s3.checkpoints import s3_checkpoints
from mcp_bridge.audit.storage.s3.client import WritePolicy, connect
from mcp_bridge.audit.verify import main as verify_main
from mcp_bridge.audit.witness.endpoints import parse_witnesses
from mcp_bridge.audit.witness.submitter import WitnessSubmitter
from mcp_bridge.audit.witness.worker import Backoff

from ..witness.support import SyntheticLog, WitnessProcess
from .conftest import FAST
from .seaweed import SeaweedServer


def test_cosignatures_on_s3_are_locked_and_verify(
    tmp_path: Path, bucket: str, seaweed: SeaweedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    store = s3_checkpoints(connect(FAST), bucket, "audit", WritePolicy("governance", 1, None))
    log = SyntheticLog(store)
    witness = WitnessProcess(tmp_path / "w", "w.example.net", [(log.origin, log.vkey)]).start()
    try:
        submitter = WitnessSubmitter(
            parse_witnesses(f"{witness.url} {witness.vkey}"), store, backoff=Backoff(0.05, 0.2)
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
