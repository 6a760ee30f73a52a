"""``restore`` (runbook §4 step 4): bring back missing or damaged data, only if it chains.

Sources: a backup directory (local trail), a replica bucket (``--from s3://replica/prefix``)
or the earlier versions in the trail's own versioned bucket (``--from versions``). A restore
only fills what is missing, replaces a damaged local day file whose damaged copy is already
quarantined (evidence is never replaced before it is copied), or, on S3, removes the delete
markers and newer versions that hide an original version (each one quarantined first), so the
original, untouched, is current again. Every candidate is first verified together with its
neighbours in a scratch layout (:mod:`.overlay`), and against the trail's signed checkpoints
when a verifier key is given (``--vkey`` or ``AUDIT_VERIFY_KEY``); one that does not chain
(``does_not_chain``) or does not match them (``checkpoint_mismatch``) is refused. Dry run by
default; ``--apply`` acts. Either way the window is verified again afterwards ("replay": the
store itself after ``--apply``, the scratch preview in a dry run) and an incident record (JSON
plus Markdown with the verification log) goes to the ops records.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..checkpoint_check import CheckpointOptions
from ..cli_support import EXIT_FAILED, EXIT_OK
from ..errors import AuditUsageError
from ..results import Failure, Reason, VerificationResult
from . import checkpoints as ops_checkpoints
from . import cli
from .actions import IN_PLACE, Action
from .checkpoints import CHECKPOINT_REASONS, against, failure_days
from .forensic import open_target
from .overlay import DayContent, verify_days
from .restore_local import apply_local, plan_local
from .restore_s3 import LockSettings, apply_s3, plan_s3, s3_day_list, s3_overlay_days
from .trail import (
    Location,
    RunOptions,
    Window,
    day_of_local_name,
    local_days,
    local_file,
    parse_location,
    verify_window,
)

SCHEMA = "mcp-bridge/restore/v1"
_LINK_REASONS = {Reason.BROKEN_LINK, Reason.SEQ_GAP, Reason.SEQ_OUT_OF_ORDER}


@dataclass(slots=True)
class RestoreResult:
    trail: str
    backup: str
    applied: bool
    before: VerificationResult
    actions: list[Action] = field(default_factory=list)
    after: VerificationResult | None = None

    @property
    def refused(self) -> list[Action]:
        return [action for action in self.actions if action.status == "refused"]

    @property
    def ok(self) -> bool:
        return not self.refused and self.after is not None and self.after.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "dryRun": not self.applied,
            "trail": self.trail,
            "from": self.backup,
            "actions": [action.to_dict() for action in self.actions],
            "verificationBefore": self.before.to_dict(),
            "verificationAfter": self.after.to_dict() if self.after else None,
            "verificationAfterIsPreview": not self.applied,
        }

    def render_text(self) -> str:
        mode = "applied" if self.applied else "DRY RUN (nothing changed; add --apply to act)"
        lines = [f"restore of {self.trail} from {self.backup}: {mode}"]
        lines.extend(f"  {action.render()}" for action in self.actions)
        if not self.actions:
            lines.append("  nothing to restore: no missing or damaged data the backup can fill")
        label = "after restore" if self.applied else "preview after --apply"
        if self.after is not None:
            lines.append(f"{label}: {self.after.render_text()}")
        lines.append(ops_checkpoints.summary(self.after or self.before))
        return "\n".join(lines)

    def markdown(self) -> str:
        """The readable incident record, with the verification logs attached."""
        title = "Restore" if self.applied else "Restore (dry run)"
        rows = "\n".join(
            f"| {a.status} | {a.kind} | `{a.target}` | `{a.source}` | {a.reason} {a.detail} |"
            for a in self.actions
        )
        after = self.after.render_text() if self.after else "(not verified)"
        return (
            f"# {title}: {self.trail}\n\n"
            f"- from: `{self.backup}`\n- result: {'OK' if self.ok else 'NOT OK'}\n"
            f"- {ops_checkpoints.summary(self.after or self.before)}\n\n"
            "| status | kind | target | source | reason |\n|---|---|---|---|---|\n"
            f"{rows}\n\n## Verification before\n\n```\n{self.before.render_text()}\n```\n\n"
            f"## Verification after{' (preview)' if not self.applied else ''}\n\n"
            f"```\n{after}\n```\n"
        )


def restore(
    trail: Location,
    backup: str,
    *,
    window: Window,
    forensic: Location | None,
    apply: bool,
    s3: RunOptions,
    lock: LockSettings,
    checkpoints: CheckpointOptions | None = None,
) -> RestoreResult:
    """Plan, check that every candidate chains (and matches the trail's signed checkpoints
    when ``checkpoints`` carries a verifier key), apply if asked, verify again."""
    target = open_target(forensic, s3) if forensic is not None else None
    checkpoints = against(checkpoints, trail, s3)  # the trail's checkpoint store, opened once
    before = verify_window(trail, window, s3, checkpoints)
    result = RestoreResult(trail.text, backup, apply, before)
    if trail.is_s3:
        result.actions = plan_s3(trail, backup, window, target, before, s3, lock.bypass_governance)
    else:
        assert trail.root is not None
        source = cli.existing_dir(backup, "--from")
        result.actions = plan_local(trail.root, source, window, target, before)
    overlay = _check_chain(trail, window, result.actions, s3, checkpoints)
    if apply:
        if trail.is_s3:
            apply_s3(trail, result.actions, s3, lock)
        else:
            assert trail.root is not None
            apply_local(trail.root, result.actions)
        result.after = verify_window(trail, window, s3, checkpoints)
    else:
        result.after = overlay
    return result


def _overlay(
    trail: Location, window: Window, s3: RunOptions, planned: list[Action]
) -> dict[date, DayContent]:
    """The window as it would be with ``planned`` applied (local files or S3 segments)."""
    if not trail.is_s3:
        assert trail.root is not None
        days: dict[date, DayContent] = {
            day: local_file(trail.root, day) for day in local_days(trail.root, window)
        }
        days.update((action.day, action.payload) for action in planned)
        return days
    segments = s3_overlay_days(trail, window, s3)
    for action in planned:
        segments.setdefault(action.day, {})[action.target] = action.payload
    return {day: b"".join(found[key] for key in sorted(found)) for day, found in segments.items()}


def day_before(
    trail: Location, start: date | None, s3: RunOptions
) -> tuple[date, DayContent] | None:
    """The trail's last partition before ``start``: what a window starting there links to."""
    if start is None:
        return None
    earlier = Window(None, start - timedelta(days=1))
    if not trail.is_s3:
        assert trail.root is not None
        found = local_days(trail.root, earlier)
        return (found[-1], local_file(trail.root, found[-1])) if found else None
    days = s3_day_list(trail, earlier, s3)
    if not days:
        return None
    segments = s3_overlay_days(trail, Window(days[-1], days[-1]), s3)[days[-1]]
    return days[-1], b"".join(segments[key] for key in sorted(segments))


def _check_chain(
    trail: Location,
    window: Window,
    actions: list[Action],
    s3: RunOptions,
    checkpoints: CheckpointOptions | None,
) -> VerificationResult | None:
    """Refuse candidates that do not chain or do not match a signed checkpoint; return the
    overlay's verification (the preview).

    A candidate with new content is refused when a chain failure lies in its day, or when the
    day after it fails on its first line for a broken link (its last record does not lead
    there). Any candidate, also one that only uncovers an S3 original version, is refused when a
    checkpoint failure names a record of its day (``checkpoint_mismatch``: those records are not
    the ones that were signed).
    """
    anchor = day_before(trail, window.start, s3)
    while True:
        planned = [a for a in actions if a.status == "planned"]
        days = _overlay(trail, window, s3, [a for a in planned if a.kind not in IN_PLACE])
        if not days:
            return None
        result = verify_days(days, trail.text.rstrip("/"), anchor, checkpoints)
        refusals = {
            id(action): (action, failure)
            for failure in result.failures
            for action in _blamed(failure, days, planned)
        }
        if not refusals:
            return result
        for action, failure in refusals.values():
            reason = failure.reason.value if failure.reason in CHECKPOINT_REASONS else None
            action.refuse(reason or "does_not_chain", failure.render().splitlines()[0])


def _blamed(failure: Failure, days: dict[date, DayContent], planned: list[Action]) -> list[Action]:
    """The planned actions a failure of the overlay is the fault of."""
    if failure.reason in CHECKPOINT_REASONS:
        named = failure_days(failure)
        return [action for action in planned if action.day in named]
    content = [action for action in planned if action.kind not in IN_PLACE]
    day = day_of_local_name(failure.location)
    at_link = day is not None and failure.line == 1 and failure.reason in _LINK_REASONS
    if at_link and not any(action.day == day for action in content):
        earlier = [d for d in days if day is not None and d < day]
        day = max(earlier) if earlier else None  # the day before leads there: blame it
    return [action for action in content if action.day == day]


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("restore", "restore missing or damaged data from a backup, if it chains")
    add_arguments(made)
    return made


def add_arguments(made: argparse.ArgumentParser) -> None:
    made.add_argument("path", help="the audit trail: a directory or s3://bucket/prefix")
    made.add_argument(
        "--from",
        dest="backup",
        required=True,
        help="backup: a directory (local trail), s3://replica/prefix or `versions` (S3 trail)",
    )
    made.add_argument(
        "--forensic",
        "--quarantine",
        dest="forensic",
        help="the quarantine location: damaged data must be copied there before it is replaced",
    )
    made.add_argument("--apply", action="store_true", help="act (the default is a dry run)")
    made.add_argument(
        "--bypass-governance",
        action="store_true",
        help="S3 --from versions: a newer version under GOVERNANCE retention may be removed "
        "(needs s3:BypassGovernanceRetention); COMPLIANCE retention cannot be bypassed",
    )
    cli.add_lock_options(made, "of objects put back")
    ops_checkpoints.add_arguments(made)
    cli.add_window(made)
    cli.add_s3(made)
    cli.add_incident(made)


def execute(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from ...config import load_config

    config = load_config()
    trail = parse_location(args.path)
    if not trail.is_s3 and (args.backup == "versions" or args.backup.startswith("s3://")):
        raise AuditUsageError(
            f"--from {args.backup}: a local trail is restored from a backup directory"
        )
    lock = LockSettings(
        args.object_lock_mode or config.audit_s3_object_lock_mode,
        args.object_lock_days or config.audit_s3_object_lock_days,
        args.bypass_governance,
    )
    forensic = parse_location(args.forensic, must_exist=False) if args.forensic else None
    records = cli.ops_records(trail, config)
    with cli.options(args) as run:
        result = restore(
            trail,
            args.backup,
            window=cli.window_of(args),
            forensic=forensic,
            apply=args.apply,
            s3=run,
            lock=lock,
            checkpoints=ops_checkpoints.options_of(args, config),
        )
    document = result.to_dict()
    after = result.after.render_text() if result.after else "(not verified)"
    record = records.write(
        "restore",
        argv,
        incident=args.incident,
        result=document,
        attachments={"md": result.markdown(), "verification.log": after},
    )
    document["incidentRecord"] = str(record)
    text = f"{result.render_text()}\nincident record: {record} (+ .md, .verification.log)"
    cli.emit(document, text, args.json)
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    made = build_parser()
    words = cli.argv_or_sys(argv)
    return cli.run(made, words, lambda args: execute(args, words))
