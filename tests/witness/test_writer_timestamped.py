"""The checkpoint writer stamps its checkpoints at the TSA of ``AUDIT_TSA_URL`` (a real local
``openssl ts`` TSA), and ``jobs`` checks the tokens from its own settings (``AUDIT_TSA_CERTS``,
``AUDIT_VERIFY_TIMESTAMP_REQUIRED``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mcp_bridge.audit.jobs import run_scheduled_verification
from mcp_bridge.audit.trail import open_audit_trail
from mcp_bridge.config import load_config

from ..audit.checkpoint_helpers import signing_config
from .tsa import LocalTsa, make_ca

ORIGIN = "audit.test/timestamped"


def test_the_writer_stamps_its_checkpoints_and_jobs_checks_the_tokens(tmp_path: Path) -> None:
    tsa = LocalTsa(tmp_path / "tsa")
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    try:
        config = signing_config(tmp_path, ORIGIN, audit_tsa_url=tsa.url, audit_tsa_certs=tsa.ca_pem)
        trail = open_audit_trail(config)
        for number in range(12):
            assert trail.record_event("test.event", {"n": number}) is not None
        scheduler = trail.checkpoints
        assert scheduler is not None and scheduler.attestors is not None
        trail.close()  # publishes the last checkpoint and waits for its token
        health = scheduler.attestors.health()["tsa"]
    finally:
        tsa.close()
    assert health["failures"] == 0 and health["stampedSize"] >= 12

    def run(certs: Path) -> tuple[bool, str, dict[str, str]]:
        job = load_config(
            audit_storage_path=tmp_path / "audit",
            audit_verify_report_dir=tmp_path / "reports",
            audit_tsa_certs=certs,
            audit_verify_timestamp_required=True,
        )
        outcome = run_scheduled_verification(job)
        assert outcome.attestations is not None
        attestations = outcome.attestations.to_dict()
        return outcome.ok, outcome.line(), attestations["timestamps"]

    ok, line, times = run(tsa.ca_pem)
    assert ok, line
    proved = datetime.fromisoformat(times[str(health["stampedSize"])].replace("Z", "+00:00"))
    assert before <= proved <= datetime.now(UTC) + timedelta(seconds=1)
    make_ca(tmp_path / "other", "Another Root")
    ok, line, _ = run(tmp_path / "other" / "ca.pem")
    assert not ok and "timestamp_untrusted" in line, line
