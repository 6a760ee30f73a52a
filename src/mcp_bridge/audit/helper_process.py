"""Starting and stopping the one helper process a component hands work to over a pipe.

Used by the tree hashing of ``verify --vkey`` (:mod:`.tree_offload`): it keeps one child,
talks to it over a :class:`~multiprocessing.connection.Connection` and ends it the same way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

Helper = tuple[Connection, BaseProcess]


def start_helper(target: Callable[..., None], state: Any, name: str) -> Helper:
    """Start ``target(connection, state)`` in a daemon child; the parent's end of the pipe.

    fork starts in milliseconds but is only safe in a process without other threads (a CLI);
    anything else gets spawn. Raises whatever starting raised (the caller falls back).
    """
    method = "fork" if threading.active_count() == 1 else "spawn"
    context = multiprocessing.get_context(method)
    ours, theirs = context.Pipe()
    process = context.Process(  # type: ignore[attr-defined]
        target=target, args=(theirs, state), name=name, daemon=True
    )
    try:
        process.start()
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return ours, process


def stop_helper(helper: Helper | None, *, goodbye: object = None) -> None:
    """Say ``goodbye`` (if the child still listens), close the pipe, wait for the child."""
    if helper is None:
        return
    conn, process = helper
    with contextlib.suppress(OSError, EOFError, ValueError):  # already gone, or closed
        conn.send(goodbye)
    conn.close()
    process.join(timeout=10)
    if process.is_alive():
        process.terminate()
        process.join()
