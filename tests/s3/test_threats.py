"""What an attacker with the writer's credentials can do, and what the verifier says about it.

The attacker identity may only PutObject and DeleteObject (no reads, no lock bypass).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from mcp_bridge.audit import Reason, verify_audit_trail
from mcp_bridge.audit.storage.s3.layout import GENESIS_DAY, segment_key

from .conftest import Clock
from .seaweed import ATTACKER, SeaweedServer

URL = "s3://{}/audit"


@pytest.fixture
def written(open_trail, bucket: str, clock: Clock) -> list[dict[str, Any]]:
    trail = open_trail(clock)
    records = [trail.record_event("e", {"n": n}) for n in range(6)]
    trail.close()
    return records


def all_keys(seaweed: SeaweedServer, bucket: str) -> list[str]:
    listed = seaweed.client().list_objects_v2(Bucket=bucket, Prefix="audit/")
    return sorted(item["Key"] for item in listed["Contents"])


def data_keys(seaweed: SeaweedServer, bucket: str) -> list[str]:
    """Segment keys, without the genesis forward marker."""
    genesis = segment_key("audit", GENESIS_DAY, 0)
    return [key for key in all_keys(seaweed, bucket) if key != genesis]


def failures_of(bucket: str, **options: Any) -> list[Any]:
    result = verify_audit_trail(URL.format(bucket), **options)
    assert not result.ok
    return result.failures


def test_a_new_version_over_a_segment_is_reported_and_the_original_verified(
    written, bucket: str, seaweed: SeaweedServer
) -> None:
    key = data_keys(seaweed, bucket)[1]
    seaweed.client(ATTACKER).put_object(Bucket=bucket, Key=key, Body=b"forged\n")
    versions = seaweed.client().list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    (failure,) = failures_of(bucket)
    assert failure.reason is Reason.OBJECT_OVERWRITTEN
    assert failure.location == key
    assert set(failure.related) == {f"{key}?versionId={v['VersionId']}" for v in versions}


def test_a_delete_marker_is_reported_and_the_hidden_segment_still_verified(
    written, bucket: str, seaweed: SeaweedServer
) -> None:
    key = data_keys(seaweed, bucket)[2]
    seaweed.client(ATTACKER).delete_object(Bucket=bucket, Key=key)
    result = verify_audit_trail(URL.format(bucket))
    assert [f.reason for f in result.failures] == [Reason.OBJECT_DELETED]
    assert result.failures[0].location == key
    assert len(result.failures[0].related) == 2
    assert result.checked_events == 6


@pytest.mark.parametrize(
    "key", ["audit/2025/10/24/notes.txt", "audit/stray.jsonl", "audit/2025/13/01/x.jsonl"]
)
def test_an_extra_object_is_reported(written, bucket: str, seaweed: SeaweedServer, key) -> None:
    seaweed.client(ATTACKER).put_object(Bucket=bucket, Key=key, Body=b"{}\n")
    (failure,) = failures_of(bucket)
    assert failure.reason is Reason.UNEXPECTED_OBJECT
    assert failure.location == key


def test_a_squatted_future_key_is_reported_and_does_not_stop_the_writer(
    written, bucket: str, seaweed: SeaweedServer, open_trail, clock: Clock
) -> None:
    squat = segment_key("audit", date(2025, 10, 24), 1000)
    seaweed.client(ATTACKER).put_object(Bucket=bucket, Key=squat, Body=b"garbage\n")
    trail = open_trail(clock)
    assert trail.record_event("e", {"after": "squat"})["seq"] == 6
    failures = failures_of(bucket)
    assert {f.location for f in failures} == {squat}
    assert Reason.UNEXPECTED_OBJECT in {f.reason for f in failures}


def test_an_unlocked_forged_segment_is_reported(
    written, bucket: str, seaweed: SeaweedServer
) -> None:
    key = segment_key("audit", date(2025, 10, 24), 6)
    seaweed.client(ATTACKER).put_object(Bucket=bucket, Key=key, Body=b"forged\n")
    failures = failures_of(bucket, object_lock_mode="governance", object_lock_days=1)
    assert {f.location for f in failures} == {key}
    assert Reason.OBJECT_LOCK_MISSING in {f.reason for f in failures}


@pytest.mark.parametrize(
    ("written_as", "expected", "reason"),
    [
        (
            {"audit_s3_object_lock_mode": "governance"},
            {"object_lock_mode": "compliance"},
            Reason.OBJECT_LOCK_MODE,
        ),
        ({"audit_s3_object_lock_days": 1}, {"object_lock_days": 30}, Reason.OBJECT_LOCK_RETENTION),
        (
            {"audit_s3_object_lock_mode": None, "audit_s3_object_lock_days": None},
            {"object_lock_mode": "governance", "object_lock_days": 1},
            Reason.OBJECT_LOCK_MISSING,
        ),
    ],
)
def test_lock_policy_violations_name_the_key_and_found_vs_expected(
    open_trail, bucket: str, seaweed, written_as, expected, reason
) -> None:
    # Events dated now: retention is counted from the later of the event and the wall clock.
    trail = open_trail(Clock(datetime.now(UTC)), **written_as)
    trail.record_event("e", {})
    trail.record_event("e", {})
    failures = failures_of(bucket, **expected)
    keys = set(all_keys(seaweed, bucket))
    assert {f.reason for f in failures} == {reason}
    assert {f.location for f in failures} == keys
    assert all("expected" in f.message and "found" in f.message for f in failures)


def test_a_segment_that_bypasses_the_claim_on_the_previous_day_is_reported(
    written, bucket: str, seaweed: SeaweedServer
) -> None:
    """Valid records for the next seq, put straight into a later day: the chain links, but
    the segment skipped the claim key every writer contends on (and could have forked)."""
    from mcp_bridge.audit.sequencing import ChainTail, PendingEvent, seal_batch

    last = written[-1]
    tail = ChainTail(last["seq"], last["hash"], last["timestamp"])
    records = seal_batch(
        tail, [PendingEvent.create("e", {"n": 6})], datetime(2025, 10, 25, 1, tzinfo=UTC)
    )
    key = segment_key("audit", date(2025, 10, 25), records[0].seq)
    retain = datetime.now(UTC) + timedelta(days=2)  # S3 refuses a retain-until in the past
    seaweed.client().put_object(
        Bucket=bucket,
        Key=key,
        Body=b"".join(r.line for r in records),
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=retain,
    )
    (failure,) = failures_of(bucket)
    assert failure.reason is Reason.MISROUTED_SEGMENT
    assert failure.location == key
    assert segment_key("audit", date(2025, 10, 24), 6) in failure.related
