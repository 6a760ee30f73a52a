"""Application configuration, read once from the environment (and an optional ``.env``).

``load_config()`` is called by entry points only; everything else receives the ``AppConfig`` it
needs as an argument. Variable names are the runbook's (``AUDIT_*``); field names follow the
original ``mcp_bridge`` (``audit_enabled``, ``audit_storage_backend``, …).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .config_error import ConfigError

logger = logging.getLogger(__name__)

_BOOL_WORDS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


#: The scheduled verification looks back at most this many UTC days (about ten years).
MAX_LOOKBACK_DAYS = 3660


class AppConfig(BaseSettings):
    """Every setting of mcp-bridge's audit trail; one field per environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    environment: str = "development"
    audit_enabled: bool = True
    audit_storage_backend: Literal["local", "s3"] = "local"
    audit_storage_path: Path = Path("var/audit")
    audit_s3_bucket: str | None = None
    audit_s3_prefix: str = "audit"
    audit_s3_region: str | None = None
    audit_s3_endpoint_url: str | None = None
    audit_s3_object_lock_mode: Literal["governance", "compliance"] | None = None
    audit_s3_object_lock_days: int | None = None
    audit_s3_kms_key_id: str | None = None
    audit_s3_segment_max_bytes: int = 4 * 1024 * 1024
    audit_s3_segment_max_delay_ms: int = 50
    audit_spool_path: Path = Path("var/audit-spool")
    audit_s3_ack: Literal["bucket", "spool"] = "bucket"
    audit_s3_ship_interval_ms: int = 200
    audit_verify_lookback_days: int = 1
    audit_verify_report_dir: Path = Path("var/audit-reports")
    audit_signing_key: str | None = None
    audit_checkpoint_origin: str | None = None
    audit_checkpoint_interval_seconds: float = 10.0
    audit_checkpoint_heartbeat_seconds: float = 3600.0
    audit_checkpoint_grace_seconds: float = 300.0
    audit_checkpoint_mirror: str | None = None
    audit_verify_key: str | None = None
    audit_ops_records_path: Path = Path("var/audit-ops")
    audit_witnesses: str | None = None
    audit_tsa_url: str | None = None
    audit_tsa_certs: Path | None = None
    audit_tsa_every: int = 1
    audit_verify_witnesses: str | None = None
    audit_verify_witness_quorum: int | None = None
    audit_verify_witness_max_skew_seconds: float = 3600.0
    audit_verify_timestamp_required: bool = False

    @field_validator("audit_enabled", "audit_verify_timestamp_required", mode="before")
    @classmethod
    def _strict_bool(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if word not in _BOOL_WORDS:
                raise ValueError("must be one of true/false (also 1/0, yes/no, on/off)")
            return _BOOL_WORDS[word]
        return value

    @field_validator(
        "audit_storage_backend", "audit_s3_object_lock_mode", "audit_s3_ack", mode="before"
    )
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return value or None
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "audit_s3_bucket",
        "audit_s3_region",
        "audit_s3_kms_key_id",
        "audit_signing_key",
        "audit_checkpoint_origin",
        "audit_checkpoint_mirror",
        "audit_verify_key",
        "audit_witnesses",
        "audit_tsa_url",
        "audit_tsa_certs",
        "audit_verify_witnesses",
        "audit_verify_witness_quorum",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("audit_verify_lookback_days")
    @classmethod
    def _lookback_range(cls, value: int) -> int:
        if not 1 <= value <= MAX_LOOKBACK_DAYS:
            raise ValueError(f"must be between 1 and {MAX_LOOKBACK_DAYS} days")
        return value

    @field_validator(
        "audit_s3_object_lock_days",
        "audit_s3_segment_max_bytes",
        "audit_s3_segment_max_delay_ms",
        "audit_s3_ship_interval_ms",
        "audit_tsa_every",
        "audit_verify_witness_quorum",
    )
    @classmethod
    def _at_least_one(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be ≥ 1")
        return value

    @field_validator(
        "audit_checkpoint_interval_seconds",
        "audit_checkpoint_heartbeat_seconds",
        "audit_checkpoint_grace_seconds",
        "audit_verify_witness_max_skew_seconds",
    )
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if not value > 0 or value == float("inf"):
            raise ValueError("must be a number of seconds > 0")
        return value

    @field_validator("audit_checkpoint_origin")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is not None and origin_problem(value):
            raise ValueError(origin_problem(value))
        return value

    @field_validator("audit_checkpoint_mirror")
    @classmethod
    def _mirror(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("s3://") and not value[5:].split("/")[0]:
            raise ValueError("must be a directory or s3://BUCKET[/PREFIX] (the bucket is missing)")
        return value

    @field_validator("audit_ops_records_path", mode="before")
    @classmethod
    def _non_empty_path(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must name a directory (default var/audit-ops)")
        return value

    @field_validator("audit_witnesses")
    @classmethod
    def _witnesses(cls, value: str | None) -> str | None:
        if value is not None:
            from .audit.witness.endpoints import parse_witnesses

            if not parse_witnesses(value):
                raise ValueError("lists no witness ('<URL> <witness key>', comma-separated)")
        return value

    @field_validator("audit_verify_witnesses")
    @classmethod
    def _verify_witnesses(cls, value: str | None) -> str | None:
        if value is not None:
            from .audit.witness.endpoints import parse_witness_keys

            if not parse_witness_keys([value]):
                raise ValueError("lists no witness key")
        return value

    @field_validator("audit_tsa_url")
    @classmethod
    def _tsa_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be the TSA's http(s):// URL")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> AppConfig:
        problems = cross_field_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def checkpoints_enabled(self) -> bool:
        """Signed checkpoints are published when the trail is on and a signing key is set."""
        return self.audit_enabled and self.audit_signing_key is not None

    @property
    def unsigned_in_production(self) -> bool:
        """Production with the trail on but no signing key: preflight fails, the bridge warns."""
        return self.is_production and self.audit_enabled and self.audit_signing_key is None

    @property
    def checkpoint_origin(self) -> str:
        """``AUDIT_CHECKPOINT_ORIGIN``, else one derived from where the log is stored:
        ``mcp-bridge-audit.s3/<bucket>/<prefix>`` or ``mcp-bridge-audit.local<absolute path>``."""
        if self.audit_checkpoint_origin is not None:
            return self.audit_checkpoint_origin
        if self.audit_storage_backend == "s3":
            prefix = self.audit_s3_prefix.strip("/")
            return f"mcp-bridge-audit.s3/{self.audit_s3_bucket}" + (f"/{prefix}" if prefix else "")
        return "mcp-bridge-audit.local" + os.path.abspath(self.audit_storage_path.expanduser())


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` cannot be a C2SP checkpoint origin line, or ``None`` if it can."""
    if not origin or any(c.isspace() or c == "+" or not c.isprintable() for c in origin):
        return (
            "must be non-empty, without spaces or '+' "
            "(a schema-less URL, e.g. audit.example.com/bridge)"
        )
    return None


def cross_field_problems(config: AppConfig) -> list[str]:
    """Rules that involve more than one variable, each as a message naming the variables."""
    problems: list[str] = []
    if config.audit_storage_backend == "s3" and not config.audit_s3_bucket:
        problems.append("AUDIT_S3_BUCKET is required when AUDIT_STORAGE_BACKEND=s3")
    mode, days = config.audit_s3_object_lock_mode, config.audit_s3_object_lock_days
    if mode and days is None:
        problems.append(
            f"AUDIT_S3_OBJECT_LOCK_DAYS is required when AUDIT_S3_OBJECT_LOCK_MODE={mode} "
            "(a whole number of days ≥ 1)"
        )
    if days is not None and not mode:
        problems.append(
            f"AUDIT_S3_OBJECT_LOCK_MODE is required when AUDIT_S3_OBJECT_LOCK_DAYS={days} "
            "(allowed: governance, compliance)"
        )
    if config.audit_checkpoint_heartbeat_seconds < config.audit_checkpoint_interval_seconds:
        problems.append(
            "AUDIT_CHECKPOINT_HEARTBEAT_SECONDS="
            f"{config.audit_checkpoint_heartbeat_seconds:g} must not be shorter than "
            f"AUDIT_CHECKPOINT_INTERVAL_SECONDS={config.audit_checkpoint_interval_seconds:g}"
        )
    problems.extend(_witness_problems(config))
    if config.audit_checkpoint_origin is None and config.checkpoints_enabled:
        derived = config.checkpoint_origin
        if origin_problem(derived):
            problems.append(
                f"the checkpoint origin derived from the store location ({derived!r}) contains "
                "spaces or '+': set AUDIT_CHECKPOINT_ORIGIN (e.g. audit.example.com/bridge)"
            )
    if config.audit_storage_backend == "local" and _inside(
        config.audit_ops_records_path, config.audit_storage_path
    ):
        problems.append(
            f"AUDIT_OPS_RECORDS_PATH={config.audit_ops_records_path} is inside "
            f"AUDIT_STORAGE_PATH={config.audit_storage_path}: ops records must live outside "
            "the audit store (default var/audit-ops)"
        )
    return problems


def _witness_problems(config: AppConfig) -> list[str]:
    problems: list[str] = []
    quorum = config.audit_verify_witness_quorum
    if quorum is not None and config.audit_verify_witnesses is None:
        problems.append(
            f"AUDIT_VERIFY_WITNESS_QUORUM={quorum} needs AUDIT_VERIFY_WITNESSES (witness keys)"
        )
    elif quorum is not None and config.audit_verify_witnesses is not None:
        keys = len(config.audit_verify_witnesses.replace(",", " ").split())
        if quorum > keys:
            problems.append(
                f"AUDIT_VERIFY_WITNESS_QUORUM={quorum} is more than the {keys} key(s) in "
                "AUDIT_VERIFY_WITNESSES"
            )
    if config.audit_verify_timestamp_required and config.audit_tsa_certs is None:
        problems.append(
            "AUDIT_VERIFY_TIMESTAMP_REQUIRED=true needs AUDIT_TSA_CERTS (the TSA's certificates)"
        )
    return problems


#: Settings whose values are secrets: never echoed in error messages.
_SECRET = {"audit_signing_key"}


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it (compared as absolute paths, not resolved)."""
    absolute, base = path.expanduser().absolute(), root.expanduser().absolute()
    return absolute == base or base in absolute.parents


_ALLOWED = {
    "audit_verify_lookback_days": f"1..{MAX_LOOKBACK_DAYS}",
    "audit_storage_backend": "local, s3",
    "audit_s3_object_lock_mode": "governance, compliance",
    "audit_s3_ack": "bucket, spool",
    "audit_enabled": "true, false",
    "audit_verify_timestamp_required": "true, false",
}


def _describe(error: Any) -> str:
    """One line naming the variable, the value given and what is allowed."""
    loc = [str(part) for part in error.get("loc", ()) if part]
    if not loc:
        return str(error.get("msg", "")).removeprefix("Value error, ")
    field = loc[0]
    given = "<redacted>" if field in _SECRET else error.get("input")
    allowed = _ALLOWED.get(field)
    reason = str(error.get("msg", "")).removeprefix("Value error, ")
    text = f"{field.upper()}={given!s} is invalid: {reason}"
    return f"{text} (allowed: {allowed})" if allowed and "allowed" not in reason else text


def load_config(**overrides: Any) -> AppConfig:
    """Build the configuration from the environment; raise :class:`ConfigError` if invalid.

    In production with the audit trail disabled a loud warning is logged: the runbook allows it
    only as a temporary freeze of mutating operations.
    """
    try:
        config = AppConfig(**overrides)
    except ValidationError as exc:
        problems: list[str] = []
        for error in exc.errors():
            for line in _describe(error).split("; "):
                problems.append(line)
        raise ConfigError(problems) from None
    if config.is_production and not config.audit_enabled:
        logger.warning(
            "AUDIT_ENABLED=false in ENVIRONMENT=production: the audit trail is OFF and the "
            "bridge refuses every mutating operation until it is re-enabled"
        )
    return config


__all__ = ["AppConfig", "ConfigError", "cross_field_problems", "load_config"]
