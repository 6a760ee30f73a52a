"""Checkpoints and hash tiles in the bucket (``prefix/_checkpoints/``, ``prefix/_tiles/``).

Every object is put once with ``IfNoneMatch='*'`` and the same Object Lock (and SSE-KMS)
headers as the log's segments, so a checkpoint is as hard to remove as the records it covers.
A refused put (``412``) means another writer created the key first: its bytes are read back and
compared by :class:`~mcp_bridge.audit.checkpoint_store.WriteOnceCheckpoints`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ...checkpoint_store import WriteOnceCheckpoints
from ...errors import AuditStorageError
from .client import S3Connection, WritePolicy, get_object, list_folder, put_once
from .layout import normalise_prefix


class S3Blobs:
    """Write-once objects below an S3 prefix (the :class:`BlobStore` of the S3 store)."""

    def __init__(
        self, connection: S3Connection, bucket: str, prefix: str, policy: WritePolicy
    ) -> None:
        self.connection = connection
        self.bucket = bucket
        self.root = normalise_prefix(prefix)
        self.policy = policy

    def where(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.root}{name}"

    def create(self, name: str, data: bytes) -> bytes | None:
        key = self.root + name
        if put_once(
            self.connection, self.bucket, key, data, policy=self.policy, newest=datetime.now(UTC)
        ):
            return None
        existing = get_object(self.connection, self.bucket, key)
        if existing is None:
            raise AuditStorageError(
                f"{self.where(name)} exists (conditional put refused) but cannot be read; a "
                "delete marker may hide it",
                hint="list the key's versions; a deleted checkpoint is a finding for the incident "
                "runbook",
            )
        return existing.body

    def read(self, name: str) -> bytes | None:
        found = get_object(self.connection, self.bucket, self.root + name)
        return None if found is None else found.body

    def names(self, folder: str, after: str | None = None) -> list[str]:
        parent = f"{self.root}{folder.strip('/')}/"
        listing = list_folder(
            self.connection,
            self.bucket,
            parent,
            start_after=None if after is None else parent + after,
        )
        return sorted(key[len(parent) :] for key in listing.keys)


def s3_checkpoints(
    connection: S3Connection, bucket: str, prefix: str, policy: WritePolicy
) -> WriteOnceCheckpoints:
    """The checkpoint store beside the log at ``s3://bucket/prefix`` (or of an S3 mirror)."""
    return WriteOnceCheckpoints(S3Blobs(connection, bucket, prefix, policy))
