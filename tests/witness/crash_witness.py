"""A witness process that dies at a chosen point of add-checkpoint (a fault no test can time
from outside): ``CRASH_POINT=before`` dies just before persisting its new state, ``after`` just
after persisting it and before answering. Otherwise it is the real ``witness serve``."""

from __future__ import annotations

import os
import sys

from mcp_bridge.audit.witness import state
from mcp_bridge.audit.witness.cli import main

_real_store = state.WitnessState.store


def _dying_store(self: state.WitnessState, checkpoint: object, note: bytes) -> None:
    point = os.environ.get("CRASH_POINT")
    if point == "before":
        os._exit(99)
    _real_store(self, checkpoint, note)  # type: ignore[arg-type]
    if point == "after":
        os._exit(99)


state.WitnessState.store = _dying_store  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
