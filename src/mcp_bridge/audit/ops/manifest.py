"""Quarantine manifests: what was copied, from where, its SHA-256, and proof the copies match.

A manifest lists every item of one quarantine run: its source (a local day file or one S3
object version, delete markers included), the name of its copy in the forensic location, the
SHA-256 and size of the bytes, and for S3 the version id, ETag, last-modified time, retention,
legal hold and KMS key id as stored. ``check_copies`` reads every copy back and compares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..engine import ProgressCallback
from ..layout import day_key
from .forensic import ForensicTarget
from .records import sha256_bytes

MANIFEST_SCHEMA = "mcp-bridge/quarantine-manifest/v1"


def day_copy_name(day: date, digest: str) -> str:
    """Name of the copy of a local day file with this SHA-256 (one per distinct content)."""
    return f"files/{day_key(day)}.jsonl@{digest[:16]}"


def version_copy_name(key: str, version_id: str) -> str:
    return f"objects/{key}@{version_id}"


def marker_copy_name(key: str, version_id: str) -> str:
    """A delete marker has no bytes: an empty file records it (its facts are in the manifest)."""
    return f"objects/{key}@{version_id}.delete-marker"


@dataclass(slots=True)
class Item:
    """One thing to quarantine: a local file (``path``, streamed) or bytes ``read`` on demand
    (an S3 version; empty for a delete marker)."""

    source: str
    copy: str
    read: Callable[[], bytes] | None = None
    path: Path | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    size: int = 0  # as listed until copied, then the bytes copied
    new: bool = False
    copy_ok: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "copy": self.copy,
            "sha256": self.sha256,
            "bytes": self.size,
            "newCopy": self.new,
            "copyVerified": self.copy_ok,
            **self.facts,
        }


def copy_items(
    items: Sequence[Item], target: ForensicTarget, progress: ProgressCallback | None = None
) -> list[str]:
    """Copy every item whose copy does not exist yet; return problems (an existing copy that
    differs is reported, never overwritten). ``progress`` gets the bytes copied so far against
    the sizes the items were listed with (their ``size`` before copying)."""
    problems: list[str] = []
    total, done = sum(item.size for item in items), 0
    for item in items:
        done += item.size
        if item.path is not None:
            item.new, item.sha256, item.size = target.create_from_file(item.copy, item.path)
        else:
            assert item.read is not None
            data = item.read()
            item.sha256, item.size = sha256_bytes(data), len(data)
            item.new = target.create(item.copy, data)
        if progress is not None:
            progress(done, total)
    for item in items:
        stored = target.digest(item.copy)
        item.copy_ok = stored == item.sha256
        if not item.copy_ok:
            found = "missing" if stored is None else f"SHA-256 {stored}"
            problems.append(
                f"copy {target.url(item.copy)} of {item.source}: {found}, {item.sha256} expected"
            )
    return problems
