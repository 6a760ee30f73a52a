"""Two real witnesses, the writer's submitter, and ``verify --witness … --witness-quorum N``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_bridge.audit.checkpoint_store import cosignature_name
from mcp_bridge.audit.tile_source import TileSource
from mcp_bridge.audit.verify import main as verify_main
from mcp_bridge.audit.witness.endpoints import parse_witnesses
from mcp_bridge.audit.witness.protocol import format_request
from mcp_bridge.audit.witness.submitter import WitnessSubmitter
from mcp_bridge.audit.witness.worker import Backoff

from .support import SyntheticLog, WitnessProcess


def submitter_for(log: SyntheticLog, witnesses: list[WitnessProcess]) -> WitnessSubmitter:
    spec = ", ".join(f"{w.url} {w.vkey}" for w in witnesses)
    return WitnessSubmitter(
        parse_witnesses(spec), log.store, tiles=TileSource(log.store), backoff=Backoff(0.05, 0.2)
    )


def run_verify(
    capsys: pytest.CaptureFixture[str],
    log: SyntheticLog,
    witnesses: list[WitnessProcess],
    quorum: int,
) -> tuple[int, dict[str, object]]:
    args = [log.store.where(""), "--json", "--allow-empty", "--witness-quorum", str(quorum)]
    for witness in witnesses:
        args += ["--witness", witness.vkey]
    code = verify_main(args)
    return code, json.loads(capsys.readouterr().out)["attestations"]


def reasons(report: dict[str, object]) -> list[str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return [f["reason"] for f in findings]


def test_two_witnesses_cosign_and_one_offline_is_a_quorum_shortfall_until_it_catches_up(
    capsys: pytest.CaptureFixture[str], log: SyntheticLog, witnesses: list[WitnessProcess]
) -> None:
    submitter = submitter_for(log, witnesses)
    try:
        for _ in range(3):
            log.append(40)
            submitter.submit(*log.publish())
        assert submitter.wait_idle(30)
        for witness in witnesses:
            key = witness.verifier.key_id.hex()
            assert log.store.get_attestation(cosignature_name(120, key)) is not None
        code, report = run_verify(capsys, log, witnesses, 2)
        assert (code, reasons(report)) == (0, [])
        assert len(report["cosignedBy"]) == 2  # type: ignore[arg-type]

        # one witness goes offline: the writer keeps publishing, the submitter keeps retrying
        witnesses[1].stop()
        log.append(300)  # crosses a full tile: the catch-up proof spans tiles
        submitter.submit(*log.publish())
        assert not submitter.wait_idle(1.0)
        lag = {entry.url: entry for entry in submitter.lag()}
        assert lag[witnesses[0].url].behind == 0
        assert lag[witnesses[1].url].behind == 300 and lag[witnesses[1].url].failures > 0
        code, report = run_verify(capsys, log, witnesses, 2)
        assert (code, reasons(report)) == (1, ["witness_quorum_short"])
        code, report = run_verify(capsys, log, witnesses, 1)
        assert (code, reasons(report)) == (0, [])

        # back again: it catches up from size 120 with a consistency proof
        log.append(5)
        note, size = log.publish()
        witnesses[1].start()
        submitter.submit(note, size)
        assert submitter.wait_idle(30)
        assert all(entry.behind == 0 for entry in submitter.lag())
        code, report = run_verify(capsys, log, witnesses, 2)
        assert (code, reasons(report)) == (0, [])
        assert witnesses[1].add(format_request(0, [], note)).content == f"{size}\n".encode()
    finally:
        submitter.close()


def test_a_log_rewritten_with_the_stolen_key_fails_the_quorum(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    log: SyntheticLog,
    witnesses: list[WitnessProcess],
) -> None:
    submitter = submitter_for(log, witnesses)
    log.append(50)
    submitter.submit(*log.publish())
    assert submitter.wait_idle(30)
    submitter.close()

    # The key holder rewrites history in a new store and asks the same witnesses.
    fork = SyntheticLog(tmp_path / "rewritten", log.origin, log.signer)
    fork.append(60)
    forged = submitter_for(fork, witnesses)
    forged.submit(*fork.publish())
    assert not forged.wait_idle(1.5)
    assert all("422" in (entry.last_error or "") for entry in forged.lag())
    forged.close()
    # Copying the honest cosignatures beside the forged checkpoint does not help either.
    for witness in witnesses:
        name = cosignature_name(50, witness.verifier.key_id.hex())
        line = log.store.get_attestation(name)
        assert line is not None
        fork.store.put_attestation(cosignature_name(60, witness.verifier.key_id.hex()), line)
    code, report = run_verify(capsys, fork, witnesses, 1)
    assert code == 1
    assert reasons(report) == ["cosignature_invalid", "cosignature_invalid", "witness_quorum_short"]


def test_a_cosignature_far_from_the_checkpoints_publication_is_reported(
    capsys: pytest.CaptureFixture[str], log: SyntheticLog, witnesses: list[WitnessProcess]
) -> None:
    """The witness cosigns now a checkpoint the log says it published in 2000."""
    submitter = submitter_for(log, witnesses[:1])
    log.append(7)
    submitter.submit(*log.publish("2000-01-01T00:00:00.000000Z"))
    assert submitter.wait_idle(30)
    submitter.close()
    code, report = run_verify(capsys, log, witnesses[:1], 1)
    assert (code, reasons(report)) == (1, ["cosignature_time_skew"])
    [finding] = report["findings"]  # type: ignore[misc]
    assert "from the checkpoint's publication (2000-01-01T00:00:00.000000Z)" in finding["message"]
    args = [log.store.where(""), "--json", "--allow-empty", "--witness", witnesses[0].vkey]
    skew = str(30 * 365 * 86400)
    assert verify_main([*args, "--witness-max-skew", skew]) == 0
    assert json.loads(capsys.readouterr().out)["attestations"]["findings"] == []
