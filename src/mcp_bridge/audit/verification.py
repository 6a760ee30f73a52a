"""``verify_audit_trail``: verify a local directory or an ``s3://bucket/prefix`` location."""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from .checkpoint_check import CheckpointOptions, CheckpointRun
from .engine import ProgressCallback, RecordSource, verify_source
from .errors import AuditUsageError
from .layout import parse_day_key
from .results import VerificationResult
from .storage.local.lookup import find_by_seq
from .storage.local.parallel import confirm_in_parallel
from .storage.local.source import DEFAULT_MAX_RECORD_BYTES, LocalSource


def _as_day(value: date | str | None, option: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return parse_day_key(value, option=option)


def open_source(
    location: Path | str, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES, **s3_options: Any
) -> RecordSource:
    """The record source for a path or ``s3://`` URL (S3 options are ignored for paths)."""
    if max_record_bytes < 1:
        raise AuditUsageError(f"max_record_bytes={max_record_bytes} is invalid: must be ≥ 1")
    text = str(location)
    if text.startswith("s3://"):
        try:
            from .storage.s3.source import open_s3_source
        except ImportError:
            raise AuditUsageError(f"{text}: s3:// locations are not yet supported") from None
        source: RecordSource = open_s3_source(text, max_record_bytes=max_record_bytes, **s3_options)
        return source
    return LocalSource(location, max_record_bytes=max_record_bytes)


def verify_audit_trail(
    path: Path | str,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    max_failures: int = 100,
    progress: ProgressCallback | None = None,
    parallel: bool = True,
    allow_empty: bool = False,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    checkpoints: CheckpointOptions | None = None,
    **s3_options: Any,
) -> VerificationResult:
    """Verify hashes, links and sequence numbers of the trail at ``path`` within a window.

    ``start``/``end`` are inclusive UTC days (``date`` or ``"YYYY/MM/DD"``). Raises
    :class:`~mcp_bridge.audit.errors.AuditUsageError` for bad arguments and
    :class:`~mcp_bridge.audit.errors.AuditStorageError` when the store cannot be read;
    integrity problems are reported in the result, never raised. A large local window is
    first checked on every core (``parallel``); only an intact one is answered that way, a
    damaged one always gets the sequential engine's full report. With ``checkpoints`` (a
    verifier key), the signed checkpoints are checked against the same single pass.

    A location holding no audit store at all fails with ``empty_store`` unless
    ``allow_empty``; lines longer than ``max_record_bytes`` are reported, never read whole.
    """
    first = _as_day(start, "--start")
    last = _as_day(end, "--end")
    source = open_source(path, max_record_bytes=max_record_bytes, **s3_options)
    run = CheckpointRun.begin(str(path), source, checkpoints, **s3_options)
    if parallel and isinstance(source, LocalSource):
        sizes = run.sizes if run.tree is not None else None
        confirmed = confirm_in_parallel(source, first, last, progress, tree_sizes=sizes)
        if confirmed is not None:
            result, recomputed, records = confirmed
            run.look_up(result, partial(find_by_seq, source.root), recomputed, records)
            return run.finish(result, start=first, end=last)
    result = verify_source(
        run.source,
        start=first,
        end=last,
        max_failures=max_failures,
        progress=progress,
        allow_empty=allow_empty,
        hashes=run.tree,
    )
    return run.finish(result, start=first, end=last)
