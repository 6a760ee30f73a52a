"""Signed checkpoints in ``restore`` and ``drill``: the verifier's own checks, pointed at the
right store.

The key comes from ``--vkey`` (with ``--mirror``, ``--interval``, ``--grace``, as ``verify``
takes them) or else from ``AUDIT_VERIFY_KEY`` and the writer's timing settings (as the
scheduled job takes them). A restore checks its candidates against the *trail's* checkpoints,
a drill its restored sample against the *backup's*: their scratch copies hold none of their
own, so the checks (:mod:`..checkpoint_verify`, run by :func:`verify_audit_trail`) are told
where to read them.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date

from ...config import AppConfig
from ..checkpoint_check import (
    CheckpointOptions,
    add_checkpoint_arguments,
    checkpoint_options,
    config_checkpoint_options,
    open_log_tiles,
)
from ..results import Failure, Reason, VerificationResult
from .forensic import s3_connection
from .trail import Location, RunOptions, day_of_local_name

#: Failures of the checkpoint checks (as opposed to the chain's).
CHECKPOINT_REASONS = frozenset(
    {
        Reason.CHECKPOINT_SIGNATURE,
        Reason.CHECKPOINT_MISMATCH,
        Reason.CHECKPOINT_INCONSISTENT,
        Reason.CHECKPOINT_DELETED,
        Reason.LOG_TRUNCATED,
        Reason.UNCOVERED_RECORDS,
        Reason.TILE_MISSING,
    }
)


def add_arguments(made: argparse.ArgumentParser) -> None:
    """``--vkey`` and its companions, exactly as ``verify`` has them."""
    add_checkpoint_arguments(made)


def options_of(args: argparse.Namespace, config: AppConfig) -> CheckpointOptions | None:
    """``--vkey …`` if given, else ``AUDIT_VERIFY_KEY`` (``None``: checkpoints not checked)."""
    return checkpoint_options(args) or config_checkpoint_options(config)


def against(
    options: CheckpointOptions | None, location: Location, s3: RunOptions
) -> CheckpointOptions | None:
    """``options`` reading the checkpoints and tiles of the log at ``location``."""
    if options is None:
        return None
    connection = s3_connection(s3) if location.is_s3 else None
    return replace(options, tiles=open_log_tiles(location.text, connection=connection))


def failure_days(failure: Failure) -> set[date]:
    """The partition days a failure names (its location and related locations)."""
    names = (failure.location, *failure.related)
    return {day for name in names if (day := day_of_local_name(name)) is not None}


def summary(result: VerificationResult | None) -> str:
    """One line: were the signed checkpoints checked, and what did they cover."""
    if result is None:
        return "checkpoints: not checked (nothing was verified)"
    stats = result.stats.get("checkpoints", {})
    if not stats or stats.get("checked") is False:
        return "checkpoints: NOT checked (no verifier key: --vkey or AUDIT_VERIFY_KEY)"
    bad = [f for f in result.failures if f.reason in CHECKPOINT_REASONS]
    verdict = f"{len(bad)} checkpoint failure(s)" if bad else "all consistent"
    return (
        f"checkpoints: {stats.get('valid', 0)} signed by the key, {stats.get('checked', 0)} "
        f"checked against these records; {verdict}"
    )
