"""``verify --vkey``: the checkpoint side of a verification run, around the chain pass.

:meth:`CheckpointRun.begin` lists the checkpoints *before* the log is read (a checkpoint is
published only after the records it covers are durable, so every listed one must be matched
by the log read afterwards) and wraps the record source so the chain pass hands over the few
records the messages name, and the chain checker hands every record hash it confirms to
:attr:`CheckpointRun.tree`, which recomputes the Merkle tree's hashes at every listed size in
that same pass (on a second core once the log is long: :mod:`.tree_offload`).
:meth:`CheckpointRun.finish` runs :mod:`.checkpoint_verify` and merges its failures and notes
into the :class:`VerificationResult`. Without a key the result says what is not covered
(``stats.checkpoints.notCovered``, and a line after the text report).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoint_store import CheckpointStore, StoredCheckpoint
from .checkpoint_verify import (
    Captured,
    CapturingSource,
    CheckpointPolicy,
    LogView,
    SeqCapture,
    verify_checkpoints,
    wanted_seqs,
)
from .engine import RecordSource
from .errors import AuditUsageError
from .note import NoteError, Verifier
from .results import VerificationResult
from .tile_source import TileSource
from .tree_offload import OffloadedFeed
from .tree_stream import Recomputed

if TYPE_CHECKING:
    from ..config import AppConfig
    from .storage.s3.client import S3Connection

NOT_COVERED = (
    "checkpoints not checked (no verifier key: --vkey or AUDIT_VERIFY_KEY): records cut from "
    "the end of the log, a deleted newest partition or segment, and records appended or "
    "rewritten by anyone who can write the store are not detected"
)


@dataclass(frozen=True, slots=True)
class CheckpointOptions:
    """What ``verify --vkey`` and ``jobs`` pass in: the key and the timing rules."""

    verify_key: str
    mirror: str | None = None
    interval_seconds: float = 10.0
    grace_seconds: float = 300.0
    now: datetime | None = None
    setting: str = "--vkey"
    #: Read the checkpoints and tiles of this log instead of the one verified: a restore's
    #: scratch preview and a drill's scratch copy hold no checkpoints of their own; they are
    #: checked against those of the trail or backup their data came from (and its records,
    #: which its level-0 tiles are derived from).
    tiles: TileSource | None = field(default=None, compare=False)
    #: With witnesses configured: whether a checkpoint carries their quorum (a windowed run
    #: reports its covering checkpoint and the first later one that carries it).
    witnessed: Callable[[StoredCheckpoint], bool] | None = field(default=None, compare=False)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return value


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """``--vkey``, ``--mirror``, ``--interval``, ``--grace`` (shared by the commands)."""
    parser.add_argument(
        "--vkey",
        metavar="KEY",
        help="verifier key (name+id+base64, or a file holding it): check the signed checkpoints",
    )
    parser.add_argument(
        "--mirror",
        metavar="LOCATION",
        help="with --vkey: the checkpoint mirror (directory or s3://bucket/prefix) to compare",
    )
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=10.0,
        help="with --vkey: the writer's AUDIT_CHECKPOINT_INTERVAL_SECONDS (default 10)",
    )
    parser.add_argument(
        "--grace",
        type=_seconds,
        default=300.0,
        help="with --vkey: AUDIT_CHECKPOINT_GRACE_SECONDS before uncovered records fail "
        "(default 300)",
    )


def config_checkpoint_options(
    config: AppConfig, now: datetime | None = None
) -> CheckpointOptions | None:
    """``AUDIT_VERIFY_KEY`` turns the checkpoint checks on, with the writer's timing rules
    (``AUDIT_CHECKPOINT_MIRROR``, ``…_INTERVAL_SECONDS``, ``…_GRACE_SECONDS``)."""
    if config.audit_verify_key is None:
        return None
    return CheckpointOptions(
        config.audit_verify_key,
        mirror=config.audit_checkpoint_mirror,
        interval_seconds=config.audit_checkpoint_interval_seconds,
        grace_seconds=config.audit_checkpoint_grace_seconds,
        now=now,
        setting="AUDIT_VERIFY_KEY",
    )


def checkpoint_options(args: argparse.Namespace) -> CheckpointOptions | None:
    if args.vkey is None:
        if args.mirror is not None:
            raise AuditUsageError("--mirror needs --vkey (the key checks the mirror's copies)")
        return None
    return CheckpointOptions(
        args.vkey, mirror=args.mirror, interval_seconds=args.interval, grace_seconds=args.grace
    )


def load_verifier(value: str, *, setting: str = "--vkey") -> Verifier:
    """A verifier key given literally (``name+id+base64``) or as a file holding one."""
    text = value.strip()
    path = Path(text).expanduser()
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditUsageError(f"{setting}: cannot read {path}: {exc}") from None
    if text.startswith("PRIVATE+KEY+"):
        raise AuditUsageError(
            f"{setting} is a signer (private) key; give the verifier key keygen printed",
            hint="the verifier key is one line: name+keyid+base64; keep the private key secret",
        )
    try:
        return Verifier.from_text(text)
    except NoteError as exc:
        raise AuditUsageError(
            f"{setting}: {value.strip()[:80]!r} is neither a verifier key nor a file holding "
            f"one ({exc})",
            hint="pass the line `python -m mcp_bridge.audit keygen` printed, or its file",
        ) from None


def open_checkpoint_store(
    location: str, *, connection: S3Connection | None = None, **s3_options: Any
) -> CheckpointStore:
    """The checkpoint store beside the log at ``location`` (a directory or ``s3://`` URL).

    On S3 it reads through ``connection`` when the caller already has one (an ops command's
    steps share theirs: creating a client costs more than the reads), else a new one.
    """
    return open_log_tiles(location, connection=connection, **s3_options).store


def open_log_tiles(
    location: str, *, connection: S3Connection | None = None, **s3_options: Any
) -> TileSource:
    """The hash tiles of the log at ``location``: its checkpoint store (``.store``), and its
    records, which the level-0 tiles are derived from (one S3 connection for both)."""
    if location.startswith("s3://"):
        from .storage.s3.checkpoints import s3_checkpoints
        from .storage.s3.client import ClientOptions, WritePolicy, connect
        from .storage.s3.entries import S3Records
        from .storage.s3.layout import parse_s3_url

        try:
            bucket, prefix = parse_s3_url(location)
        except ValueError as exc:
            raise AuditUsageError(f"{location!r}: {exc}") from None
        if not bucket:
            raise AuditUsageError(f"{location!r} names no bucket", hint="use s3://bucket/prefix")
        options = ClientOptions(
            region=s3_options.get("region"), endpoint_url=s3_options.get("endpoint_url")
        )
        reader = connection or connect(options)
        store = s3_checkpoints(reader, bucket, prefix, WritePolicy(None, None, None))
        return TileSource(store, S3Records(reader, bucket, prefix))
    from .storage.local.checkpoints import local_checkpoints
    from .storage.local.lookup import LocalRecords

    root = Path(location).expanduser()
    if not root.is_dir():
        raise AuditUsageError(f"checkpoint location {root} is not a directory")
    return TileSource(local_checkpoints(root), LocalRecords(root))


def coverage_line(result: VerificationResult) -> str:
    """The line the text report ends with when no checkpoint was checked (else empty)."""
    checkpoints = result.stats.get("checkpoints", {})
    return f"\nnote: {NOT_COVERED}" if checkpoints.get("checked") is False else ""


class CheckpointRun:
    """One verification run's checkpoint state (or just the 'not covered' note, with no key)."""

    def __init__(
        self,
        source: RecordSource,
        options: CheckpointOptions | None,
        tiles: TileSource | None = None,
        sizes: list[int] | None = None,
        mirror: CheckpointStore | None = None,
    ) -> None:
        self.options = options
        self.tiles = tiles
        self.sizes = sizes or []
        self.mirror = mirror
        self.capture = SeqCapture(wanted_seqs(self.sizes))
        self.source: RecordSource = (
            CapturingSource(source, self.capture) if options is not None else source
        )
        #: Fed by the chain pass (``verify_source(hashes=...)``); ``None`` without a key.
        self.tree = OffloadedFeed(self.sizes) if options is not None else None
        self.recomputed: Recomputed | None = None  # set instead by a parallel confirmation

    @classmethod
    def begin(
        cls,
        location: str,
        source: RecordSource,
        options: CheckpointOptions | None,
        **s3_options: Any,
    ) -> CheckpointRun:
        if options is None:
            return cls(source, None)
        load_verifier(options.verify_key, setting=options.setting)  # a bad key fails first
        own = open_log_tiles(location, **s3_options)
        tiles = own if options.tiles is None else options.tiles.reading_first(*own.records)
        mirror = open_checkpoint_store(options.mirror, **s3_options) if options.mirror else None
        return cls(source, options, tiles, tiles.store.checkpoint_sizes(), mirror)

    def look_up(
        self,
        result: VerificationResult,
        find: Callable[[int], tuple[bytes, str] | None],
        recomputed: Recomputed | None,
        records: Iterable[Captured] = (),
    ) -> None:
        """After a window was confirmed some other way (in parallel, where the workers also
        recomputed the tree, ``recomputed``, and picked out the records the messages name,
        ``records``): fetch any other of those records by seq (``find`` is a binary search),
        instead of the chain pass."""
        self.recomputed = recomputed
        if self.options is None or result.first_seq is None or result.last_seq is None:
            return
        self.capture.add(records)
        for seq in self.capture.wanted:
            if result.first_seq <= seq <= result.last_seq and seq not in self.capture.found:
                found = find(seq)
                if found is not None:
                    self.capture.take(*found)

    def _hashed_by(self) -> str:
        """Where the Merkle tree was recomputed (for the report)."""
        if self.recomputed is not None:
            return "parallel workers"
        if self.tree is not None and self.tree.offloaded:
            return "helper process"
        return "this process"

    def _recomputed(self) -> Recomputed:
        if self.recomputed is not None:
            return self.recomputed
        return self.tree.result() if self.tree is not None else Recomputed(None, {})

    def finish(
        self, result: VerificationResult, *, start: date | None, end: date | None
    ) -> VerificationResult:
        options = self.options
        if options is None or self.tiles is None:
            result.stats["checkpoints"] = {"checked": False, "notCovered": NOT_COVERED}
            return result
        now = (options.now or datetime.now(UTC)).astimezone(UTC)
        log = LogView(
            first_seq=result.first_seq,
            last_seq=result.last_seq,
            first_timestamp=result.first_timestamp,
            last_timestamp=result.last_timestamp,
            windowed=start is not None,
            reaches_end=end is None or end >= now.date(),
            records=self.capture.found,
            tree=self._recomputed(),
        )
        policy = CheckpointPolicy(
            load_verifier(options.verify_key, setting=options.setting),
            interval_seconds=options.interval_seconds,
            grace_seconds=options.grace_seconds,
            mirror=self.mirror,
            witnessed=options.witnessed,
        )
        report = verify_checkpoints(self.tiles.store, self.tiles, self.sizes, policy, log, now)
        result.stats["checkpoints"] = {**report.summary, "treeHashedBy": self._hashed_by()}
        result.notes.extend(report.notes)
        result.failures.extend(report.failures)
        result.failure_count += len(report.failures)
        if report.failures and result.ok:
            result.ok = False
            first = result.failures[0].render().splitlines()[0]
            result.message = f"Verification failed: {first}"
        return result
