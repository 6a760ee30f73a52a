"""The only place boto3 is touched: client construction, write-once puts, reads, error mapping.

Throttling and 5xx answers are retried by botocore's own retry modes; anything still failing
becomes :class:`~mcp_bridge.audit.errors.AuditStorageError` here, so no caller ever sees a
botocore exception. Every HTTP attempt is counted (``requests``) for the stats and benchmark.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ...errors import AuditStorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
T = TypeVar("T")
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How to reach S3: region, endpoint (S3-compatible stores), timeouts and retries."""

    region: str | None = None
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    retry_mode: Literal["standard", "adaptive"] = "standard"


def default_endpoint() -> str | None:
    """``AUDIT_S3_ENDPOINT_URL`` (or boto3's own ``AWS_ENDPOINT_URL``) when set."""
    return os.environ.get("AUDIT_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL") or None


@dataclass(slots=True)
class S3Connection:
    """A client plus the number of HTTP requests it has sent (retries included)."""

    client: S3Client
    requests: int = 0
    bytes_read: int = 0
    options: ClientOptions = field(default_factory=ClientOptions)

    def _count(self, **_: Any) -> None:
        self.requests += 1


def connect(options: ClientOptions) -> S3Connection:
    """A fresh client (never a shared one: each store or verifier owns its connection)."""
    config = Config(
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},
        max_pool_connections=32,
    )
    client = boto3.session.Session().client(
        "s3",
        region_name=options.region,
        endpoint_url=options.endpoint_url or default_endpoint(),
        config=config,
    )
    connection = S3Connection(client, options=options)
    client.meta.events.register("before-send.s3", connection._count)
    return connection


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_precondition_failed(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 412 or error_code(exc) == "PreconditionFailed"


def storage_error(exc: Exception, action: str) -> AuditStorageError:
    """Map a botocore failure to an error that says what to check."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in _DENIED:
            return AuditStorageError(
                f"S3 denied {action}: {code}",
                hint="check the credentials and the IAM policy (docs/mcp-bridge/s3.md, IAM)",
            )
        if code == "NoSuchBucket":
            return AuditStorageError(
                f"S3 bucket missing while trying to {action}",
                hint="check AUDIT_S3_BUCKET, or create the bucket with Object Lock enabled",
            )
        return AuditStorageError(f"S3 refused to {action}: {code} {exc}")
    return AuditStorageError(
        f"S3 is unreachable while trying to {action}: {exc}",
        hint="check AUDIT_S3_ENDPOINT_URL/AUDIT_S3_REGION, network and S3 status, then retry",
    )


def unless_missing(call: Callable[[], T], action: str, missing: Collection[str]) -> T | None:
    """``call()``, or ``None`` when S3 answers with one of the ``missing`` codes (the thing
    does not exist); any other failure is storage trouble naming ``action``."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in missing:
            return None
        raise storage_error(exc, action) from exc
    except BotoCoreError as exc:
        raise storage_error(exc, action) from exc


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object version as read with GetObject (body plus the headers we verify)."""

    key: str
    version_id: str | None
    body: bytes
    metadata: Mapping[str, str]
    lock_mode: str | None
    retain_until: datetime | None
    encryption: str | None
    kms_key_id: str | None


def get_object(
    connection: S3Connection, bucket: str, key: str, version_id: str | None = None
) -> StoredObject | None:
    """Read one object (a given version, or the current one); ``None`` if it does not exist."""
    args: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id is not None:
        args["VersionId"] = version_id

    def read() -> tuple[Any, bytes]:
        response = connection.client.get_object(**args)
        return response, response["Body"].read()

    found = unless_missing(read, f"read s3://{bucket}/{key}", _NOT_FOUND)
    if found is None:
        return None
    response, body = found
    connection.bytes_read += len(body)
    return StoredObject(
        key=key,
        version_id=response.get("VersionId"),
        body=body,
        metadata=response.get("Metadata", {}),
        lock_mode=response.get("ObjectLockMode"),
        retain_until=response.get("ObjectLockRetainUntilDate"),
        encryption=response.get("ServerSideEncryption"),
        kms_key_id=response.get("SSEKMSKeyId"),
    )


def retain_until(newest: datetime, days: int) -> datetime:
    """``newest + days``, rounded UP to whole seconds (what the wire format carries).

    Counted from the wall clock instead when that is later (a replayed spool, a lagging
    trail clock): S3 refuses a retain-until date in the past, and later is always allowed.
    """
    moment = max(newest, datetime.now(UTC)).astimezone(UTC) + timedelta(days=days)
    whole = math.ceil(moment.timestamp())
    return datetime.fromtimestamp(whole, UTC)


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """What every object is put with: Object Lock and (optionally) SSE-KMS."""

    lock_mode: str | None
    lock_days: int | None
    kms_key_id: str | None

    def headers(self, newest: datetime) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.lock_mode and self.lock_days:
            args["ObjectLockMode"] = self.lock_mode.upper()
            args["ObjectLockRetainUntilDate"] = retain_until(newest, self.lock_days)
        if self.kms_key_id:
            args["ServerSideEncryption"] = "aws:kms"
            args["SSEKMSKeyId"] = self.kms_key_id
        return args


def put_once(
    connection: S3Connection,
    bucket: str,
    key: str,
    body: bytes,
    *,
    policy: WritePolicy,
    newest: datetime,
    metadata: Mapping[str, str] | None = None,
) -> bool:
    """Create ``key`` only if it does not exist (``If-None-Match: *``); False if it did."""
    try:
        connection.client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            IfNoneMatch="*",
            ContentType="application/x-ndjson",
            Metadata=dict(metadata or {}),
            **policy.headers(newest),
        )
    except ClientError as exc:
        if is_precondition_failed(exc):
            return False
        raise storage_error(exc, f"write s3://{bucket}/{key}") from exc
    except BotoCoreError as exc:
        raise storage_error(exc, f"write s3://{bucket}/{key}") from exc
    return True


@dataclass(frozen=True, slots=True)
class Listing:
    """One folder level: the object keys in it and its sub-folders (common prefixes)."""

    keys: list[str]
    folders: list[str]


def list_folder(
    connection: S3Connection, bucket: str, prefix: str, *, start_after: str | None = None
) -> Listing:
    """Current objects and sub-folders directly under ``prefix`` (all pages)."""
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
    if start_after:
        args["StartAfter"] = start_after
    keys: list[str] = []
    folders: list[str] = []
    try:
        for page in connection.client.get_paginator("list_objects_v2").paginate(**args):
            keys.extend(item["Key"] for item in page.get("Contents", []))
            folders.extend(item["Prefix"] for item in page.get("CommonPrefixes", []))
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, f"list s3://{bucket}/{prefix}") from exc
    return Listing(keys, folders)


def iter_keys(
    connection: S3Connection,
    bucket: str,
    prefix: str,
    *,
    start_after: str | None = None,
    page_size: int = 1000,
) -> Iterator[str]:
    """Current object keys directly under ``prefix``, in key order, one page of at most
    ``page_size`` asked for at a time: a caller that stops early asks for no further page."""
    args: dict[str, Any] = {
        "Bucket": bucket,
        "Prefix": prefix,
        "Delimiter": "/",
        "PaginationConfig": {"PageSize": page_size},
    }
    if start_after:
        args["StartAfter"] = start_after
    try:
        for page in connection.client.get_paginator("list_objects_v2").paginate(**args):
            yield from (item["Key"] for item in page.get("Contents", []))
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, f"list s3://{bucket}/{prefix}") from exc


@dataclass(frozen=True, slots=True)
class Version:
    """One entry of ListObjectVersions: an object version or a delete marker."""

    key: str
    version_id: str
    size: int
    delete_marker: bool


@dataclass(frozen=True, slots=True)
class VersionListing:
    """Every version and delete marker directly under a folder, newest first per key."""

    versions: list[Version]
    folders: list[str]


def list_versions(
    connection: S3Connection, bucket: str, prefix: str, *, recursive: bool = False
) -> VersionListing:
    """All versions (and delete markers) under ``prefix``: one folder level, or every level."""
    versions: list[Version] = []
    folders: list[str] = []
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if not recursive:
        args["Delimiter"] = "/"
    try:
        for page in connection.client.get_paginator("list_object_versions").paginate(**args):
            versions.extend(
                Version(v["Key"], v.get("VersionId") or "null", v.get("Size", 0), False)
                for v in page.get("Versions", [])
            )
            versions.extend(
                Version(m["Key"], m.get("VersionId") or "null", 0, True)
                for m in page.get("DeleteMarkers", [])
            )
            folders.extend(item["Prefix"] for item in page.get("CommonPrefixes", []))
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, f"list versions of s3://{bucket}/{prefix}") from exc
    return VersionListing(versions, folders)
