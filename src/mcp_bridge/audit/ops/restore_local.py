"""Restore planning and applying for a local store (backup directory as the source)."""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import date
from pathlib import Path

from ..errors import AuditStorageError
from ..results import Reason, VerificationResult
from ..storage.local.files import fsync_directory, make_dirs_durably
from .actions import Action
from .checkpoints import CHECKPOINT_REASONS, failure_days
from .forensic import ForensicTarget
from .manifest import day_copy_name
from .records import sha256_file
from .trail import Window, day_of_local_name, local_days, local_file

#: A day file whose first line fails only because data before it is missing is not damaged.
_CAUSED_BY_A_GAP = {Reason.MISSING_PARTITION, Reason.SEQ_GAP, Reason.BROKEN_LINK}


def _is_quarantined(target: ForensicTarget | None, day: date, digest: str) -> bool:
    if target is None:
        return False
    return target.digest(day_copy_name(day, digest)) == digest


def plan_local(
    root: Path,
    backup: Path,
    window: Window,
    forensic: ForensicTarget | None,
    before: VerificationResult,
) -> list[Action]:
    """What the backup can fill or replace; refusals carry a reason code."""
    damaged = {
        day_of_local_name(failure.location)
        for failure in before.failures
        if failure.line != 1 or failure.reason not in _CAUSED_BY_A_GAP
    }
    for failure in before.failures:  # records that differ from what a checkpoint signed
        if failure.reason in CHECKPOINT_REASONS:
            damaged.update(failure_days(failure))
    actions: list[Action] = []
    for day in local_days(backup, window):
        source, target = local_file(backup, day), local_file(root, day)
        if not target.exists():
            actions.append(Action("fill", str(target), str(source), day, payload=source))
            continue
        digest = sha256_file(target)
        if digest == sha256_file(source):
            continue
        action = Action("replace", str(target), str(source), day, payload=source)
        if day not in damaged:
            action.status, action.reason = "kept", "store_copy_intact"
            action.detail = "the store's copy verifies; the backup's differs and is not used"
        elif not _is_quarantined(forensic, day, digest):
            action.refuse(
                "not_quarantined",
                "the damaged file is not in the forensic location (--forensic); run "
                "quarantine first: evidence is never replaced before it is copied",
            )
        actions.append(action)
    return actions


def apply_local(root: Path, actions: list[Action]) -> None:
    """Fill missing files (create-only) and replace quarantined damaged ones, durably."""
    for action in actions:
        if action.status != "planned":
            continue
        target = Path(action.target)
        make_dirs_durably(root, target.parent)
        staged = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
        try:
            shutil.copyfile(action.payload, staged)
            with open(staged, "rb") as handle:
                os.fsync(handle.fileno())
            if action.kind == "fill":
                try:
                    os.link(staged, target)
                except FileExistsError:
                    action.refuse("appeared", "a file appeared there meanwhile; left as found")
                    continue
            else:
                os.replace(staged, target)
        except OSError as exc:
            raise AuditStorageError(f"cannot restore {target}: {exc.strerror or exc}") from exc
        finally:
            staged.unlink(missing_ok=True)
        fsync_directory(target.parent)
        action.status = "applied"
