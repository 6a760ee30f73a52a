"""A windowed ``verify --vkey --witness … --witness-quorum N`` checks the window's covering
checkpoint (the smallest signed one that covers its last record) against the quorum too.

The log is written by the real trail (three days, 10 records each), checkpoints at 10, 20 and
30 records are published over it, and two real witness processes cosign them as the writer's
submitter offers them: witness 2 is down while checkpoint 20 is offered, so only 10 and 30 carry
both cosignatures (30 after witness 2 caught up from 10 with a consistency proof). A copy of
the store taken before that catch-up has no checkpoint after 10 with the quorum.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from mcp_bridge.audit.checkpoint_store import cosignature_name
from mcp_bridge.audit.jobs import ScheduledVerificationResult, run_scheduled_verification
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.storage.local.lookup import LocalRecords
from mcp_bridge.audit.tile_source import TileSource
from mcp_bridge.audit.verify import main as verify_main
from mcp_bridge.audit.witness.endpoints import parse_witnesses
from mcp_bridge.audit.witness.submitter import WitnessSubmitter
from mcp_bridge.audit.witness.worker import Backoff
from mcp_bridge.config import load_config

from ..audit.checkpoints import ORIGIN, VKEY, publish_local
from ..conftest import DAYS, build_log
from .support import WitnessProcess, published_now


@dataclass(frozen=True)
class Trails:
    caught_up: Path  # 10 and 30 cosigned by both witnesses, 20 by witness 1 only
    never: Path  # 10 by both, 20 and 30 by witness 1 only
    witnesses: list[WitnessProcess]


def _offer(tiles: TileSource, size: int, witnesses: list[WitnessProcess]) -> None:
    store = tiles.store
    stored = store.get_checkpoint(size)
    assert stored is not None
    spec = ", ".join(f"{w.url} {w.vkey}" for w in witnesses)
    submitter = WitnessSubmitter(
        parse_witnesses(spec), store, tiles=tiles, backoff=Backoff(0.05, 0.2)
    )
    try:
        submitter.submit(stored.note, size)
        assert submitter.wait_idle(30)
    finally:
        submitter.close()


@pytest.fixture(scope="module")
def trails(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trails]:
    folder = tmp_path_factory.mktemp("window")
    root = build_log(folder / "audit", DAYS, 10).root
    store = TileSource(
        publish_local(root, [10, 20, 30], published_at=published_now()), LocalRecords(root)
    )
    witnesses = [
        WitnessProcess(folder / f"w{n}", f"w{n}.example.net", [(ORIGIN, VKEY)]).start()
        for n in (1, 2)
    ]
    try:
        _offer(store, 10, witnesses)
        _offer(store, 20, witnesses[:1])  # witness 2 is down
        _offer(store, 30, witnesses[:1])
        never = folder / "never"
        shutil.copytree(root, never)
        _offer(store, 30, witnesses[1:])  # back: catches up from 10 with a consistency proof
        yield Trails(root, never, witnesses)
    finally:
        for witness in witnesses:
            witness.stop()


def _verify(
    capsys: pytest.CaptureFixture[str], trails: Trails, root: Path, *args: str
) -> tuple[int, dict[str, object]]:
    keys = [arg for w in trails.witnesses for arg in ("--witness", w.vkey)]
    code = verify_main([str(root), "--vkey", VKEY, *keys, "--witness-quorum", "2", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in args else {"text": out}


def _who(trails: Trails) -> list[str]:
    return [w.verifier.who for w in trails.witnesses]


def _day(index: int) -> list[str]:
    day = DAYS[index].strftime("%Y/%m/%d")
    return ["--start", day, "--end", day, "--json"]


def test_the_windows_covering_checkpoint_with_the_quorum_passes_and_is_reported(
    capsys: pytest.CaptureFixture[str], trails: Trails
) -> None:
    code, report = _verify(capsys, trails, trails.caught_up, *_day(0))  # seq 0..9
    assert code == 0, report
    window = report["attestations"]["window"]  # type: ignore[index]
    assert window == {
        "covering": 10,
        "where": local_checkpoints(trails.caught_up).get_checkpoint(10).where,  # type: ignore[union-attr]
        "cosignedBy": _who(trails),
    }
    assert report["stats"]["checkpoints"]["window"]["covering"]["treeSize"] == 10  # type: ignore[index]


def test_a_covering_checkpoint_short_of_the_quorum_passes_through_a_later_consistent_one(
    capsys: pytest.CaptureFixture[str], trails: Trails
) -> None:
    code, report = _verify(capsys, trails, trails.caught_up, *_day(1))  # seq 10..19
    assert code == 0, report
    attestations = report["attestations"]
    assert attestations["findings"] == []  # type: ignore[index]
    window = attestations["window"]  # type: ignore[index]
    assert (window["covering"], window["cosignedBy"]) == (20, _who(trails)[:1])
    assert window["coveredThrough"] == 30
    stats = report["stats"]["checkpoints"]["window"]  # type: ignore[index]
    assert (stats["quorumAt"]["treeSize"], stats["quorumAtConsistent"]) == (30, True)
    code, shown = _verify(capsys, trails, trails.caught_up, *_day(1)[:-1])
    assert code == 0
    assert (
        "window: covering checkpoint 20 (" in shown["text"]
        and f") cosigned by {_who(trails)[0]}; window covered through checkpoint 30 (quorum), "
        "consistent with covering checkpoint 20\n"
        in shown["text"]
    )


def test_no_checkpoint_at_or_after_the_window_with_the_quorum_fails_naming_the_covering_one(
    capsys: pytest.CaptureFixture[str], trails: Trails
) -> None:
    code, report = _verify(capsys, trails, trails.never, *_day(1))
    assert code == 1
    findings = report["attestations"]["findings"]  # type: ignore[index]
    assert [(f["reason"], f["size"]) for f in findings] == [
        ("witness_quorum_short", 30),  # the newest
        ("witness_quorum_short", 20),  # the window's covering checkpoint
    ]
    store = local_checkpoints(trails.never)
    window_finding = findings[1]
    assert window_finding["where"] == store.where(cosignature_name(20, ""))
    stored = store.get_checkpoint(20)
    assert stored is not None
    assert (
        f"the window's covering checkpoint (size 20, {stored.where}); no later checkpoint "
        f"carrying the quorum was proven consistent with it; none valid from: {_who(trails)[1]}"
    ) in window_finding["message"]
    assert "quorumAt" not in report["stats"]["checkpoints"]["window"]  # type: ignore[index]


def test_without_vkey_the_window_is_reported_unchecked(
    capsys: pytest.CaptureFixture[str], trails: Trails
) -> None:
    keys = [arg for w in trails.witnesses for arg in ("--witness", w.vkey)]
    code = verify_main([str(trails.caught_up), *keys, *_day(1)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["attestations"]["window"] == {"covering": None, "checked": False}


def _jobs(root: Path, trails: Trails, reports: Path) -> ScheduledVerificationResult:
    config = load_config(
        audit_storage_path=root,
        audit_verify_report_dir=reports,
        audit_verify_key=VKEY,
        audit_verify_lookback_days=2,
        audit_verify_witnesses=", ".join(w.vkey for w in trails.witnesses),
        audit_verify_witness_quorum=2,
    )
    return run_scheduled_verification(config, reference_time=_evening(2))


def test_jobs_checks_the_windows_covering_checkpoint(tmp_path: Path, trails: Trails) -> None:
    def run(root: Path) -> tuple[bool, str, dict[str, object] | None]:
        outcome = _jobs(root, trails, tmp_path / "reports")
        assert outcome.attestations is not None
        return outcome.ok, outcome.line(), outcome.attestations.window

    ok, _, window = run(trails.caught_up)
    assert ok and window is not None
    assert (window["covering"], window["cosignedBy"]) == (30, _who(trails))
    ok, line, window = run(trails.never)
    assert not ok and line.endswith("witnesses or timestamps failed (witness_quorum_short)")
    assert window is not None and window["cosignedBy"] == _who(trails)[:1]
    # the covering checkpoint is the newest: its shortfall is reported once
    attested = _jobs(trails.never, trails, tmp_path / "reports").attestations
    assert attested is not None
    assert [(f.reason, f.size) for f in attested.findings] == [("witness_quorum_short", 30)]


def _evening(index: int) -> datetime:
    return datetime.combine(DAYS[index], time(23), UTC)


def test_a_later_quorum_checkpoint_not_proven_consistent_does_not_stand_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trails: Trails
) -> None:
    """Without the records after the window (the leaves of the level-0 tiles the proof needs)
    the proof from 20 to 30 cannot be made: 30's quorum does not vouch for the window, whose
    covering checkpoint 20 lacks it. The missing records are after the window: a note here,
    the failure of the runs that read them."""
    damaged = tmp_path / "damaged"
    shutil.copytree(trails.caught_up, damaged)
    (damaged / f"{DAYS[2]:%Y/%m/%d}.jsonl").unlink()
    code, report = _verify(capsys, trails, damaged, *_day(1))
    assert code == 1
    stats = report["stats"]["checkpoints"]["window"]  # type: ignore[index]
    assert (stats["quorumAt"]["treeSize"], stats["quorumAtConsistent"]) == (30, False)
    assert report["failures"] == []
    notes = [n for n in report["notes"] if n["kind"] == "consistency_not_proven"]  # type: ignore[union-attr]
    assert len(notes) == 1 and "record seq 20 is not in the log" in notes[0]["message"]
    findings = report["attestations"]["findings"]  # type: ignore[index]
    assert [(f["reason"], f["size"]) for f in findings] == [("witness_quorum_short", 20)]
    assert (
        "window" in findings[0]["message"]
        and "coveredThrough"
        not in (
            report["attestations"]["window"]  # type: ignore[index]
        )
    )
