"""The checklist commands against SeaweedFS: retention-report, kms-report, access-report, drill.

SeaweedFS stores bucket policies and ownership controls (so access-report reads them from the
server) but does not implement the public access block (reported as unreadable, not guessed).
Its local KMS has one key: the two key ids of a window are that key and ``none`` (objects
written before SSE-KMS was switched on); a key that no longer decrypts cannot be produced on it.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mcp_bridge.audit.ops import kms as kms_report
from mcp_bridge.audit.storage.s3 import ops as s3_ops
from mcp_bridge.audit.storage.s3.layout import segment_key

from ..conftest import REPO
from ..ops.helpers import audit
from ..terminal import run_on_a_pty
from .conftest import Clock
from .seaweed import KMS_ALIAS, SeaweedServer

WRITER = "arn:aws:iam::111122223333:role/mcp-bridge-writer"
INCIDENT = "arn:aws:iam::111122223333:role/audit-incident"


@pytest.fixture(autouse=True)
def ops_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUDIT_OPS_RECORDS_PATH", str(tmp_path / "ops-records"))
    for name in ("AUDIT_S3_OBJECT_LOCK_DAYS", "AUDIT_S3_OBJECT_LOCK_MODE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "ops-records"


def test_retention_report_flags_an_object_written_with_too_short_retention(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, capsys
) -> None:
    trail = open_trail(clock, audit_s3_object_lock_days=2)
    for n in range(3):
        trail.record_event("e", {"n": n})
    trail.close()
    url = f"s3://{bucket}/audit"
    args = ["retention-report", url, "--object-lock-days", "2", "--object-lock-mode", "governance"]
    clean = audit(capsys, *args, "--json")
    assert clean.code == 0, clean.out
    assert [row["day"] for row in clean.json["days"]] == ["1970/01/01", "2025/10/24"]
    assert clean.json["days"][1]["modes"] == {"GOVERNANCE": clean.json["days"][1]["objects"]}

    short = segment_key("audit", clock.now.date(), 99)
    seaweed.client().put_object(
        Bucket=bucket,
        Key=short,
        Body=b"",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(hours=12),
    )
    flagged = audit(capsys, *args, "--json", "--expiring-within", "1")
    assert flagged.code == 1
    assert [(v["key"], v["reason"]) for v in flagged.json["violations"]] == [
        (short, "retention_too_short")
    ]
    assert [e["key"] for e in flagged.json["expiring"]] == [short]
    text = audit(capsys, *args)
    assert f"VIOLATION retention_too_short: {short}" in text.out and text.code == 1


# Runs a report with the "long run" threshold lowered so a small window counts as long.
_ON_A_TERMINAL = (
    "import sys; from mcp_bridge.audit import cli_support, commands;"
    "cli_support._PROGRESS_MIN_BYTES = 0; sys.exit(commands.run(sys.argv[1:]))"
)


@pytest.mark.parametrize(
    ("command", "options", "shown"),
    [
        ("retention-report", ["--object-lock-days", "2"], b"reading retention"),
        ("kms-report", [], b"reading KMS headers"),
    ],
)
def test_reports_show_progress_on_a_terminal_only_without_json(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env, command, options, shown
) -> None:
    trail = open_trail(clock, audit_s3_object_lock_days=2)
    for n in range(3):
        trail.record_event("e", {"n": n})
    trail.close()
    args = [command, f"s3://{bucket}/audit", *options]
    env = {**cli_env, **seaweed.env()}
    for as_json in (False, True):
        code, out, terminal = run_on_a_pty(
            [sys.executable, "-c", _ON_A_TERMINAL, *args, *(["--json"] if as_json else [])],
            env,
            REPO,
        )
        assert code == 0, out
        assert (shown in terminal) is not as_json, terminal
        assert out.startswith(b"{") is as_json


def test_retention_report_needs_a_policy_and_an_s3_trail(tmp_path: Path, capsys) -> None:
    assert audit(capsys, "retention-report", "s3://some-bucket/audit").code == 2
    local = audit(capsys, "retention-report", str(tmp_path), "--object-lock-days", "1")
    assert local.code == 2 and "local store has none" in local.err


def test_kms_report_counts_objects_per_key_and_checks_each_key_decrypts(
    open_trail, bucket: str, clock: Clock, capsys
) -> None:
    plain = open_trail(clock)
    plain.record_event("e", {"key": "none"})
    plain.close()
    clock.now += timedelta(days=1)
    rotated = open_trail(clock, audit_s3_kms_key_id=KMS_ALIAS)
    for n in range(3):
        rotated.record_event("e", {"n": n})
    rotated.close()

    done = audit(capsys, "kms-report", f"s3://{bucket}/audit", "--json")
    assert done.code == 0, done.out
    keys = {use["kmsKeyId"]: use for use in done.json["keys"]}
    assert len(keys) == 2 and "none" in keys
    [kms_id] = set(keys) - {"none"}
    assert keys["none"]["firstDay"] == keys["none"]["lastDay"] == "2025/10/24"
    assert keys[kms_id]["firstDay"] == keys[kms_id]["lastDay"] == "2025/10/25"
    assert keys[kms_id]["objects"] >= 1 and keys[kms_id]["latestRetainUntil"]
    assert all(use["decrypts"] for use in keys.values())
    assert keys[kms_id]["probedObject"].startswith("audit/2025/10/25/")


@pytest.fixture
def two_keys(open_trail, bucket: str, clock: Clock) -> str:
    """Day 1 without SSE-KMS (``none``), day 2 under SeaweedFS's one KMS key."""
    plain = open_trail(clock)
    plain.record_event("e", {"key": "none"})
    plain.close()
    clock.now += timedelta(days=1)
    rotated = open_trail(clock, audit_s3_kms_key_id=KMS_ALIAS)
    rotated.record_event("e", {"key": "kms"})
    rotated.close()
    return f"s3://{bucket}/audit"


def test_kms_report_flags_a_key_in_use_that_is_not_expected(two_keys: str, capsys) -> None:
    found = audit(capsys, "kms-report", two_keys, "--json").json
    [kms_id] = [use["kmsKeyId"] for use in found["keys"] if use["kmsKeyId"] != "none"]

    only_kms = audit(capsys, "kms-report", two_keys, "--expect-key-id", kms_id, "--json")
    assert only_kms.code == 1
    assert only_kms.json["unexpectedKeys"] == ["none"], "objects written before SSE-KMS"
    text = audit(capsys, "kms-report", two_keys, "--expect-key-id", "some-other-key")
    assert text.code == 1 and f"FAILED: key(s) in use not expected: {kms_id}, none" in text.out
    both = audit(
        capsys, "kms-report", two_keys, "--expect-key-id", kms_id, "--expect-key-id", "none"
    )
    assert both.code == 0 and "OK: every key in use decrypts" in both.out
    arn = f"arn:aws:kms:us-east-1:111122223333:key/{kms_id}"
    assert kms_report.is_expected(arn, [kms_id]) and not kms_report.is_expected(arn, ["other"])


def test_kms_report_of_a_key_that_no_longer_decrypts_fails(
    two_keys: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SeaweedFS has one local KMS key that always decrypts, so a disabled or deleted key cannot
    be produced: only the GET's answer is replaced (a fault we cannot cause), with the error
    code AWS returns for a disabled key. The listing, HEADs and the other probe are real."""
    real = s3_ops.probe_read

    def disabled(conn, bucket: str, key: str, version: str) -> str | None:
        if s3_ops.head_version(conn, bucket, key, version).kms_key_id:
            return "KMS.DisabledException"
        return real(conn, bucket, key, version)

    monkeypatch.setattr(s3_ops, "probe_read", disabled)
    done = audit(capsys, "kms-report", two_keys, "--json")
    assert done.code == 1
    states = {
        use["kmsKeyId"] == "none": (use["decrypts"], use["error"]) for use in done.json["keys"]
    }
    assert states == {True: (True, None), False: (False, "KMS.DisabledException")}


def test_access_report_flags_delete_object_version_allowed_to_the_writer(
    written_bucket: str, seaweed: SeaweedServer, capsys
) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriterWrites",
                "Effect": "Allow",
                "Principal": {"AWS": [WRITER]},
                "Action": ["s3:PutObject", "s3:DeleteObjectVersion"],
                "Resource": f"arn:aws:s3:::{written_bucket}/audit/*",
            }
        ],
    }
    client = seaweed.client()
    client.put_bucket_policy(Bucket=written_bucket, Policy=json.dumps(policy))
    client.put_bucket_ownership_controls(
        Bucket=written_bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    done = audit(
        capsys,
        "access-report",
        f"s3://{written_bucket}/audit",
        "--incident-principal",
        INCIDENT,
        "--json",
    )
    assert done.code == 1
    report = done.json
    assert report["controls"]["bucketPolicy"]["Statement"][0]["Sid"] == "WriterWrites"
    [grant] = report["grants"]
    assert grant["principals"] == [WRITER]
    assert set(grant["actions"]) == {"s3:PutObject", "s3:DeleteObjectVersion"}
    reasons = [(f["reason"], WRITER in f["message"]) for f in report["findings"]]
    assert ("restricted_action_allowed", True) in reasons
    assert {r for r, _ in reasons} == {"restricted_action_allowed", "restricted_action_not_denied"}
    assert "public access block" in report["unreadable"], "SeaweedFS does not implement it"
    assert "IAM identity policies" in report["cannotSee"]


@pytest.fixture
def written_bucket(open_trail, bucket: str, clock: Clock) -> str:
    trail = open_trail(clock)
    trail.record_event("e", {"n": 0})
    trail.close()
    return bucket


def test_drill_from_a_bucket_leaves_no_scratch_data(
    written, bucket: str, tmp_path: Path, capsys
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = audit(
        capsys, "drill", f"s3://{bucket}/audit", "--days", "2", "--scratch", str(scratch), "--json"
    )
    assert done.code == 0, done.out + done.err
    assert done.json["sample"] == ["2025/10/24", "2025/10/25"]
    assert done.json["verification"]["checkedEvents"] == 8 and done.json["cleanedUp"]
    assert list(scratch.iterdir()) == []


@pytest.fixture
def written(open_trail, clock: Clock) -> None:
    trail = open_trail(clock)
    for n in range(4):
        trail.record_event("e", {"n": n})
    clock.now = clock.now.replace(day=25)
    for n in range(4, 8):
        trail.record_event("e", {"n": n})
    trail.close()
