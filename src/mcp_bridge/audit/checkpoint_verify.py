"""Signed checkpoints against the log the chain checker read (``verify --vkey``).

Pure: checkpoints and tiles come through the :class:`CheckpointStore` protocol and the log's
records through the chain checker's own pass, which hands every record hash it confirms to a
:class:`~.tree_stream.TreeFeed` (and the few records the messages name to a :class:`SeqCapture`),
so the log is read once.

Each checkpoint of size ``N`` is checked by recomputing the root of the log's first ``N``
records from the records themselves (leaf = SHA-256(0x00 || hash)) and comparing it with the
signed root. Checkpoints whose roots the records reproduce are consistent with one another by
construction; any other pair is checked with a consistency proof from the hash tiles (stored
from level 1 up, level 0 derived from the records: :mod:`.tile_source`), unless the records
already contradict its newer checkpoint (then that failure stands: a proof whose leaves are
those records would only repeat it). A windowed run (``--start``) takes the part of the tree
before its first record from the tiles, first checking that those tiles reproduce the newest
checkpoint's root, so no verification ever hashes more of the log than it reads. A full run
whose records give the newest checkpoint's root also checks that its right-edge tiles (what a
restarted writer extends) give it. A damaged tile can only make a check fail, never pass.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import chain, islice, pairwise
from typing import Any

from .chain import Anchor, FollowingLine
from .checkpoint import Checkpoint, open_checkpoint
from .checkpoint_store import CheckpointStore, StoredCheckpoint, checkpoint_name
from .engine import RecordSource, Segment
from .merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    perfect_subtrees,
    verify_consistency,
)
from .note import NoteError, Verifier
from .records import MalformedLine, parse_header
from .results import Failure, Note, Reason
from .tile_source import TileMissing, TileSource
from .tiles import TileError, TileHashes, compact_range_from_tiles
from .tree_stream import RangeHashes, Recomputed, join_cuts, range_of

_CHUNK = 4096
#: Records read by seq (and hashed) between the newest checkpoint before a window and the
#: window's first record, at most; beyond that the tiles are relied on (see ``_before_window``).
_MAX_GAP = 1 << 16


@dataclass(frozen=True, slots=True)
class Captured:
    """A record the checkpoint checks need: its hash, timestamp and where it is stored."""

    seq: int
    hash: str
    timestamp: str
    location: str


class SeqCapture:
    """Picks the records at chosen seqs out of the lines the chain checker reads.

    Lines pass through in chunks of up to 4,096 (``islice`` inside ``chain``: no Python code
    runs per line). Only a chunk whose last record reaches the next wanted seq is looked into:
    at the line where that seq should be, or, if the chunk is damaged (a gap, a torn line),
    line by line. Records are in seq order, so nothing wanted is skipped.
    """

    def __init__(self, seqs: Iterable[int]) -> None:
        self._wanted_set = set(seqs)
        self._wanted = sorted(self._wanted_set)
        self.found: dict[int, Captured] = {}

    def lines(self, lines: Iterable[bytes], location: str) -> Iterator[bytes]:
        return chain.from_iterable(self._pieces(iter(lines), location))

    def _pieces(self, lines: Iterator[bytes], location: str) -> Iterator[Iterable[bytes]]:
        wanted, pointer = self._wanted, 0
        while pointer < len(wanted) and wanted[pointer] in self.found:
            pointer += 1  # taken in an earlier segment: no reason to look into this one's start
        while pointer < len(wanted):
            chunk = list(islice(lines, _CHUNK))
            if not chunk:
                return
            yield chunk
            last = _last_seq(chunk)
            if last is None or last < wanted[pointer]:
                continue
            due = pointer
            while pointer < len(wanted) and wanted[pointer] <= last:
                pointer += 1
            self._take(chunk, last, wanted[due:pointer], location)
        yield lines  # nothing more wanted: the rest passes straight through

    def _take(self, chunk: list[bytes], last: int, due: list[int], location: str) -> None:
        """Capture the wanted records ``due`` (all ≤ ``last``) of a chunk that ends at ``last``.

        Each is first looked for where an intact chunk holds it; a chunk with a gap or a torn
        line moves records, so then every line is looked at.
        """
        found = self.found
        for seq in due:
            index = len(chunk) - 1 - (last - seq)
            record = _captured(chunk[index], location) if index >= 0 else None
            if record is not None and record.seq == seq:
                found[seq] = record
            else:  # damaged chunk: look at every line
                for raw in chunk:
                    candidate = _captured(raw, location)
                    if candidate is not None and candidate.seq in self._wanted_set:
                        found[candidate.seq] = candidate
                return

    @property
    def wanted(self) -> list[int]:
        return list(self._wanted)

    def add(self, records: Iterable[Captured]) -> None:
        """Records picked out by another capture (a parallel worker's), where wanted."""
        self.found.update((r.seq, r) for r in records if r.seq in self._wanted_set)

    def take(self, raw: bytes, location: str) -> None:
        """Capture a record found some other way (a lookup by seq after a parallel check)."""
        record = _captured(raw, location)
        if record is not None and record.seq in self._wanted_set:
            self.found[record.seq] = record

    def anchor(self, anchor: Anchor) -> None:
        """The record before a window is read by the source, not the checker: take it too."""
        if anchor.seq in self._wanted_set:
            self.found[anchor.seq] = Captured(
                anchor.seq, anchor.hash, anchor.timestamp, anchor.location
            )


def _last_seq(chunk: list[bytes]) -> int | None:
    for raw in reversed(chunk):
        record = _captured(raw, location="")
        if record is not None:
            return record.seq
    return None


def _captured(raw: bytes, location: str) -> Captured | None:
    try:
        header = parse_header(raw.rstrip(b"\n"))
    except MalformedLine:
        return None
    return Captured(header.seq, header.hash, header.timestamp, location)


class CapturingSource:
    """A :class:`RecordSource` whose lines pass through a :class:`SeqCapture` on the way."""

    def __init__(self, source: RecordSource, capture: SeqCapture) -> None:
        self.inner = source
        self.capture = capture

    @property
    def description(self) -> str:
        return self.inner.description

    def segments(self, start: date | None, end: date | None) -> Sequence[Segment]:
        return [self._wrap(segment) for segment in self.inner.segments(start, end)]

    def _wrap(self, segment: Segment) -> Segment:
        def open_lines(opener: Callable[[], Iterable[bytes]] = segment.open_lines) -> Any:
            return self.capture.lines(opener(), segment.location)

        return replace(segment, open_lines=open_lines)

    def anchor_before(self, start: date) -> Anchor | None:
        anchor = self.inner.anchor_before(start)
        if anchor is not None:
            self.capture.anchor(anchor)
        return anchor

    def first_after(self, end: date) -> FollowingLine | None:
        return self.inner.first_after(end)

    def empty_reason(self) -> str | None:
        return self.inner.empty_reason()

    def finish(self) -> tuple[list[Failure], list[Note], dict[str, Any]]:
        return self.inner.finish()


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """What checkpoint verification is told: the key, the timing rules, the optional mirror."""

    verifier: Verifier
    interval_seconds: float = 10.0
    grace_seconds: float = 300.0
    mirror: CheckpointStore | None = None
    #: Whether a checkpoint carries the witness quorum (``verify --witness``): a windowed run
    #: then also proves its covering checkpoint consistent with the first later one that does.
    witnessed: Callable[[StoredCheckpoint], bool] | None = None


@dataclass(frozen=True, slots=True)
class LogView:
    """What the chain pass saw: the window's records, and whether it reached the log's end."""

    first_seq: int | None
    last_seq: int | None
    first_timestamp: str | None
    last_timestamp: str | None
    windowed: bool
    reaches_end: bool
    records: dict[int, Captured]
    tree: Recomputed = field(default_factory=lambda: Recomputed(None, {}))


@dataclass(slots=True)
class CheckpointReport:
    """Checkpoint failures and notes, and a summary for the JSON report."""

    failures: list[Failure] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Signed:
    """A checkpoint whose signature verified, and where it was read from."""

    stored: StoredCheckpoint
    checkpoint: Checkpoint

    @property
    def size(self) -> int:
        return self.checkpoint.size

    def named(self) -> str:
        published = self.stored.published_at or "publication time not recorded"
        return f"checkpoint of tree size {self.size:,} (published {published})"

    def describe(self) -> dict[str, Any]:
        return {
            "treeSize": self.size,
            "publishedAt": self.stored.published_at,
            "where": self.stored.where,
        }


def wanted_seqs(sizes: Sequence[int]) -> list[int]:
    """The records a run needs: for each checkpoint its last record and the one after it (the
    oldest uncovered record, should that checkpoint turn out to be the newest valid one), and
    record 0 (the oldest uncovered one when no checkpoint is valid)."""
    return [0, *(seq for size in sizes for seq in (size - 1, size) if seq >= 0)]


def verify_checkpoints(
    store: CheckpointStore,
    tiles: TileSource,
    sizes: Sequence[int],
    policy: CheckpointPolicy,
    log: LogView,
    now: datetime,
) -> CheckpointReport:
    """Check the checkpoints listed before the chain pass (``sizes``) against what it saw;
    ``tiles`` reads the log's hash tiles (:class:`~.tile_source.TileSource`)."""
    report = CheckpointReport()
    checks = _Checks(store, tiles, policy, log, report)
    valid = [signed for stored in checks.gather(sizes) if (signed := checks.opened(stored))]
    report.summary = {"verifierKey": policy.verifier.to_text(), "valid": len(valid), "checked": 0}
    newest = valid[-1] if valid else None
    if newest is not None:
        report.summary["newest"] = newest.describe()
        scope = [signed for signed in valid if not log.windowed or checks.in_window(signed)]
        bounded = log.windowed or not log.reaches_end  # --start, or an --end before today
        window = _window_checkpoints(valid, log, policy) if bounded else []
        scope = sorted({s.size: s for s in [*scope, *window, newest]}.values(), key=_size)
        roots = checks.recomputed_roots(valid)
        matched = {signed.size for signed in scope if checks.against_records(signed, roots)}
        proven: set[tuple[int, int]] = set()
        for older, newer in pairwise(scope):
            pair = (older.size, newer.size)
            if set(pair) <= matched or checks.consistent(older, newer):
                proven.add(pair)
        if bounded:
            report.summary["window"] = _window_summary(window, scope, proven)
        if newest.size in matched:
            checks.edge_tiles(newest)
        checks.long_enough(valid)
        report.summary["checked"] = len(scope)
        report.summary["recomputed"] = len(matched)
    elif log.last_seq is not None:
        report.notes.append(
            Note("no_checkpoint", "no checkpoint signed by this key was found", _folder(store))
        )
    _uncovered(report, log, newest, policy, now)
    return report


def _size(signed: _Signed) -> int:
    return signed.size


def _window_checkpoints(
    valid: Sequence[_Signed], log: LogView, policy: CheckpointPolicy
) -> list[_Signed]:
    """The window's covering checkpoint (the smallest valid one that covers its last record)
    and, when it lacks the witness quorum, the first later one that carries it (if any)."""
    if log.last_seq is None:
        return []
    later = [signed for signed in valid if signed.size > log.last_seq]
    if not later:
        return []
    covering, witnessed = later[0], policy.witnessed
    if witnessed is None or witnessed(covering.stored):
        return [covering]
    quorum = next((signed for signed in later[1:] if witnessed(signed.stored)), None)
    return [covering] if quorum is None else [covering, quorum]


def _window_summary(
    window: list[_Signed], scope: list[_Signed], proven: set[tuple[int, int]]
) -> dict[str, Any]:
    """``covering`` (``None`` while no checkpoint covers the window's last record yet) and,
    when one was needed, ``quorumAt`` with whether the run proved it one history with it."""
    if not window:
        return {"covering": None}
    summary: dict[str, Any] = {"covering": window[0].describe()}
    if len(window) > 1:
        first, last = window[0].size, window[1].size
        pairs = [(a.size, b.size) for a, b in pairwise(scope) if first <= a.size < last]
        summary["quorumAt"] = window[1].describe()
        summary["quorumAtConsistent"] = all(pair in proven for pair in pairs)
    return summary


def _folder(store: CheckpointStore) -> str:
    return store.where(checkpoint_name(0)).rsplit("/", 1)[0]


class _Checks:
    """The individual checks; each failure names the checkpoint it rests on."""

    def __init__(
        self,
        store: CheckpointStore,
        tiles: TileSource,
        policy: CheckpointPolicy,
        log: LogView,
        report: CheckpointReport,
    ) -> None:
        self.store, self.policy, self.log, self.report = store, policy, log, report
        self.fetch_tile = tiles
        self.prefix_failed = False
        #: Sizes of checkpoints the records contradict (another root, or too few records).
        #: Their consistency with the others is not proven from the tiles: the level-0 tiles
        #: are derived from those very records, so a proof would only repeat the finding.
        self.contradicted: set[int] = set()

    def fail(
        self,
        reason: Reason,
        message: str,
        where: str,
        *,
        seq: int | None = None,
        related: tuple[str, ...] = (),
    ) -> None:
        self.report.failures.append(Failure(reason, message, where, seq=seq, related=related))

    def gather(self, sizes: Sequence[int]) -> list[StoredCheckpoint]:
        """The store's checkpoints, plus any the mirror keeps and the store lost."""
        found: dict[int, StoredCheckpoint] = {}
        for size in sizes:
            stored = self.store.get_checkpoint(size)
            if stored is None:
                self.fail(
                    Reason.CHECKPOINT_DELETED,
                    f"checkpoint of tree size {size:,} was listed but is gone when read",
                    self.store.where(checkpoint_name(size)),
                )
            else:
                found[size] = stored
        if self.policy.mirror is not None:
            self._compare_mirror(self.policy.mirror, found)
        return [found[size] for size in sorted(found)]

    def _compare_mirror(self, mirror: CheckpointStore, found: dict[int, StoredCheckpoint]) -> None:
        for size in mirror.checkpoint_sizes():
            kept = mirror.get_checkpoint(size)
            mine = found.get(size)
            if kept is None or (mine is not None and mine.note == kept.note):
                continue
            if mine is None:
                self.fail(
                    Reason.CHECKPOINT_DELETED,
                    f"checkpoint of tree size {size:,} is missing from the store; the mirror "
                    "keeps it (its copy is used for the other checks)",
                    self.store.where(checkpoint_name(size)),
                    related=(kept.where,),
                )
                found[size] = kept
            elif self._root(mine) != self._root(kept) or self._root(kept) is None:
                self.fail(
                    Reason.CHECKPOINT_INCONSISTENT,
                    f"checkpoint of tree size {size:,} differs from the mirror's copy "
                    "(different root, or the store's copy is not signed by this key)",
                    mine.where,
                    related=(kept.where,),
                )

    def _root(self, stored: StoredCheckpoint) -> bytes | None:
        try:
            return open_checkpoint(stored.note, self.policy.verifier).root
        except NoteError:
            return None

    def opened(self, stored: StoredCheckpoint) -> _Signed | None:
        """The checkpoint if this key signed it (and it names its own size), else a failure."""
        try:
            checkpoint = open_checkpoint(stored.note, self.policy.verifier)
        except NoteError as exc:
            published = stored.published_at or "publication time not recorded"
            self.fail(
                Reason.CHECKPOINT_SIGNATURE,
                f"checkpoint of tree size {stored.size:,} (published {published}) is not "
                f"valid for verifier key {self.policy.verifier.to_text()}: {exc} "
                f"[{exc.reason}]",
                stored.where,
            )
            return None
        if checkpoint.size != stored.size:
            self.fail(
                Reason.CHECKPOINT_SIGNATURE,
                f"the note stored as tree size {stored.size:,} signs tree size {checkpoint.size:,}",
                stored.where,
            )
            return None
        return _Signed(stored, checkpoint)

    def in_window(self, signed: _Signed) -> bool:
        """Whether a windowed run read the checkpoint's last record (or the one it links to)."""
        begin, last = self.log.tree.begin, self.log.last_seq
        return begin is not None and last is not None and begin < signed.size <= last + 1

    def recomputed_roots(self, valid: Sequence[_Signed]) -> dict[int, bytes]:
        """The root the records read give at each checkpoint size the stream passed.

        A stream that starts after leaf 0 (a window) is preceded by the tree before it
        (:meth:`_before_window`), used only once it reproduces a signed root.
        """
        tree, newest = self.log.tree, valid[-1]
        if tree.begin is None or newest.size <= tree.begin:
            return {}
        if tree.begin == 0 or not tree.cuts:
            return tree.all_roots()
        try:
            prefix = self._before_window(valid, tree.begin)
        except _Unproven as exc:
            self.prefix_failed = True
            self._tile_failure(exc.signed, exc.error)
            return {}
        return join_cuts(prefix, tree.cuts)

    def _before_window(self, valid: Sequence[_Signed], begin: int) -> RangeHashes:
        """The tree's leaves ``[0, begin)`` as subtree hashes.

        From the newest checkpoint at or before the window (or the empty tree), at most
        :data:`_MAX_GAP` records before it: its tree from the tiles, accepted once they give its
        signed root, then the records between it and the window, read by seq and hashed, so
        neither a stored tile nor a record the window reads is taken on trust. Further back: the
        tiles before and after the window's first record, accepted once they give the newest
        checkpoint's root.
        """
        base = next((s for s in reversed(valid) if s.size <= begin), None)
        start = base.size if base is not None else 0  # else from the empty tree
        if begin - start > _MAX_GAP:
            return self._tiles_before(valid[-1], begin)
        try:
            prefix = _tile_range(0, start, TileHashes(start, self.fetch_tile))
            if base is not None and start and prefix.root() != base.checkpoint.root:
                raise TileError("the tiles do not reproduce its root")
            for leaf in self.fetch_tile.leaves(start, begin):
                prefix.push(0, leaf)
        except TileError as exc:
            raise _Unproven(base or valid[-1], exc) from None
        return prefix

    def _tiles_before(self, newest: _Signed, begin: int) -> RangeHashes:
        nodes = TileHashes(newest.size, self.fetch_tile)
        try:
            prefix = _tile_range(0, begin, nodes)
            whole = prefix.copy()
            whole.extend(_tile_range(begin, newest.size, nodes))
            if whole.root() != newest.checkpoint.root:
                raise TileError(
                    f"the tiles do not reproduce its root (tree level nodes before leaf "
                    f"{begin:,} differ from the signed tree)"
                )
        except TileError as exc:
            raise _Unproven(newest, exc) from None
        return prefix

    def against_records(self, signed: _Signed, roots: dict[int, bytes]) -> bool:
        """The root of the log's first ``N`` records is the signed root (True if so)."""
        size, root = signed.size, signed.checkpoint.root
        if size == 0:
            if root == EMPTY_ROOT:
                return True
            self.fail(
                Reason.CHECKPOINT_MISMATCH,
                f"{signed.named()}: the empty tree's root is wrong",
                signed.stored.where,
            )
            return False
        computed = roots.get(size)
        if computed is None:
            self._not_recomputed(signed)
            return False
        if computed == root:
            return True
        self.contradicted.add(size)
        record = self.log.records.get(size - 1)
        last = (
            f"record seq {size - 1:,} (hash {record.hash[:16]}…, {record.timestamp}, in "
            f"{record.location})"
            if record is not None
            else f"record seq {size - 1:,}"
        )
        self.fail(
            Reason.CHECKPOINT_MISMATCH,
            f"{signed.named()} does not match the log: its first {size:,} records, up to "
            f"{last}, give the root {base64.b64encode(computed).decode()}, the checkpoint signs "
            f"{base64.b64encode(root).decode()}: the records up to it were changed, replaced or "
            "rewritten after the checkpoint was signed",
            signed.stored.where,
            seq=size - 1,
            related=(record.location,) if record is not None else (),
        )
        return False

    def edge_tiles(self, newest: _Signed) -> None:
        """The newest checkpoint's right-edge tiles (what a restarted writer extends) give its
        root. Checked once the records gave it (its level-0 tile is derived from them), so a
        difference is in the stored tiles."""
        try:
            root = compact_range_from_tiles(newest.size, self.fetch_tile).root()
        except TileError as exc:
            self._tile_failure(newest, exc)
            return
        if root != newest.checkpoint.root:
            self._tile_failure(
                newest, TileError("its right-edge hash tiles do not give its root (damaged)")
            )

    def _not_recomputed(self, signed: _Signed) -> None:
        """No root for this size: say why, unless another check already names the cause."""
        last, tree = self.log.last_seq, self.log.tree
        if last is None or signed.size - 1 > last:
            if self.log.reaches_end:
                self.contradicted.add(signed.size)
            return  # the log is shorter (long_enough names it), or the window ends before
        if tree.begin is None or signed.size <= tree.begin:
            return  # before the window: checked by the runs whose window holds it
        if self.prefix_failed:
            return  # the tiles before the window failed: _tile_failure named it
        self.contradicted.add(signed.size)
        where = (
            f"the log's records stop following each other at seq {tree.broken_at:,}"
            if tree.broken_at is not None
            else f"the log does not hold its records up to seq {signed.size - 1:,}"
        )
        self.fail(
            Reason.CHECKPOINT_MISMATCH,
            f"{signed.named()} cannot be recomputed from the log: {where} (see the chain "
            "failures for the gap or the records out of place)",
            signed.stored.where,
            seq=signed.size - 1,
        )

    def _tile_failure(self, signed: _Signed, exc: TileError) -> None:
        missing = exc if isinstance(exc, TileMissing) else None
        self.fail(
            Reason.TILE_MISSING,
            f"cannot prove {signed.named()} against the log: {exc}",
            signed.stored.where,
            seq=missing.seq if missing is not None else None,
            related=(missing.where,) if missing is not None and missing.where else (),
        )

    def consistent(self, older: _Signed, newer: _Signed) -> bool:
        """The two signed trees are one history (RFC 9162 consistency proof from the tiles of
        ``newer``'s tree: its level-0 edge is derived from its own records, none later); not
        tried when the records contradict ``newer`` (see :attr:`contradicted`) or the tree
        before the window could not be proven (named already; the proof would rest on it)."""
        if newer.size in self.contradicted or self.prefix_failed:
            return False
        try:
            proof = consistency_proof(
                older.size, newer.size, TileHashes(newer.size, self.fetch_tile)
            )
            verify_consistency(
                older.size, newer.size, older.checkpoint.root, newer.checkpoint.root, proof
            )
            return True
        except TileError as exc:
            if self._after_window(exc):
                self.report.notes.append(
                    Note(
                        "consistency_not_proven",
                        f"{older.named()} and {newer.named()} were not proven one history: "
                        f"{exc} (after the window: the runs that read those records check them)",
                        newer.stored.where,
                    )
                )
            else:
                self._tile_failure(newer, exc)
        except ProofError as exc:
            self.fail(
                Reason.CHECKPOINT_INCONSISTENT,
                f"{older.named()} and {newer.named()} are not one history: {exc}",
                older.stored.where,
                related=(newer.stored.where,),
            )
        return False

    def _after_window(self, exc: TileError) -> bool:
        """Whether a tile could not be derived for want of a record after a window that ends
        before the log does (not this run's to judge)."""
        last = self.log.last_seq
        seq = exc.seq if isinstance(exc, TileMissing) else None
        return not self.log.reaches_end and seq is not None and last is not None and seq > last

    def long_enough(self, valid: Sequence[_Signed]) -> None:
        """The log holds at least as many records as every checkpoint says it had."""
        if not self.log.reaches_end:
            self.report.notes.append(
                Note(
                    "log_end_not_checked",
                    "the window ends before the log does: the log's length was not compared "
                    "with the newest checkpoint",
                    "",
                )
            )
            return
        count = 0 if self.log.last_seq is None else self.log.last_seq + 1
        longer = [signed for signed in valid if signed.size > count]
        if not longer:
            return
        first, newest = longer[0], longer[-1]
        self.fail(
            Reason.LOG_TRUNCATED,
            f"the log holds {count:,} records but {first.named()} covers {first.size:,}: "
            f"records seq {count:,}..{newest.size - 1:,} were removed (the newest checkpoint, "
            f"{newest.named()}, covers {newest.size:,})",
            first.stored.where,
            seq=count,
            related=tuple(signed.stored.where for signed in longer[1:]),
        )


class _Unproven(Exception):
    """The tree before a window could not be taken from the tiles: which checkpoint, why."""

    def __init__(self, signed: _Signed, error: TileError) -> None:
        super().__init__(str(error))
        self.signed = signed
        self.error = error


def _tile_range(begin: int, end: int, nodes: TileHashes) -> RangeHashes:
    """The range ``[begin, end)`` made of tree nodes read from the tiles."""
    subtrees = perfect_subtrees(begin, end)
    return range_of(begin, ((level, nodes(level, index)) for level, index in subtrees))


def _uncovered(
    report: CheckpointReport,
    log: LogView,
    newest: _Signed | None,
    policy: CheckpointPolicy,
    now: datetime,
) -> None:
    """Records after the newest checkpoint: reported; a failure once a live writer would
    have covered them (older than the interval plus the grace)."""
    covered = newest.size if newest is not None else 0
    if not log.reaches_end or log.last_seq is None or log.last_seq < covered:
        return
    count = log.last_seq + 1 - covered
    first = log.records.get(covered)
    # Uncovered records before the window: its first record is younger, so its age is a bound.
    since = first.timestamp if first is not None else log.first_timestamp
    report.summary["uncovered"] = {
        "count": count,
        "firstSeq": covered,
        "lastSeq": log.last_seq,
        "firstTimestamp": since,
        "lastTimestamp": log.last_timestamp,
    }
    span = f"seq {covered:,}..{log.last_seq:,}, {since or '?'} .. {log.last_timestamp}"
    allowed = timedelta(seconds=policy.interval_seconds + policy.grace_seconds)
    age = now - _moment(since) if since else None
    where = first.location if first is not None else ""
    if age is not None and age > allowed:
        report.failures.append(
            Failure(
                Reason.UNCOVERED_RECORDS,
                f"{count:,} records ({span}) are covered by no checkpoint; the oldest is "
                f"{age.total_seconds():,.0f} s old, more than the interval plus grace "
                f"({allowed.total_seconds():,.0f} s): a running writer would have covered them",
                where,
                seq=covered,
                timestamp=since,
            )
        )
    else:
        report.notes.append(
            Note(
                "not_yet_covered",
                f"{count:,} recent records ({span}) are not yet covered by a checkpoint",
                where,
            )
        )


def _moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
