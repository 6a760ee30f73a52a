"""``python -m mcp_bridge.audit.preflight`` against real buckets."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from .seaweed import SeaweedServer, make_bucket


@pytest.fixture(autouse=True)
def ops_records(cli_env: dict[str, str], tmp_path: Path) -> Path:
    """Where the preflight files its ops record (it puts a locked canary: a change)."""
    cli_env["AUDIT_OPS_RECORDS_PATH"] = str(tmp_path / "ops-records")
    return tmp_path / "ops-records"


def run_preflight(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_bridge.audit.preflight", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def preflight_env(cli_env, seaweed: SeaweedServer, bucket: str, **extra: str) -> dict[str, str]:
    return {
        **cli_env,
        **seaweed.env(),
        "AUDIT_STORAGE_BACKEND": "s3",
        "AUDIT_S3_BUCKET": bucket,
        "AUDIT_S3_OBJECT_LOCK_MODE": "governance",
        "AUDIT_S3_OBJECT_LOCK_DAYS": "1",
        **extra,
    }


def test_a_ready_bucket_passes(
    cli_env, seaweed: SeaweedServer, bucket: str, ops_records: Path
) -> None:
    done = run_preflight(preflight_env(cli_env, seaweed, bucket))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✗" not in done.stdout
    assert done.stdout.count("✓") == 7
    [record] = ops_records.glob("*-preflight-*.json")
    assert f"ops record: {record}" in done.stderr
    filed = json.loads(record.read_text())
    canary = next(c for c in filed["result"]["checks"] if c["name"].startswith("a canary"))
    assert canary["detail"].startswith(f"s3://{bucket}/audit-preflight/canary-")
    seaweed.client().head_object(Bucket=bucket, Key=canary["detail"].split("/", 3)[3])


def test_a_bucket_without_object_lock_fails_with_a_hint(cli_env, seaweed: SeaweedServer) -> None:
    plain = f"plain-{secrets.token_hex(6)}"
    make_bucket(seaweed, plain, object_lock=False)
    done = run_preflight(preflight_env(cli_env, seaweed, plain))
    assert done.returncode == 1
    lock_line = next(line for line in done.stdout.splitlines() if "Object Lock is enabled" in line)
    assert lock_line.startswith("✗")
    assert "fix: Object Lock can only be enabled at bucket creation" in done.stdout


def test_json_gives_every_check_and_the_failing_ones_hint(
    cli_env, seaweed: SeaweedServer, ops_records: Path
) -> None:
    plain = f"plain-{secrets.token_hex(6)}"
    make_bucket(seaweed, plain, object_lock=False)
    done = run_preflight(preflight_env(cli_env, seaweed, plain), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    lock = next(c for c in report["checks"] if "Object Lock is enabled" in c["name"])
    assert lock["ok"] is False
    assert lock["hint"].startswith("Object Lock can only be enabled at bucket creation")
    assert not ops_records.exists(), "no canary was put: nothing changed, no ops record"


def test_kms_canary(cli_env, seaweed: SeaweedServer, bucket: str) -> None:
    env = preflight_env(cli_env, seaweed, bucket, AUDIT_S3_KMS_KEY_ID="alias/seaweedfs-default")
    done = run_preflight(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accepted with lock and KMS" in done.stdout


def test_config_error_exits_2_and_unreachable_exits_3(cli_env, seaweed, bucket) -> None:
    bad = preflight_env(cli_env, seaweed, bucket, AUDIT_S3_OBJECT_LOCK_DAYS="")
    bad.pop("AUDIT_S3_OBJECT_LOCK_DAYS")
    assert run_preflight(bad).returncode == 2
    down = preflight_env(cli_env, seaweed, bucket, AWS_ENDPOINT_URL="http://127.0.0.1:9")
    down["AWS_MAX_ATTEMPTS"] = "1"
    assert run_preflight(down).returncode == 3


def test_production_without_a_signing_key_fails(
    cli_env, seaweed: SeaweedServer, bucket: str, tmp_path
) -> None:
    done = run_preflight(preflight_env(cli_env, seaweed, bucket, ENVIRONMENT="production"))
    assert done.returncode == 1
    line = next(line for line in done.stdout.splitlines() if "AUDIT_SIGNING_KEY" in line)
    assert line.startswith("✗") and "required in production" in line
    assert "fix: create one with `python -m mcp_bridge.audit keygen" in done.stdout
    key = tmp_path / "signer.key"
    subprocess.run(
        [sys.executable, "-m", "mcp_bridge.audit", "keygen", "--name", "a.example/k", "--out", key],
        env={**cli_env, "AUDIT_OPS_RECORDS_PATH": str(tmp_path / "ops")},
        check=True,
        capture_output=True,
    )
    env = preflight_env(
        cli_env, seaweed, bucket, ENVIRONMENT="production", AUDIT_SIGNING_KEY=str(key)
    )
    done = run_preflight(env)
    assert done.returncode == 0, done.stdout
    assert (
        "✓ checkpoint signing key (AUDIT_SIGNING_KEY): loads; signs as a.example/k+" in done.stdout
    )
