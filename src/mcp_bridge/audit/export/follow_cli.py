"""The ``--follow`` half of the export command: sink, cursor, signals, exit code."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ..cli_support import EXIT_OK
from ..verification import open_source
from .checkpoints import checkpoint_store
from .follow import Follower, FollowSettings
from .reader import Selection
from .sinks import open_sink


def _log(message: str) -> None:
    print(f"export --follow: {message}", file=sys.stderr, flush=True)


def run_follow(
    args: argparse.Namespace,
    selection: Selection,
    s3_options: dict[str, Any],
    environ: dict[str, str],
) -> int:
    """Follow until SIGTERM/SIGINT (exit 0); trail or sink trouble ends it with its exit code."""
    sink = open_sink(args.sink, environ, args.sink_ca)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    settings = FollowSettings(
        poll_interval=args.poll_interval,
        batch_size=args.batch_size,
        max_retries=args.max_retries,
        allow_unverified=args.allow_unverified,
    )
    cursor = Path(args.cursor).expanduser() if args.cursor else None
    follower = Follower(
        lambda: open_source(args.path, **s3_options),
        sink,
        cursor,
        settings,
        start=selection,
        stop=stop,
        log=_log,
        checkpoints=checkpoint_store(args.path, **s3_options),
    )
    start = follower.cursor
    _log(f"following {args.path} from " + (f"seq {start.seq + 1}" if start else "the start"))
    try:
        follower.run()
    finally:
        sink.close()
    _log(f"stopped; {follower.delivered:,} rows delivered this run")
    return EXIT_OK
