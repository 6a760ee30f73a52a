"""Where signed checkpoints and hash tiles live beside the log, and the rules for writing them.

Pure: the naming (``_checkpoints/<size, 20 digits>``, ``<same>.json``, ``_tiles/tile/…``) and the
write-once discipline are defined here once; a storage driver only supplies
:class:`BlobStore`, named write-once blobs (local files created atomically, S3 objects put with
``IfNoneMatch='*'``). :class:`WriteOnceCheckpoints` turns any blob store into the
:class:`CheckpointStore` both the writer and the verifier use.

A create that loses the race means another writer got there first. That is normal (several
writers share one log) as long as both wrote the same thing: the same bytes for a tile, the
same root for a checkpoint of one size. Anything else is two histories of one log, an alarm
(:class:`~mcp_bridge.audit.errors.AuditCorruptionError`), never silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from .errors import AuditCorruptionError
from .records import body_hash, parse_header

CHECKPOINT_DIR = "_checkpoints"
TILE_DIR = "_tiles"
SIZE_DIGITS = 20
META_SUFFIX = ".json"


def checkpoint_name(size: int) -> str:
    """``_checkpoints/00000000000000001234``: the signed note of the tree of ``size`` leaves."""
    return f"{CHECKPOINT_DIR}/{size:0{SIZE_DIGITS}d}"


def meta_name(size: int) -> str:
    """``_checkpoints/<size>.json``: when the checkpoint was published (unsigned, for reports)."""
    return checkpoint_name(size) + META_SUFFIX


def cosignature_name(size: int, key_id: str) -> str:
    """``_checkpoints/<size>.cosig/<hex key id>``: a witness cosignature line on it."""
    return f"{checkpoint_name(size)}.cosig/{key_id}"


def timestamp_name(size: int) -> str:
    """``_checkpoints/<size>.tsr``: an RFC 3161 timestamp response over the checkpoint's note."""
    return f"{checkpoint_name(size)}.tsr"


def tile_name(tile_path: str) -> str:
    """``_tiles/tile/0/x001/234`` for the C2SP tile path ``tile/0/x001/234``."""
    return f"{TILE_DIR}/{tile_path}"


def parse_checkpoint_size(name: str) -> int | None:
    """The tree size a file name in ``_checkpoints/`` names, or ``None`` for any other name."""
    if len(name) != SIZE_DIGITS or not name.isdigit() or not name.isascii():
        return None
    return int(name)


def meta_bytes(size: int, published_at: str, origin: str) -> bytes:
    """The publication record stored beside a checkpoint."""
    value = {"treeSize": size, "publishedAt": published_at, "origin": origin}
    return (json.dumps(value, separators=(",", ":")) + "\n").encode()


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored: its note, its publication time (if recorded) and where it is."""

    size: int
    note: bytes
    published_at: str | None
    where: str


class LogEntry(NamedTuple):
    """One record as the tree needs it: its seq, the hash it links to, and its own hash
    (the leaf input). A reader yields it only for a line whose hash matches its body."""

    seq: int
    previous_hash: str
    hash: str


def log_entry(line: bytes, where: str) -> LogEntry:
    """The entry of one stored line; :class:`~.records.MalformedLine` if it is no record.

    A record whose hash does not match its body is never signed over: it raises
    :class:`AuditCorruptionError` naming ``where``.
    """
    header = parse_header(line)
    if body_hash(header) != header.hash:
        raise AuditCorruptionError(
            f"{where}: the record seq {header.seq} fails its hash check; refusing to sign a "
            "checkpoint over it"
        )
    return LogEntry(header.seq, header.previous_hash, header.hash)


class StoredLine(NamedTuple):
    """One stored line of the log (without its newline) and where it is: a file or a key."""

    line: bytes
    where: str


class RecordRange(Protocol):
    """A few records read by seq (both drivers provide it): what level-0 hash tiles are
    derived from (:mod:`.tile_source`)."""

    def record_lines(self, start: int, end: int) -> list[StoredLine]:
        """The stored lines holding records ``start`` to ``end - 1``, in log order.

        Found by seq (a binary search over files and offsets, or the segment keys that name
        their first seq), never by reading the log from its start. Lines without the record
        shape (a torn fragment) are left out; records are returned as stored, for the caller
        to check. The list stops short where the log does (or where it has a gap: the caller
        names the missing seq).
        """
        ...


class LogReader(RecordRange, Protocol):
    """What the checkpoint writer reads from the log itself (both drivers provide it)."""

    def log_size(self) -> int:
        """The number of records in the log now (the tail's seq + 1)."""
        ...

    def entries_since(self, seq: int) -> Iterator[LogEntry]:
        """Records with ``seq`` and above, in seq order, up to the tail as found while
        reading. Reads back from the tail, never the whole log unless ``seq`` is 0."""
        ...


class BlobStore(Protocol):
    """Write-once named blobs: what a storage driver provides for checkpoints and tiles.

    Names are ``/``-separated paths relative to the store root (or S3 prefix).
    """

    def create(self, name: str, data: bytes) -> bytes | None:
        """Create ``name`` holding ``data`` unless it exists: ``None`` if created, else the
        bytes already stored there. Nothing existing is ever modified."""
        ...

    def read(self, name: str) -> bytes | None:
        """The bytes of ``name``, or ``None`` if it does not exist."""
        ...

    def names(self, folder: str, after: str | None = None) -> list[str]:
        """Names of the blobs directly in ``folder`` (base names, sorted), only those greater
        than ``after`` when given."""
        ...

    def where(self, name: str) -> str:
        """Where ``name`` is stored, for messages: a path or an ``s3://`` URL."""
        ...


class CheckpointStore(Protocol):
    """Read and write checkpoints and tiles (bytes in, bytes out, write-once)."""

    def put_checkpoint(self, size: int, note: bytes, published_at: str, origin: str) -> bool:
        """Store the note of tree ``size`` and its publication time; False if another writer
        stored the same tree head first. Two different roots for one size raise."""
        ...

    def get_checkpoint(self, size: int) -> StoredCheckpoint | None: ...

    def checkpoint_sizes(self, after: int = -1) -> list[int]:
        """Tree sizes that have a checkpoint, ascending (only those above ``after``)."""
        ...

    def put_tile(self, tile_path: str, data: bytes) -> bool:
        """Store a hash tile; False if the identical tile was already there."""
        ...

    def put_tiles(self, tiles: Sequence[tuple[str, bytes]]) -> None:
        """Store several tiles (``(tile path, bytes)``), each as :meth:`put_tile` does; returns
        once all are stored."""
        ...

    def get_tile(self, tile_path: str) -> bytes | None: ...

    def put_attestation(self, name: str, data: bytes) -> bool:
        """Store a witness cosignature or timestamp token (``cosignature_name``,
        ``timestamp_name``) write-once; False if one was already there (the first is kept)."""
        ...

    def get_attestation(self, name: str) -> bytes | None: ...

    def newest_size(self, at_most: int | None = None) -> int | None:
        """The largest tree size with a checkpoint (not above ``at_most`` when given)."""
        ...

    def where(self, name: str) -> str: ...


def _root_line(note: bytes) -> bytes:
    """The root hash line of a checkpoint note: what two writers of one size must agree on
    (signatures may differ, e.g. after a key rotation; the tree may not)."""
    lines = note.split(b"\n", 3)
    return lines[2] if len(lines) > 2 else b""


class WriteOnceCheckpoints:
    """:class:`CheckpointStore` over a driver's :class:`BlobStore`."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def where(self, name: str) -> str:
        return self.blobs.where(name)

    def put_checkpoint(self, size: int, note: bytes, published_at: str, origin: str) -> bool:
        name = checkpoint_name(size)
        theirs = self.blobs.create(name, note)
        if theirs is not None and _root_line(theirs) != _root_line(note):
            raise AuditCorruptionError(
                f"two checkpoints for tree size {size}: {self.where(name)} holds root "
                f"{_root_line(theirs).decode(errors='replace')!r}, this writer computed "
                f"{_root_line(note).decode(errors='replace')!r}; the log has two histories",
            )
        # The publication time is best-effort metadata: whoever creates it first is right
        # enough (a writer that lost the note race may still fill in a crashed winner's gap).
        self.blobs.create(meta_name(size), meta_bytes(size, published_at, origin))
        return theirs is None

    def get_checkpoint(self, size: int) -> StoredCheckpoint | None:
        name = checkpoint_name(size)
        note = self.blobs.read(name)
        if note is None:
            return None
        return StoredCheckpoint(size, note, self._published_at(size), self.where(name))

    def _published_at(self, size: int) -> str | None:
        raw = self.blobs.read(meta_name(size))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        published = value.get("publishedAt") if isinstance(value, dict) else None
        return published if isinstance(published, str) else None

    def checkpoint_sizes(self, after: int = -1) -> list[int]:
        start = checkpoint_name(after).rsplit("/", 1)[1] if after >= 0 else None
        sizes = (parse_checkpoint_size(n) for n in self.blobs.names(CHECKPOINT_DIR, start))
        return sorted(size for size in sizes if size is not None and size > after)

    def put_tile(self, tile_path: str, data: bytes) -> bool:
        name = tile_name(tile_path)
        theirs = self.blobs.create(name, data)
        if theirs is not None and theirs != data:
            raise AuditCorruptionError(
                f"the hash tile {self.where(name)} differs from the one this writer computed "
                "for the same tree; the log has two histories",
            )
        return theirs is None

    def put_tiles(self, tiles: Sequence[tuple[str, bytes]]) -> None:
        for tile_path, data in tiles:
            self.put_tile(tile_path, data)

    def get_tile(self, tile_path: str) -> bytes | None:
        return self.blobs.read(tile_name(tile_path))

    def put_attestation(self, name: str, data: bytes) -> bool:
        # A witness asked twice cosigns twice (another timestamp): the first stays, not an alarm.
        return self.blobs.create(name, data) is None

    def get_attestation(self, name: str) -> bytes | None:
        return self.blobs.read(name)

    def newest_size(self, at_most: int | None = None) -> int | None:
        """The largest checkpointed tree size (not above ``at_most`` when given).

        With a bound, listing starts just below it and reaches back in doubling steps, so on
        S3 a restart reads a few listing pages rather than every checkpoint ever published.
        """
        if at_most is None:
            sizes = self.checkpoint_sizes()
            return sizes[-1] if sizes else None
        step = 1024
        while True:
            after = at_most - step
            found = [s for s in self.checkpoint_sizes(max(after, -1)) if s <= at_most]
            if found:
                return found[-1]
            if after < 0:
                return None
            step *= 2
