"""Bucket checks behind ``python -m mcp_bridge.audit.preflight``, one function per item.

Each check makes the real call the writer or verifier will make (or that an incident responder
needs), so a ✓ means the permission and the bucket setting are there, not merely configured.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ...errors import AuditStorageError
from .client import S3Connection, WritePolicy, error_code, storage_error
from .layout import normalise_prefix


@dataclass(frozen=True, slots=True)
class Check:
    """One checklist line: what was checked, whether it holds, what to do if not."""

    name: str
    ok: bool
    detail: str
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    bucket: str
    prefix: str
    policy: WritePolicy


def canary_key(prefix: str) -> str:
    """Outside the log prefix (``audit-preflight/…``), so the verifier never sees canaries."""
    root = normalise_prefix(prefix).rstrip("/") or "audit"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{root}-preflight/canary-{stamp}-{secrets.token_hex(4)}.txt"


def _call(action: str, call: Callable[[], Any]) -> Any:
    """Run one S3 call; denied or refused answers come back as ClientError for the check."""
    try:
        return call()
    except BotoCoreError as exc:
        raise storage_error(exc, action) from exc


def bucket_exists(conn: S3Connection, target: Target) -> Check:
    name = f"bucket {target.bucket} exists and is reachable"
    try:
        _call("reach the bucket", lambda: conn.client.head_bucket(Bucket=target.bucket))
    except ClientError as exc:
        return Check(
            name,
            False,
            error_code(exc),
            "create it with Object Lock enabled "
            "(docs/mcp-bridge/s3.md, setup) or fix AUDIT_S3_BUCKET / the IAM policy",
        )
    return Check(name, True, "found")


def versioning_on(conn: S3Connection, target: Target) -> Check:
    name = "versioning is enabled"
    try:
        status = _call(
            "read versioning",
            lambda: conn.client.get_bucket_versioning(Bucket=target.bucket).get("Status"),
        )
    except ClientError as exc:
        return Check(name, False, error_code(exc), "allow s3:GetBucketVersioning to this role")
    if status != "Enabled":
        return Check(
            name,
            False,
            f"status {status or 'never enabled'}",
            "Object Lock requires versioning; create a new bucket with Object Lock",
        )
    return Check(name, True, "Enabled")


def object_lock_on(conn: S3Connection, target: Target) -> Check:
    name = "Object Lock is enabled, defaults agree with AUDIT_S3_OBJECT_LOCK_*"
    hint = (
        "Object Lock can only be enabled at bucket creation on most stores: create a new "
        "bucket with --object-lock-enabled-for-bucket and point AUDIT_S3_BUCKET at it"
    )
    try:
        config = _call(
            "read the Object Lock configuration",
            lambda: conn.client.get_object_lock_configuration(Bucket=target.bucket),
        ).get("ObjectLockConfiguration", {})
    except ClientError as exc:
        return Check(name, False, f"no Object Lock configuration ({error_code(exc)})", hint)
    if config.get("ObjectLockEnabled") != "Enabled":
        return Check(name, False, "Object Lock not enabled", hint)
    default = config.get("Rule", {}).get("DefaultRetention", {})
    wanted = (target.policy.lock_mode or "").upper()
    if default and wanted and default.get("Mode") != wanted:
        return Check(
            name,
            False,
            f"default mode {default.get('Mode')} found; {wanted} expected",
            "align the bucket default retention with AUDIT_S3_OBJECT_LOCK_MODE",
        )
    detail = f"default {default}" if default else "no default rule (the writer sets each object)"
    return Check(name, True, detail)


CANARY_CHECK = "a canary object is accepted with lock"
"""The name of the check that puts a (locked) canary object: the one check that writes."""


def canary_put(conn: S3Connection, target: Target, key: str) -> Check:
    name = CANARY_CHECK + (" and KMS" if target.policy.kms_key_id else "")
    if not target.policy.lock_mode:
        return Check(
            name,
            False,
            "AUDIT_S3_OBJECT_LOCK_MODE is not set",
            "set AUDIT_S3_OBJECT_LOCK_MODE and AUDIT_S3_OBJECT_LOCK_DAYS",
        )
    try:
        _call(
            "put the canary",
            lambda: conn.client.put_object(
                Bucket=target.bucket,
                Key=key,
                Body=b"mcp-bridge preflight canary\n",
                IfNoneMatch="*",
                **target.policy.headers(datetime.now(UTC)),
            ),
        )
    except ClientError as exc:
        return Check(
            name,
            False,
            f"PutObject refused: {error_code(exc)}",
            "allow s3:PutObject, s3:PutObjectRetention (and kms:GenerateDataKey on the "
            "key) for the writer role on this prefix",
        )
    return Check(name, True, f"s3://{target.bucket}/{key}")


def retention_readable(conn: S3Connection, target: Target, key: str) -> Check:
    name = "GetObjectRetention is permitted"
    try:
        found = _call(
            "read retention",
            lambda: conn.client.get_object_retention(Bucket=target.bucket, Key=key),
        ).get("Retention", {})
    except ClientError as exc:
        return Check(name, False, error_code(exc), "allow s3:GetObjectRetention on the prefix")
    return Check(name, True, f"{found.get('Mode')} until {found.get('RetainUntilDate')}")


def legal_hold_readable(conn: S3Connection, target: Target, key: str) -> Check:
    name = "GetObjectLegalHold is permitted"
    try:
        _call(
            "read legal hold",
            lambda: conn.client.get_object_legal_hold(Bucket=target.bucket, Key=key),
        )
    except ClientError as exc:
        if error_code(exc) in {"NoSuchObjectLegalHold", "NoSuchObjectLockConfiguration"}:
            return Check(name, True, "no legal hold set")
        return Check(name, False, error_code(exc), "allow s3:GetObjectLegalHold on the prefix")
    return Check(name, True, "readable")


def run_checks(conn: S3Connection, target: Target) -> list[Check]:
    """Every check in order; raises AuditStorageError when S3 cannot be reached at all."""
    first = bucket_exists(conn, target)
    if not first.ok:
        return [first]
    checks = [first, versioning_on(conn, target), object_lock_on(conn, target)]
    key = canary_key(target.prefix)
    put = canary_put(conn, target, key)
    checks.append(put)
    if put.ok:
        checks += [retention_readable(conn, target, key), legal_hold_readable(conn, target, key)]
    return checks


__all__ = ["CANARY_CHECK", "AuditStorageError", "Check", "Target", "run_checks"]
