"""``jobs`` checks cosignatures from its environment (AUDIT_VERIFY_WITNESSES, …)."""

from __future__ import annotations

from pathlib import Path

from mcp_bridge.audit.jobs import run_scheduled_verification
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.tile_source import TileSource
from mcp_bridge.audit.witness.cosignature import Cosigner
from mcp_bridge.audit.witness.endpoints import parse_witnesses
from mcp_bridge.audit.witness.submitter import WitnessSubmitter
from mcp_bridge.audit.witness.worker import Backoff
from mcp_bridge.config import load_config

from .support import SyntheticLog, WitnessProcess


def test_jobs_reports_a_quorum_shortfall_from_its_settings(
    tmp_path: Path, log: SyntheticLog, witnesses: list[WitnessProcess]
) -> None:
    witness = witnesses[0]
    submitter = WitnessSubmitter(
        parse_witnesses(f"{witness.url} {witness.vkey}"),
        log.store,
        tiles=TileSource(log.store),  # a synthetic log: every tile stored, no records
        backoff=Backoff(0.05, 0.2),
    )
    log.append(9)
    submitter.submit(*log.publish())
    assert submitter.wait_idle(30)
    submitter.close()
    absent = Cosigner(Signer.generate("absent.example.net")).verifier.to_text()

    def run(quorum: int) -> tuple[bool, str]:
        config = load_config(
            audit_storage_path=log.store.where(""),
            audit_verify_report_dir=tmp_path / "reports",
            audit_verify_witnesses=f"{witness.vkey}, {absent}",
            audit_verify_witness_quorum=quorum,
        )
        # the synthetic log holds checkpoints and tiles only, no audit records
        outcome = run_scheduled_verification(config, allow_empty=True)
        return outcome.ok, outcome.line()

    assert run(1)[0]
    ok, line = run(2)
    assert not ok and line.endswith("witnesses or timestamps failed (witness_quorum_short)")
