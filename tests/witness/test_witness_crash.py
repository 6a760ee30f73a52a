"""A witness killed between receiving a checkpoint and answering never goes backwards, and
answers correctly after a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mcp_bridge.audit.witness.cosignature import attach, cosignatures_in
from mcp_bridge.audit.witness.protocol import format_request

from .support import SyntheticLog, WitnessProcess
from .test_witness_server import proof

CRASHER = Path(__file__).with_name("crash_witness.py")


@pytest.mark.parametrize("point", ["before", "after"])
def test_crash_between_receiving_and_answering(
    tmp_path: Path, log: SyntheticLog, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    witness = WitnessProcess(tmp_path / "w", "crashy.example.net", [(log.origin, log.vkey)])
    witness.start()
    log.append(4)
    four_note, four = log.publish()
    assert witness.add(format_request(0, [], four_note)).status_code == 200
    witness.stop()

    log.append(4)
    eight_note, eight = log.publish()
    monkeypatch.setenv("CRASH_POINT", point)
    witness.start(CRASHER)
    with pytest.raises(httpx.TransportError):
        witness.add(format_request(four, proof(log, four, eight), eight_note))
    assert witness.process is not None and witness.process.wait(timeout=10) == 99
    monkeypatch.delenv("CRASH_POINT")
    witness.start()
    try:
        # The state is the old or the new checkpoint, never anything else.
        answer = witness.add(format_request(0, [], eight_note))
        held = four if point == "before" else eight
        assert (answer.status_code, answer.content) == (409, f"{held}\n".encode())
        # Never backwards: the old checkpoint cannot be cosigned again once 8 was persisted.
        again = witness.add(
            format_request(held, proof(log, held, eight) if held < eight else [], eight_note)
        )
        assert again.status_code == 200
        assert cosignatures_in(attach(eight_note, again.content), [witness.verifier])
        back = witness.add(format_request(eight, [], four_note))
        assert back.status_code == 400  # old size 8 above the checkpoint's 4
        assert witness.add(format_request(0, [], four_note)).content == b"8\n"
        assert not [p for p in (tmp_path / "w" / "state").iterdir() if p.name.startswith(".")]
    finally:
        witness.stop()
