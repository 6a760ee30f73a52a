"""What the audit command-line tools share: exit codes, error printing, progress display.

Exit codes (documented in every ``--help``): 0 verified, 1 verification failed, 2 usage or
configuration error, 3 storage unreachable or unreadable.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..config_error import ConfigError
from .engine import ProgressCallback
from .errors import AuditError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3

EXIT_CODES_HELP = (
    "exit codes: 0 verified; 1 verification failed; 2 usage or configuration error; "
    "3 storage unreachable or unreadable"
)

#: Below this many bytes a verification is quick enough that a progress bar is only noise.
_PROGRESS_MIN_BYTES = 64 * 1024 * 1024


def run_cli(body: Callable[[], int], *, verbose: bool) -> int:
    """Run a command body, turning our errors into a printed message and an exit code.

    Any ``OSError`` a driver did not map (EACCES, ELOOP, EIO…) is storage trouble: exit 3
    with the path and the system's reason. A reader that closes the pipe early
    (``verify … | head -1``) ends the output quietly, with no traceback.
    """
    try:
        code = body()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _pipe_closed()
    except ConfigError as exc:
        _report(exc.render(), verbose)
        return EXIT_USAGE
    except AuditError as exc:
        _report(f"error: {exc.render()}", verbose)
        return exc.exit_code
    except OSError as exc:
        _report(f"error: {describe_os_error(exc)}", verbose)
        return EXIT_STORAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def positive_seconds(text: str) -> float:
    """An argparse type for ``--timeout``: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return value


#: ``--timeout`` help, shared by every command that talks to S3.
TIMEOUT_HELP = (
    "S3: seconds to wait for each connect and each read (default: connect 5, read 30); "
    "each request is tried up to 5 times"
)


def describe_os_error(exc: OSError) -> str:
    """``cannot read /path: Permission denied`` (the path, then the system's reason)."""
    where = exc.filename if exc.filename is not None else "the audit storage"
    return f"cannot read {where}: {exc.strerror or exc}"


def _pipe_closed() -> int:
    """The reader went away: silence the rest of stdout (also the flush at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_FAILED


def _report(message: str, verbose: bool) -> None:
    if verbose:
        traceback.print_exc()
    print(message, file=sys.stderr)


@contextmanager
def progress_display(
    enabled: bool, description: str = "verifying"
) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr for long runs on a terminal; nothing when piped."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task(description, total=None, visible=False)

        def update(done: int, total: int) -> None:
            visible = total >= _PROGRESS_MIN_BYTES
            progress.update(task, completed=done, total=total, visible=visible)

        yield update
