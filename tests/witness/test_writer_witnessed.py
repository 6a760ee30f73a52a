"""The checkpoint writer hands each checkpoint it publishes to the witnesses (AUDIT_WITNESSES):
a real trail, two real witness processes, verification with quorum 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_bridge.audit.trail import open_audit_trail
from mcp_bridge.audit.verify import main as verify_main

from ..audit.checkpoint_helpers import SIGNER, signing_config, wait_for
from .support import WitnessProcess

ORIGIN = "audit.test/witnessed"


def test_the_writer_submits_every_checkpoint_and_never_waits_for_a_witness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = (ORIGIN, SIGNER.verifier.to_text())
    witnesses = [WitnessProcess(tmp_path / f"w{n}", f"w{n}.test", [log]).start() for n in (1, 2)]
    witnesses[1].stop()  # one witness is down when the writer starts
    try:
        config = signing_config(
            tmp_path, ORIGIN, audit_witnesses=", ".join(f"{w.url} {w.vkey}" for w in witnesses)
        )
        trail = open_audit_trail(config)
        for number in range(30):
            assert trail.record_event("test.event", {"n": number}) is not None
        scheduler = trail.checkpoints
        assert scheduler is not None and scheduler.attestors is not None
        attestors = scheduler.attestors

        def lag() -> dict[str, dict[str, object]]:
            return {w["url"]: w for w in attestors.health()["witnesses"]}

        wait_for(lambda: lag()[witnesses[0].url]["behind"] == 0)
        failed = lag()[witnesses[1].url]["failures"]
        assert isinstance(failed, int) and failed > 0
        witnesses[1].start()
        trail.record_event("test.event", {"n": "after"})
        wait_for(lambda: all(entry["behind"] == 0 for entry in lag().values()))
        back = lag()[witnesses[1].url]
        # the backoff restarts after a success; the total (a Prometheus counter) never goes down
        assert back["failures"] == 0 and back["lastError"] is None
        assert isinstance(back["failuresTotal"], int) and back["failuresTotal"] >= failed
        trail.close()
        args = [str(tmp_path / "audit"), "--json", "--witness-quorum", "2"]
        for witness in witnesses:
            args += ["--witness", witness.vkey]
        assert verify_main(args) == 0
        report = json.loads(capsys.readouterr().out)["attestations"]
        assert len(report["cosignedBy"]) == 2
    finally:
        for witness in witnesses:
            witness.stop()
