"""S3 calls of the incident and checklist commands (``mcp_bridge.audit.ops``).

Reading every version with its headers, copying to a forensic bucket, legal holds, removing a
delete marker during a restore, reading bucket controls. Like ``client.py``, every botocore
failure becomes :class:`~mcp_bridge.audit.errors.AuditStorageError` here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from .client import S3Connection, error_code, is_precondition_failed, storage_error, unless_missing

_T = TypeVar("_T")


def _call(action: str, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, action) from exc


@dataclass(frozen=True, slots=True)
class VersionDetail:
    """One entry of ListObjectVersions with the fields a forensic manifest records."""

    key: str
    version_id: str
    delete_marker: bool
    size: int
    etag: str | None
    last_modified: datetime | None
    is_latest: bool


def list_version_details(conn: S3Connection, bucket: str, prefix: str) -> list[VersionDetail]:
    """Every version and delete marker below ``prefix`` (all levels), oldest first per key."""
    found: list[VersionDetail] = []

    def listing() -> None:
        pages = conn.client.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix=prefix
        )
        for page in pages:
            found.extend(_detail(item, False) for item in page.get("Versions", []))
            found.extend(_detail(marker, True) for marker in page.get("DeleteMarkers", []))

    _call(f"list versions of s3://{bucket}/{prefix}", listing)
    found.sort(key=lambda v: (v.key, v.last_modified or datetime.min, not v.is_latest))
    return found


def _detail(item: Any, marker: bool) -> VersionDetail:
    etag = item.get("ETag")
    return VersionDetail(
        key=item["Key"],
        version_id=item.get("VersionId") or "null",
        delete_marker=marker,
        size=int(item.get("Size", 0)),
        etag=etag.strip('"') if etag else None,
        last_modified=item.get("LastModified"),
        is_latest=bool(item.get("IsLatest")),
    )


@dataclass(frozen=True, slots=True)
class ObjectHead:
    """HeadObject of one version: retention, legal hold and encryption as stored."""

    key: str
    version_id: str
    size: int
    etag: str | None
    last_modified: datetime | None
    lock_mode: str | None
    retain_until: datetime | None
    legal_hold: str | None
    encryption: str | None
    kms_key_id: str | None


def head_version(conn: S3Connection, bucket: str, key: str, version_id: str) -> ObjectHead:
    """The stored headers of one object version."""
    response = _call(
        f"read the headers of s3://{bucket}/{key}?versionId={version_id}",
        lambda: conn.client.head_object(Bucket=bucket, Key=key, VersionId=version_id),
    )
    return _head_of(response, key, version_id)


def read_with_headers(
    conn: S3Connection, bucket: str, key: str, version_id: str
) -> tuple[bytes, ObjectHead]:
    """One GET: the bytes of a version and the headers HEAD would have returned."""
    action = f"read s3://{bucket}/{key}?versionId={version_id}"
    response = _call(
        action, lambda: conn.client.get_object(Bucket=bucket, Key=key, VersionId=version_id)
    )
    body = bytes(_call(action, lambda: response["Body"].read()))
    conn.bytes_read += len(body)
    return body, _head_of(response, key, version_id)


def _head_of(response: Any, key: str, version_id: str) -> ObjectHead:
    etag = response.get("ETag")
    return ObjectHead(
        key=key,
        version_id=response.get("VersionId") or version_id,
        size=int(response.get("ContentLength", 0)),
        etag=etag.strip('"') if etag else None,
        last_modified=response.get("LastModified"),
        lock_mode=response.get("ObjectLockMode"),
        retain_until=response.get("ObjectLockRetainUntilDate"),
        legal_hold=response.get("ObjectLockLegalHoldStatus"),
        encryption=response.get("ServerSideEncryption"),
        kms_key_id=response.get("SSEKMSKeyId"),
    )


def read_version(conn: S3Connection, bucket: str, key: str, version_id: str | None) -> bytes:
    """The bytes of one version (or of the current object when ``version_id`` is None)."""
    args: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id is not None:
        args["VersionId"] = version_id
    body = _call(f"read s3://{bucket}/{key}", lambda: conn.client.get_object(**args)["Body"].read())
    conn.bytes_read += len(body)
    return bytes(body)


def put_once(
    conn: S3Connection,
    bucket: str,
    key: str,
    body: bytes,
    *,
    metadata: dict[str, str] | None = None,
    lock: tuple[str, datetime] | None = None,
) -> str | None:
    """Create ``key`` only if absent: the new version's id (``"null"`` in an unversioned
    bucket), or ``None`` when the key already existed (nothing written)."""
    args: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": body,
        "IfNoneMatch": "*",
        "Metadata": metadata or {},
    }
    if lock is not None:
        args["ObjectLockMode"], args["ObjectLockRetainUntilDate"] = lock
    try:
        response = conn.client.put_object(**args)
    except ClientError as exc:
        if is_precondition_failed(exc):
            return None
        raise storage_error(exc, f"write s3://{bucket}/{key}") from exc
    except BotoCoreError as exc:
        raise storage_error(exc, f"write s3://{bucket}/{key}") from exc
    return str(response.get("VersionId") or "null")


def place_legal_hold(conn: S3Connection, bucket: str, key: str, version_id: str) -> None:
    """Legal hold ON for one version (the incident role's ``s3:PutObjectLegalHold``)."""
    _call(
        f"place a legal hold on s3://{bucket}/{key}?versionId={version_id}",
        lambda: conn.client.put_object_legal_hold(
            Bucket=bucket, Key=key, VersionId=version_id, LegalHold={"Status": "ON"}
        ),
    )


def remove_delete_marker(conn: S3Connection, bucket: str, key: str, version_id: str) -> None:
    """Delete one delete marker by version id: the version below it becomes current again."""
    delete_version(conn, bucket, key, version_id, what="delete marker")


def delete_version(
    conn: S3Connection,
    bucket: str,
    key: str,
    version_id: str,
    *,
    bypass_governance: bool = False,
    what: str = "version",
) -> None:
    """Delete exactly one version (never a plain DELETE, which would add a delete marker).

    ``bypass_governance`` sends ``x-amz-bypass-governance-retention`` (the incident role's
    ``s3:BypassGovernanceRetention``); a version under COMPLIANCE retention cannot be deleted.
    """
    args: dict[str, Any] = {"Bucket": bucket, "Key": key, "VersionId": version_id}
    if bypass_governance:
        args["BypassGovernanceRetention"] = True
    _call(
        f"remove {what} s3://{bucket}/{key}?versionId={version_id}",
        lambda: conn.client.delete_object(**args),
    )


def probe_read(conn: S3Connection, bucket: str, key: str, version_id: str) -> str | None:
    """Read the first byte of a version (decrypting it); the error code if that fails."""
    try:
        conn.client.get_object(Bucket=bucket, Key=key, VersionId=version_id, Range="bytes=0-0")[
            "Body"
        ].read()
    except ClientError as exc:
        return error_code(exc) or "error"
    except BotoCoreError as exc:
        raise storage_error(exc, f"read s3://{bucket}/{key}") from exc
    return None


@dataclass(slots=True)
class BucketControls:
    """What a permissions audit reads from a bucket; ``unreadable`` says what could not be."""

    policy: dict[str, Any] | None = None
    ownership: list[str] = field(default_factory=list)
    public_access_block: dict[str, bool] | None = None
    object_lock: dict[str, Any] | None = None
    versioning: str | None = None
    unreadable: dict[str, str] = field(default_factory=dict)


_MISSING = {
    "NoSuchBucketPolicy",
    "OwnershipControlsNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "ObjectLockConfigurationNotFoundError",
    "NoSuchObjectLockConfiguration",
}


def bucket_controls(conn: S3Connection, bucket: str) -> BucketControls:
    """Policy, ownership controls, public access block, Object Lock and versioning."""
    found = BucketControls()
    client = conn.client

    def read(name: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientError as exc:
            code = error_code(exc)
            if code == "NoSuchBucket":
                raise storage_error(exc, f"read the {name} of bucket {bucket}") from exc
            if code not in _MISSING:
                found.unreadable[name] = code or "error"
            return None
        except BotoCoreError as exc:
            raise storage_error(exc, f"read the {name} of bucket {bucket}") from exc

    policy = read("bucket policy", lambda: client.get_bucket_policy(Bucket=bucket)["Policy"])
    found.policy = json.loads(policy) if policy else None
    ownership = read(
        "ownership controls", lambda: client.get_bucket_ownership_controls(Bucket=bucket)
    )
    if ownership:
        rules = ownership.get("OwnershipControls", {}).get("Rules", [])
        found.ownership = [str(rule.get("ObjectOwnership")) for rule in rules]
    block = read("public access block", lambda: client.get_public_access_block(Bucket=bucket))
    if block:
        found.public_access_block = dict(block.get("PublicAccessBlockConfiguration", {}))
    lock = read(
        "Object Lock configuration", lambda: client.get_object_lock_configuration(Bucket=bucket)
    )
    if lock:
        found.object_lock = dict(lock.get("ObjectLockConfiguration", {}))
    versioning = read("versioning", lambda: client.get_bucket_versioning(Bucket=bucket))
    found.versioning = versioning.get("Status") if versioning else None
    return found


def object_lock_configuration(conn: S3Connection, bucket: str) -> dict[str, Any] | None:
    """The bucket's Object Lock configuration, or ``None`` when it has none. One that cannot be
    read (a permission) is storage trouble, never taken for "no default retention"."""
    found = unless_missing(
        lambda: conn.client.get_object_lock_configuration(Bucket=bucket),
        f"read the Object Lock configuration of bucket {bucket}",
        _MISSING,
    )
    return None if found is None else dict(found.get("ObjectLockConfiguration", {}))
