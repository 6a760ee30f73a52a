"""SSE-KMS on SeaweedFS (key rotation, required key) and the runbook's verify command line."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta

from mcp_bridge.audit import Reason, verify_audit_trail

from .conftest import Clock
from .seaweed import KMS_ALIAS, SeaweedServer

RUNBOOK_VERIFY = (
    "python -m mcp_bridge.audit.verify s3://$AUDIT_S3_BUCKET/$AUDIT_S3_PREFIX \\\n"
    "  --object-lock-mode $AUDIT_S3_OBJECT_LOCK_MODE \\\n"
    "  --object-lock-days $AUDIT_S3_OBJECT_LOCK_DAYS \\\n"
    "  --start 2025/10/24 --end 2025/10/25"
)


def test_objects_under_different_keys_verify_together_and_are_counted(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer
) -> None:
    plain = open_trail(clock)
    plain.record_event("e", {"key": "none"})
    plain.close()
    clock.now += timedelta(days=1)
    rotated = open_trail(clock, audit_s3_kms_key_id=KMS_ALIAS)
    for n in range(3):
        rotated.record_event("e", {"n": n})

    newest = seaweed.client().list_objects_v2(Bucket=bucket, Prefix="audit/2025/10/25/")
    head = seaweed.client().get_object(Bucket=bucket, Key=newest["Contents"][-1]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    key_id = head["SSEKMSKeyId"]

    url = f"s3://{bucket}/audit"
    result = verify_audit_trail(url, kms_key_id=key_id, kms_required_since=date(2025, 10, 25))
    assert result.ok, result.render_text()
    by_key = result.stats["objectsByKmsKeyId"]
    assert set(by_key) == {"none", key_id} and by_key[key_id] >= 2

    strict = verify_audit_trail(url, kms_key_id=key_id)
    assert {f.reason for f in strict.failures} == {Reason.KMS_KEY}
    assert any(f.location.startswith("audit/2025/10/24/") for f in strict.failures)
    assert all(key_id in f.message and "found" in f.message for f in strict.failures)


def test_the_runbook_s3_verify_command_line(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env
) -> None:
    trail = open_trail(clock, audit_s3_object_lock_mode="compliance")
    trail.record_event("e", {"day": 24})
    clock.now += timedelta(days=1)
    trail.record_event("e", {"day": 25})
    clock.now += timedelta(days=1)
    trail.record_event("e", {"day": 26})
    env = {
        **cli_env,
        **seaweed.env(),
        "AUDIT_S3_BUCKET": bucket,
        "AUDIT_S3_PREFIX": "audit",
        "AUDIT_S3_OBJECT_LOCK_MODE": "compliance",
        "AUDIT_S3_OBJECT_LOCK_DAYS": "1",
        "PATH": f"{seaweed.python_dir()}:{cli_env.get('PATH', '')}",
    }
    done = subprocess.run(
        ["bash", "-c", RUNBOOK_VERIFY], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 events" in done.stdout

    env["AUDIT_S3_OBJECT_LOCK_MODE"] = "governance"
    done = subprocess.run(
        ["bash", "-c", RUNBOOK_VERIFY], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "object_lock_mode" in done.stdout + done.stderr
    assert "audit/2025/10/24/" in done.stdout + done.stderr


def test_the_runbook_replay_command_without_a_path_verifies_the_configured_bucket(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env
) -> None:
    """Runbook §4: ``python -m mcp_bridge.audit.verify --start ... --end ...`` on an S3
    deployment reads AUDIT_S3_BUCKET/PREFIX and checks the configured Object Lock policy."""
    trail = open_trail(clock, audit_s3_object_lock_mode="compliance")
    trail.record_event("e", {"day": 24})
    clock.now += timedelta(days=1)
    trail.record_event("e", {"day": 25})
    env = {
        **cli_env,
        **seaweed.env(),
        "AUDIT_STORAGE_BACKEND": "s3",
        "AUDIT_S3_BUCKET": bucket,
        "AUDIT_S3_PREFIX": "audit",
        "AUDIT_S3_OBJECT_LOCK_MODE": "compliance",
        "AUDIT_S3_OBJECT_LOCK_DAYS": "1",
        "PATH": f"{seaweed.python_dir()}:{cli_env.get('PATH', '')}",
    }
    command = "python -m mcp_bridge.audit.verify --start 2025/10/24 --end 2025/10/25"
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"2 events in window 2025/10/24..2025/10/25 of s3://{bucket}/audit" in done.stdout

    env["AUDIT_S3_OBJECT_LOCK_MODE"] = "governance"
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "object_lock_mode" in done.stdout
