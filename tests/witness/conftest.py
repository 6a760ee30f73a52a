from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import SyntheticLog, WitnessProcess


@pytest.fixture
def log(tmp_path: Path) -> SyntheticLog:
    return SyntheticLog(tmp_path / "store")


@pytest.fixture
def witnesses(tmp_path: Path, log: SyntheticLog) -> Iterator[list[WitnessProcess]]:
    started = [
        WitnessProcess(tmp_path / f"w{n}", f"w{n}.example.net", [(log.origin, log.vkey)]).start()
        for n in (1, 2)
    ]
    yield started
    for witness in started:
        witness.stop()
