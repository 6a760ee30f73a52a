"""Issue 8 on the real SeaweedFS store: windows closed at the end, empty prefixes, Object Lock by
default, resynchronised diagnostics for copied segments, dangling forward markers, bad bucket
names and ``--timeout`` against a frozen endpoint."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from mcp_bridge.audit import Reason, verify_audit_trail
from mcp_bridge.audit.storage.s3.layout import FORWARD_META, segment_key

from ..conftest import run_module
from .conftest import Clock
from .seaweed import SeaweedServer

URL = "s3://{}/audit"
RETAIN = {"ObjectLockMode": "GOVERNANCE"}


def _put(seaweed: SeaweedServer, bucket: str, key: str, body: bytes, **extra: Any) -> None:
    retain = datetime.now(UTC) + timedelta(days=2)
    seaweed.client().put_object(
        Bucket=bucket, Key=key, Body=body, ObjectLockRetainUntilDate=retain, **RETAIN, **extra
    )


@pytest.fixture
def two_days(open_trail, clock: Clock) -> list[dict[str, Any]]:
    """Three records on 2025/10/24, three on 2025/10/25 (one segment each batch)."""
    trail = open_trail(clock)
    records = [trail.record_event("e", {"n": n}) for n in range(3)]
    clock.now += timedelta(days=1)
    records += [trail.record_event("e", {"n": n}) for n in range(3, 6)]
    trail.close()
    return records


def test_an_s3_window_is_closed_by_the_next_days_first_record(two_days, bucket: str) -> None:
    result = verify_audit_trail(URL.format(bucket), end="2025/10/24")
    assert result.ok, result.render_text()
    assert (
        result.closed_by
        == f"closed by seq 3 in {segment_key('audit', date(2025, 10, 25), 3)} line 1"
    )
    later = verify_audit_trail(URL.format(bucket), start="2025/10/25")
    assert later.ok and later.anchored_by.startswith("anchored on seq 2")


def test_a_mistyped_prefix_is_empty_store(two_days, bucket: str, cli_env, seaweed) -> None:
    env = {**cli_env, **seaweed.env()}
    done = run_module("mcp_bridge.audit.verify", f"s3://{bucket}/audti", env=env)
    assert done.returncode == 1
    assert f"empty_store: s3://{bucket}/audti: no audit store under" in done.stdout
    allowed = run_module(
        "mcp_bridge.audit.verify", f"s3://{bucket}/audti", "--allow-empty", env=env
    )
    assert allowed.returncode == 0


def test_unlocked_objects_fail_by_default_unless_no_object_lock(
    open_trail, bucket: str, seaweed: SeaweedServer, cli_env
) -> None:
    trail = open_trail(
        Clock(datetime.now(UTC)), audit_s3_object_lock_mode=None, audit_s3_object_lock_days=None
    )
    trail.record_event("e", {})
    trail.close()
    result = verify_audit_trail(URL.format(bucket))
    assert {f.reason for f in result.failures} == {Reason.OBJECT_LOCK_MISSING}
    assert all(f.location.startswith("audit/") for f in result.failures)
    env = {**cli_env, **seaweed.env()}
    done = run_module("mcp_bridge.audit.verify", URL.format(bucket), "--no-object-lock", env=env)
    assert done.returncode == 0, done.stdout
    both = run_module(
        "mcp_bridge.audit.verify",
        URL.format(bucket),
        "--no-object-lock",
        "--object-lock-mode",
        "governance",
        env=env,
    )
    assert both.returncode == 2 and "contradicts" in both.stderr


@pytest.mark.parametrize(
    ("original", "copy"),
    [
        # to a free key of the same day: its content does not start at its key's seq
        ((date(2025, 10, 24), 0), (date(2025, 10, 24), 100)),
        # to the same seq on the next day
        ((date(2025, 10, 25), 3), (date(2025, 10, 26), 3)),
    ],
)
def test_a_copied_segment_blames_only_the_copy(
    two_days, bucket: str, seaweed: SeaweedServer, original, copy
) -> None:
    source, target = segment_key("audit", *original), segment_key("audit", *copy)
    body = seaweed.client().get_object(Bucket=bucket, Key=source)["Body"].read()
    _put(seaweed, bucket, target, body)
    result = verify_audit_trail(URL.format(bucket))
    assert not result.ok
    assert {f.location for f in result.failures} == {target}
    assert not any(f.reason.value.startswith("missing") for f in result.failures)
    assert Reason.SEQ_OUT_OF_ORDER in {f.reason for f in result.failures}


def test_a_forward_marker_to_a_day_without_its_segment_is_a_failure(
    two_days, bucket: str, seaweed: SeaweedServer
) -> None:
    marker = segment_key("audit", date(2025, 10, 25), 6)
    _put(seaweed, bucket, marker, b"", Metadata={FORWARD_META: "2025/10/27"})
    result = verify_audit_trail(URL.format(bucket))
    [failure] = result.failures
    assert (failure.reason, failure.location, failure.seq) == (Reason.MISSING_SEGMENT, marker, 6)
    assert failure.related == (segment_key("audit", date(2025, 10, 27), 6),)


def test_an_invalid_bucket_name_is_a_usage_error(cli_env) -> None:
    done = run_module("mcp_bridge.audit.verify", "s3://bucket with space/x", env=cli_env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "'bucket with space'" in done.stderr and "not a valid bucket name" in done.stderr


def test_timeout_bounds_a_frozen_endpoint(two_days, bucket: str, seaweed, cli_env) -> None:
    env = {**cli_env, **seaweed.env()}
    seaweed.pause()
    try:
        done = run_module(
            "mcp_bridge.audit.verify", URL.format(bucket), "--timeout", "1", env=env, timeout=60
        )
    except subprocess.TimeoutExpired:  # without --timeout: 30 s x 5 attempts
        pytest.fail("verify --timeout 1 did not give up on a frozen endpoint")
    finally:
        seaweed.resume()
    assert done.returncode == 3 and "unreachable" in done.stderr
    bad = run_module("mcp_bridge.audit.verify", URL.format(bucket), "--timeout", "0", env=env)
    assert bad.returncode == 2 and "not a number of seconds" in bad.stderr
