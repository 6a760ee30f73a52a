"""AppConfig: the runbook's variables, and one clear message per bad value."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mcp_bridge.config import AppConfig, ConfigError, load_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("AUDIT_", "ENVIRONMENT")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    config = load_config()
    assert config.audit_enabled is True
    assert config.audit_storage_backend == "local"
    assert config.audit_storage_path == Path("var/audit")
    assert config.audit_verify_lookback_days == 1
    assert config.audit_ops_records_path == Path("var/audit-ops")
    assert config.environment == "development"


def test_runbook_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "AUDIT_ENABLED": "true",
        "AUDIT_STORAGE_BACKEND": "S3",
        "AUDIT_STORAGE_PATH": "/srv/audit",
        "AUDIT_S3_BUCKET": "bucket",
        "AUDIT_S3_PREFIX": "mcp/audit",
        "AUDIT_S3_REGION": "eu-west-1",
        "AUDIT_S3_OBJECT_LOCK_MODE": "COMPLIANCE",
        "AUDIT_S3_OBJECT_LOCK_DAYS": "2555",
        "AUDIT_S3_KMS_KEY_ID": "alias/audit",
        "AUDIT_VERIFY_LOOKBACK_DAYS": "7",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    config = load_config()
    assert config.audit_storage_backend == "s3"
    assert config.audit_s3_object_lock_mode == "compliance"
    assert (config.audit_s3_bucket, config.audit_s3_prefix) == ("bucket", "mcp/audit")
    assert config.audit_s3_object_lock_days == 2555 and config.audit_verify_lookback_days == 7
    assert config.audit_s3_kms_key_id == "alias/audit" and config.audit_s3_region == "eu-west-1"


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AUDIT_VERIFY_LOOKBACK_DAYS=3\n")
    assert load_config().audit_verify_lookback_days == 3


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AUDIT_STORAGE_BACKEND": "ftp"}, "AUDIT_STORAGE_BACKEND=ftp is invalid"),
        ({"AUDIT_STORAGE_BACKEND": "ftp"}, "allowed: local, s3"),
        ({"AUDIT_STORAGE_BACKEND": "s3"}, "AUDIT_S3_BUCKET is required"),
        (
            {"AUDIT_S3_OBJECT_LOCK_MODE": "governance"},
            "AUDIT_S3_OBJECT_LOCK_DAYS is required when AUDIT_S3_OBJECT_LOCK_MODE=governance",
        ),
        (
            {"AUDIT_S3_OBJECT_LOCK_DAYS": "30"},
            "AUDIT_S3_OBJECT_LOCK_MODE is required when AUDIT_S3_OBJECT_LOCK_DAYS=30",
        ),
        (
            {"AUDIT_S3_OBJECT_LOCK_MODE": "legal"},
            "AUDIT_S3_OBJECT_LOCK_MODE=legal is invalid",
        ),
        (
            {"AUDIT_S3_OBJECT_LOCK_MODE": "governance", "AUDIT_S3_OBJECT_LOCK_DAYS": "0"},
            "AUDIT_S3_OBJECT_LOCK_DAYS=0 is invalid: must be ≥ 1",
        ),
        (
            {"AUDIT_S3_OBJECT_LOCK_MODE": "governance", "AUDIT_S3_OBJECT_LOCK_DAYS": "-5"},
            "AUDIT_S3_OBJECT_LOCK_DAYS=-5 is invalid",
        ),
        ({"AUDIT_VERIFY_LOOKBACK_DAYS": "0"}, "AUDIT_VERIFY_LOOKBACK_DAYS=0 is invalid"),
        ({"AUDIT_ENABLED": "maybe"}, "AUDIT_ENABLED=maybe is invalid"),
        ({"AUDIT_S3_OBJECT_LOCK_DAYS": "ten"}, "AUDIT_S3_OBJECT_LOCK_DAYS=ten is invalid"),
        (
            {"AUDIT_CHECKPOINT_INTERVAL_SECONDS": "0"},
            "AUDIT_CHECKPOINT_INTERVAL_SECONDS=0 is invalid: must be a number of seconds > 0",
        ),
        (
            {"AUDIT_CHECKPOINT_HEARTBEAT_SECONDS": "-1"},
            "AUDIT_CHECKPOINT_HEARTBEAT_SECONDS=-1 is invalid",
        ),
        ({"AUDIT_CHECKPOINT_GRACE_SECONDS": "soon"}, "AUDIT_CHECKPOINT_GRACE_SECONDS=soon"),
        (
            {"AUDIT_CHECKPOINT_INTERVAL_SECONDS": "60", "AUDIT_CHECKPOINT_HEARTBEAT_SECONDS": "30"},
            "AUDIT_CHECKPOINT_HEARTBEAT_SECONDS=30 must not be shorter than "
            "AUDIT_CHECKPOINT_INTERVAL_SECONDS=60",
        ),
        (
            {"AUDIT_CHECKPOINT_ORIGIN": "my log"},
            "AUDIT_CHECKPOINT_ORIGIN=my log is invalid: must be non-empty, without spaces or '+'",
        ),
        ({"AUDIT_CHECKPOINT_ORIGIN": "a+b"}, "AUDIT_CHECKPOINT_ORIGIN=a+b is invalid"),
        ({"AUDIT_CHECKPOINT_MIRROR": "s3://"}, "AUDIT_CHECKPOINT_MIRROR=s3:// is invalid"),
        (
            {"AUDIT_SIGNING_KEY": "/k", "AUDIT_STORAGE_PATH": "/srv/my audit"},
            "set AUDIT_CHECKPOINT_ORIGIN",
        ),
        ({"AUDIT_OPS_RECORDS_PATH": " "}, "AUDIT_OPS_RECORDS_PATH=  is invalid: must name a"),
        (
            {"AUDIT_STORAGE_PATH": "/srv/audit", "AUDIT_OPS_RECORDS_PATH": "/srv/audit/ops"},
            "AUDIT_OPS_RECORDS_PATH=/srv/audit/ops is inside AUDIT_STORAGE_PATH=/srv/audit",
        ),
        ({"AUDIT_WITNESSES": "https://w1"}, "entry 1 must be '<URL> <witness key>'"),
        ({"AUDIT_WITNESSES": "https://w1 w1+00000000+AA=="}, "AUDIT_WITNESSES=https://w1 w1"),
        ({"AUDIT_TSA_URL": "tsa.example.com"}, "AUDIT_TSA_URL=tsa.example.com is invalid"),
        ({"AUDIT_TSA_EVERY": "0"}, "AUDIT_TSA_EVERY=0 is invalid: must be ≥ 1"),
        ({"AUDIT_VERIFY_WITNESS_QUORUM": "2"}, "needs AUDIT_VERIFY_WITNESSES"),
        ({"AUDIT_VERIFY_WITNESSES": "k+1"}, "AUDIT_VERIFY_WITNESSES=k+1 is invalid"),
        ({"AUDIT_VERIFY_WITNESS_MAX_SKEW_SECONDS": "0"}, "MAX_SKEW_SECONDS=0 is invalid"),
        ({"AUDIT_VERIFY_TIMESTAMP_REQUIRED": "true"}, "needs AUDIT_TSA_CERTS"),
        ({"AUDIT_VERIFY_TIMESTAMP_REQUIRED": "perhaps"}, "allowed: true, false"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_STORAGE_BACKEND", "ftp")
    monkeypatch.setenv("AUDIT_ENABLED", "perhaps")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert len(caught.value.problems) == 2


def test_disabled_in_production_is_allowed_but_loud(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "Production")
    monkeypatch.setenv("AUDIT_ENABLED", "false")
    with caplog.at_level(logging.WARNING):
        config = load_config()
    assert config.is_production and not config.audit_enabled
    assert "AUDIT_ENABLED=false in ENVIRONMENT=production" in caplog.text


def test_explicit_values_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_VERIFY_LOOKBACK_DAYS", "5")
    config = load_config(audit_verify_lookback_days=2)
    assert isinstance(config, AppConfig) and config.audit_verify_lookback_days == 2


def test_checkpoint_defaults_and_derived_origin(tmp_path: Path) -> None:
    config = load_config(audit_storage_path=tmp_path / "audit")
    assert not config.checkpoints_enabled and config.audit_signing_key is None
    assert config.audit_checkpoint_interval_seconds == 10
    assert config.audit_checkpoint_heartbeat_seconds == 3600
    assert config.audit_checkpoint_grace_seconds == 300
    assert config.checkpoint_origin == f"mcp-bridge-audit.local{tmp_path / 'audit'}"
    s3 = load_config(audit_storage_backend="s3", audit_s3_bucket="b", audit_s3_prefix="/a/b/")
    assert s3.checkpoint_origin == "mcp-bridge-audit.s3/b/a/b"
    named = load_config(audit_checkpoint_origin="audit.example.com/bridge", audit_signing_key="k")
    assert named.checkpoint_origin == "audit.example.com/bridge" and named.checkpoints_enabled
