"""``verify --vkey`` on SeaweedFS: the issue's tamper cases against an S3 log.

The log is written by the real S3 store; checkpoints and tiles are published over it into the
Object-Locked ``prefix/_checkpoints`` and ``prefix/_tiles`` (``tests/audit/checkpoints.publish``,
what the writer does); then an attacker with admin rights (governance bypass) damages it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit import Reason, verify_audit_trail
from mcp_bridge.audit.checkpoint_check import CheckpointOptions
from mcp_bridge.audit.checkpoint_store import WriteOnceCheckpoints, checkpoint_name
from mcp_bridge.audit.results import VerificationResult
from mcp_bridge.audit.storage.s3.checkpoints import s3_checkpoints
from mcp_bridge.audit.storage.s3.client import WritePolicy, connect
from mcp_bridge.audit.storage.s3.layout import GENESIS_DAY, segment_key

from ..audit.checkpoints import OTHER_SIGNER, VKEY, publish, reseal_from
from ..conftest import run_module
from .conftest import FAST, Clock
from .seaweed import SeaweedServer

LATER = datetime(2025, 10, 24, 13, 0, tzinfo=UTC)
POLICY = WritePolicy("governance", 1, None)


def store_at(bucket: str, prefix: str = "audit") -> WriteOnceCheckpoints:
    return s3_checkpoints(connect(FAST), bucket, prefix, POLICY)


def verify(bucket: str, **options: Any) -> VerificationResult:
    return verify_audit_trail(
        f"s3://{bucket}/audit", checkpoints=CheckpointOptions(VKEY, now=LATER, **options)
    )


def reasons(result: VerificationResult) -> list[Reason]:
    return [failure.reason for failure in result.failures]


@pytest.fixture
def written(open_trail, bucket: str, clock: Clock) -> list[dict[str, Any]]:
    """12 records in several segments, checkpoints at 4, 8 and 12 records."""
    trail = open_trail(clock)
    records = [trail.record_event("e", {"n": n}) for n in range(12)]
    trail.close()
    publish(store_at(bucket), [r["hash"] for r in records], [4, 8, 12])
    return records


def _segments(seaweed: SeaweedServer, bucket: str) -> list[str]:
    genesis = segment_key("audit", GENESIS_DAY, 0)
    listed = seaweed.client().list_objects_v2(Bucket=bucket, Prefix="audit/2")
    return sorted(i["Key"] for i in listed.get("Contents", []) if i["Key"] != genesis)


def _destroy(seaweed: SeaweedServer, bucket: str, key: str) -> None:
    """Every version of ``key``, removed with governance bypass (an admin gone rogue)."""
    client = seaweed.client()
    for version in client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []):
        if version["Key"] == key:
            client.delete_object(
                Bucket=bucket,
                Key=key,
                VersionId=version["VersionId"],
                BypassGovernanceRetention=True,
            )


def test_an_intact_s3_log_verifies_and_its_checkpoint_objects_are_not_unexpected(
    written, bucket: str
) -> None:
    result = verify(bucket)
    assert result.ok, result.render_text()
    assert result.stats["checkpoints"]["checked"] == 3
    assert result.stats["checkpoints"]["newest"]["where"] == (
        f"s3://{bucket}/audit/{checkpoint_name(12)}"
    )


def test_newest_segments_removed_with_governance_bypass(
    written, bucket: str, seaweed: SeaweedServer
) -> None:
    segments = _segments(seaweed, bucket)
    _destroy(seaweed, bucket, segments[-1])
    result = verify(bucket)
    assert Reason.LOG_TRUNCATED in reasons(result)
    failure = result.failures[reasons(result).index(Reason.LOG_TRUNCATED)]
    assert failure.location == f"s3://{bucket}/audit/{checkpoint_name(12)}"


def test_forged_records_appended_after_the_newest_checkpoint(
    written, open_trail, bucket: str, clock: Clock
) -> None:
    trail = open_trail(clock)  # a writer without the signing key
    trail.record_event("forged", {"n": 99})
    trail.close()
    fresh = verify(bucket, grace_seconds=10**9)
    assert fresh.ok and fresh.stats["checkpoints"]["uncovered"]["count"] == 1
    late = verify(bucket)
    assert reasons(late) == [Reason.UNCOVERED_RECORDS]
    assert late.failures[0].seq == 12


def test_checkpoints_of_another_history(open_trail, bucket: str, clock: Clock) -> None:
    """The log recomputed with new hashes: the signed checkpoints no longer match it."""
    trail = open_trail(clock)
    records = [trail.record_event("e", {"n": n}) for n in range(8)]
    trail.close()
    other = [f"{n:064x}" for n in range(8)]
    publish(store_at(bucket), other, [4, 8])
    result = verify(bucket)
    assert reasons(result) == [Reason.CHECKPOINT_MISMATCH] * 2
    assert [f.seq for f in result.failures] == [3, 7]
    assert records[7]["hash"][:16] in result.failures[1].message


def test_a_checkpoint_replaced_by_one_signed_with_another_key(
    written, bucket: str, seaweed: SeaweedServer
) -> None:
    key = f"audit/{checkpoint_name(12)}"
    forged = store_at(bucket, "forged")
    publish(forged, [r["hash"] for r in written], [12], signer=OTHER_SIGNER)
    body = forged.get_checkpoint(12)
    assert body is not None
    seaweed.client().put_object(Bucket=bucket, Key=key, Body=body.note)  # a new version
    result = verify(bucket)
    assert reasons(result)[0] == Reason.CHECKPOINT_SIGNATURE
    assert result.failures[0].location == f"s3://{bucket}/{key}"


def test_a_checkpoint_deleted_while_the_mirror_keeps_it(
    written, bucket: str, seaweed: SeaweedServer
) -> None:
    mirror = store_at(bucket, "mirror")
    for size in (4, 8, 12):
        kept = store_at(bucket).get_checkpoint(size)
        assert kept is not None
        mirror.put_checkpoint(size, kept.note, "2025-10-24T12:00:00.000000Z", "o")
    _destroy(seaweed, bucket, f"audit/{checkpoint_name(12)}")
    _destroy(seaweed, bucket, _segments(seaweed, bucket)[-1])
    result = verify(bucket, mirror=f"s3://{bucket}/mirror")
    assert reasons(result)[:2] == [Reason.CHECKPOINT_DELETED, Reason.LOG_TRUNCATED]
    assert result.failures[0].related == (f"s3://{bucket}/mirror/{checkpoint_name(12)}",)


def test_prove_and_verify_proof_on_s3(
    written, bucket: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store = f"s3://{bucket}/audit"
    out = tmp_path / "p.tlog-proof"
    made = run_module(
        "mcp_bridge.audit", "prove", "--seq", "6", "--store", store, "--out", str(out), env=cli_env
    )
    assert made.returncode == 0, made.stderr
    checked = run_module("mcp_bridge.audit", "verify-proof", str(out), "--vkey", VKEY, env=cli_env)
    assert checked.returncode == 0, checked.stderr
    assert f"eventId {written[6]['eventId']}" in checked.stdout
    by_id = run_module(
        "mcp_bridge.audit", "prove", written[2]["eventId"], "--store", store, env=cli_env
    )
    assert by_id.returncode == 0 and "\nindex 2\n" in by_id.stdout


def test_consistency_on_s3_derives_its_level0_tiles_from_the_segments(
    written, bucket: str, seaweed: SeaweedServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """12 records: no tile is stored, the proof from 4 to 12 comes from the segments; one
    of them removed, the record it held is named."""
    saved = tmp_path / "cp4"
    kept = store_at(bucket).get_checkpoint(4)
    assert kept is not None
    saved.write_bytes(kept.note)
    store = f"s3://{bucket}/audit"
    args = ["consistency", str(saved), "--store", store, "--vkey", VKEY, "--json"]
    done = run_module("mcp_bridge.audit", *args, env=cli_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["newSize"] == 12
    segments = _segments(seaweed, bucket)
    gone = segments[len(segments) // 2]
    _destroy(seaweed, bucket, gone)
    failed = run_module("mcp_bridge.audit", *args, env=cli_env)
    assert failed.returncode == 1
    message = json.loads(failed.stdout)["message"]
    assert "cannot be derived: record seq" in message and "is missing" in message


def _rewrite_from(seaweed: SeaweedServer, bucket: str, first: int) -> None:
    """Records from seq ``first`` on get another payload and a recomputed chain; their
    segments are replaced (every version removed with governance bypass, then put again with
    a lock): the chain verifies, only the checkpoints' roots can tell."""
    client = seaweed.client()
    previous = "0" * 64
    for key in _segments(seaweed, bucket):
        lines = client.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines(True)
        rewritten, previous = reseal_from(lines, first, previous)
        changed = rewritten != lines
        if changed:
            _destroy(seaweed, bucket, key)
            client.put_object(
                Bucket=bucket,
                Key=key,
                Body=b"".join(rewritten),
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
            )


def test_records_rewritten_with_a_recomputed_chain_after_their_checkpoints(
    written, bucket: str, seaweed: SeaweedServer
) -> None:
    _rewrite_from(seaweed, bucket, 5)
    assert verify_audit_trail(f"s3://{bucket}/audit").ok  # the chain alone cannot tell
    result = verify(bucket)
    assert reasons(result) == [Reason.CHECKPOINT_MISMATCH] * 2
    assert [f.seq for f in result.failures] == [7, 11]
    assert result.failures[0].location == f"s3://{bucket}/audit/{checkpoint_name(8)}"
    assert "its first 8 records" in result.failures[0].message
    assert result.stats["checkpoints"]["recomputed"] == 1  # checkpoint 4 still matches


def test_a_checkpoint_whose_root_the_records_do_not_give(written, bucket: str) -> None:
    publish(store_at(bucket), [f"{n:064x}" for n in range(10)], [10])
    result = verify(bucket)
    assert Reason.CHECKPOINT_MISMATCH in reasons(result)
    mismatch = result.failures[reasons(result).index(Reason.CHECKPOINT_MISMATCH)]
    assert mismatch.location == f"s3://{bucket}/audit/{checkpoint_name(10)}"
    assert mismatch.seq == 9
    assert Reason.CHECKPOINT_INCONSISTENT in reasons(result)  # 12 matches the records
