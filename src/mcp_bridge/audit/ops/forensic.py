"""Forensic locations (``--to DIR`` or ``--to s3://bucket/prefix``): create-once copies.

A copy is created only if its name is free (``O_EXCL`` locally, ``If-None-Match: *`` on S3),
so a second quarantine adds nothing and overwrites nothing. Names are derived from what was
copied (a day file's SHA-256, an object's version id), never from the time of the run.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import AuditStorageError
from .records import create_file, sha256_bytes, sha256_file
from .trail import Location, RunOptions

if TYPE_CHECKING:
    from ..storage.s3.client import S3Connection

_CHUNK = 1 << 20


class ForensicTarget(Protocol):
    @property
    def description(self) -> str: ...

    def create(self, name: str, data: bytes) -> bool:
        """Create ``name`` with ``data``; ``False`` (nothing written) if it exists."""
        ...

    def create_from_file(self, name: str, path: Path) -> tuple[bool, str, int]:
        """Create ``name`` from a local file; ``(created, SHA-256, size)`` of what was read."""
        ...

    def digest(self, name: str) -> str | None:
        """SHA-256 of the stored copy, or ``None`` when there is none."""
        ...

    def url(self, name: str) -> str: ...


@dataclass(slots=True)
class DirectoryTarget:
    root: Path

    @property
    def description(self) -> str:
        return str(self.root)

    def create(self, name: str, data: bytes) -> bool:
        return create_file(self.root / name, data)

    def create_from_file(self, name: str, path: Path) -> tuple[bool, str, int]:
        """Stream ``path`` into a staged file while hashing it, then link it into place
        (``link`` fails if the name exists: create-once, never overwrite)."""
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        digest, size = hashlib.sha256(), 0
        try:
            with open(path, "rb") as source, open(staged, "xb") as copy:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    copy.write(chunk)
                copy.flush()
                os.fsync(copy.fileno())
            try:
                os.link(staged, target)
                created = True
            except FileExistsError:
                created = False
        except OSError as exc:
            raise AuditStorageError(f"cannot copy {path} to {target}: {exc.strerror}") from exc
        finally:
            staged.unlink(missing_ok=True)
        return created, digest.hexdigest(), size

    def digest(self, name: str) -> str | None:
        try:
            return sha256_file(self.root / name)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditStorageError(f"cannot read {self.root / name}: {exc.strerror}") from exc

    def url(self, name: str) -> str:
        return str(self.root / name)


@dataclass(slots=True)
class BucketTarget:
    connection: S3Connection
    bucket: str
    prefix: str

    @property
    def description(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def create(self, name: str, data: bytes) -> bool:
        from ..storage.s3.ops import put_once

        return put_once(self.connection, self.bucket, self._key(name), data) is not None

    def create_from_file(self, name: str, path: Path) -> tuple[bool, str, int]:
        """One PUT needs the whole body: a day file is read into memory here."""
        data = path.read_bytes()
        return self.create(name, data), sha256_bytes(data), len(data)

    def digest(self, name: str) -> str | None:
        from ..storage.s3.client import get_object

        found = get_object(self.connection, self.bucket, self._key(name))
        return sha256_bytes(found.body) if found else None

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}"


def open_target(location: Location, s3: RunOptions) -> ForensicTarget:
    """The forensic location; a directory is created if needed (it holds only new files)."""
    if location.bucket is not None:
        return BucketTarget(s3_connection(s3), location.bucket, location.prefix)
    assert location.root is not None
    try:
        os.makedirs(location.root, exist_ok=True)
    except OSError as exc:
        raise AuditStorageError(f"cannot create {location.root}: {exc.strerror}") from exc
    return DirectoryTarget(location.root)


def s3_connection(s3: RunOptions) -> S3Connection:
    """The run's S3 connection (endpoint defaults to the environment), made once per run."""
    from ..storage.s3.client import ClientOptions, connect

    cache = s3.connections
    if cache is not None and "s3" in cache:
        found: S3Connection = cache["s3"]
        return found
    made = connect(ClientOptions(region=s3.region, endpoint_url=s3.endpoint_url))
    if cache is not None:
        cache["s3"] = made
    return made
