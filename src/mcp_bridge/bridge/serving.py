"""Running the app under uvicorn so that every way of asking the process to stop is a clean stop.

uvicorn turns SIGINT and SIGTERM into a graceful shutdown (the app's lifespan then records
``aborted`` for calls still running and ``bridge.stopped``) but leaves SIGHUP at its default
action, which kills the process with no record at all. The bridge has no configuration reload,
so SIGHUP (a closed terminal, ``systemctl kill -s HUP``) is a clean stop as well. After the stop
the signal is not raised again: the caller still has to close the audit trail, which flushes it.

uvicorn runs on ``uvloop`` with the ``httptools`` parser (both declared dependencies; uvicorn's
``auto`` falls back to asyncio and h11 where they cannot be installed) and, by default, without
its access log: the audit trail already records every request, and a log line per call costs
CPU on the hot path (``BRIDGE_ACCESS_LOG=true`` turns it back on).
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class BridgeServer(uvicorn.Server):
    """``uvicorn.Server`` that stops cleanly on SIGINT, SIGTERM and SIGHUP.

    ``on_stop`` runs when the shutdown begins, before uvicorn waits for open connections: it
    ends the streams that would otherwise hold the stop for as long as their clients keep them
    open (``subscriptions/listen``).
    """

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._on_stop is not None:
            self._on_stop()
        await super().shutdown(sockets)

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run(
    app: Any,
    *,
    host: str,
    port: int,
    access_log: bool = False,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` until one of :data:`STOP_SIGNALS` arrives (``on_stop``: see BridgeServer)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        loop="auto",
        http="auto",
    )
    BridgeServer(config, on_stop).run()


__all__ = ["STOP_SIGNALS", "BridgeServer", "run"]
