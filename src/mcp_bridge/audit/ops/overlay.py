"""Chain checks of candidate data before anything is written: a scratch local-layout copy.

A restore or a drill must know whether backup data chains with what the store holds *before*
it touches the store. The candidate days are laid out in a scratch directory in the local
store's layout (``YYYY/MM/DD.jsonl``; an S3 day is the concatenation of its segments in seq
order), next to read-only links to the store's own days, and the real verifier
(:func:`verify_audit_trail`) runs over it. The scratch directory is always removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

from ..checkpoint_check import CheckpointOptions
from ..layout import local_partition_path
from ..results import VerificationResult
from ..verification import verify_audit_trail

#: A day's content in the overlay: an existing file (linked) or bytes (written).
DayContent = Path | bytes


@contextmanager
def scratch_layout(
    days: Mapping[date, DayContent], parent: Path | None = None, *, copy: bool = False
) -> Iterator[Path]:
    """A new temporary directory holding ``days`` in the local layout; removed on exit.

    Existing files are linked (a chain check only reads them) or, with ``copy``, copied (a
    drill restores them for real). Only the directory created here is ever removed.
    """
    root = Path(tempfile.mkdtemp(prefix="mcp-bridge-scratch-", dir=parent))
    try:
        for day, content in days.items():
            target = root / local_partition_path(day)
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path) and copy:
                shutil.copyfile(content, target)
            elif isinstance(content, Path):
                os.symlink(content.resolve(), target)
            else:
                target.write_bytes(content)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def verify_days(
    days: Mapping[date, DayContent],
    label: str,
    anchor: tuple[date, DayContent] | None = None,
    checkpoints: CheckpointOptions | None = None,
) -> VerificationResult:
    """Verify ``days`` as one stretch of chain (and against the signed checkpoints of
    ``checkpoints.store``, the trail's own, when a verifier key is given).

    ``anchor`` is the partition just before them (if there is one): laid out too but not
    verified, its last record is what the first day must link to, exactly as ``verify --start``
    anchors a window. Locations in the result name ``label``, not the scratch path.
    """
    layout = dict(days)
    if anchor is not None:
        layout[anchor[0]] = anchor[1]
    with scratch_layout(layout) as root:
        result = verify_audit_trail(
            root, start=min(days), end=max(days), parallel=False, checkpoints=checkpoints
        )
    scratch = str(root)

    def named(location: str) -> str:
        return location.replace(scratch, label, 1)

    result.source = f"{label} (scratch preview)"
    result.failures = [
        replace(
            failure,
            location=named(failure.location),
            message=failure.message.replace(scratch, label),
            related=tuple(named(name) for name in failure.related),
        )
        for failure in result.failures
    ]
    return result
