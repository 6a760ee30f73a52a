"""Settings only the gateway reads (``HOST``, ``PORT``, ``AUTH_*``, ``AUDIT_CAPTURE``, …).

The audit trail's own settings stay in :class:`mcp_bridge.config.AppConfig`; this class is built
once by the entry point and passed down, like ``AppConfig``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcp_bridge.config import AppConfig, ConfigError

from .outage import DEFAULT_BUFFER_RECORDS

CaptureMode = Literal["digest", "redacted", "full"]

_ALLOWED = {
    "audit_capture": "digest, redacted, full",
    "port": "1-65535",
    "bridge_max_body_bytes": "a whole number of bytes ≥ 1024",
    "bridge_outage_buffer_records": "a whole number of records ≥ 1",
    "bridge_upstream_timeout_seconds": "seconds > 0",
    "bridge_upstream_start_wait_seconds": "seconds ≥ 0",
    "auth_clock_skew_seconds": "0-300 seconds",
    "bridge_access_log": "true or false",
    "bridge_metrics": "true or false",
    "bridge_direct_calls": "true or false",
    "otel_traces_exporter": "otlp, none",
    "otel_exporter_otlp_protocol": "http/protobuf",
    "otel_exporter_otlp_traces_protocol": "http/protobuf",
    "otel_sdk_disabled": "true or false",
}


class BridgeSettings(BaseSettings):
    """One field per environment variable of the gateway; see docs/mcp-bridge/bridge.md."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    bridge_config: Path = Path("bridge.json")
    bridge_max_body_bytes: int = Field(1024 * 1024, ge=1024)
    bridge_upstream_timeout_seconds: float = Field(120.0, gt=0)
    bridge_outage_buffer_records: int = Field(default=DEFAULT_BUFFER_RECORDS, ge=1)
    bridge_upstream_start_wait_seconds: float = Field(10.0, ge=0)
    bridge_access_log: bool = False
    auth_jwks_url: str | None = None
    auth_issuer_url: str | None = None
    auth_audience: str | None = None
    auth_jwks_cache_seconds: int = 300
    auth_dev_secret: SecretStr | None = None
    auth_api_keys_file: Path | None = None
    auth_roles_claim: str = "roles"
    auth_resource_url: str | None = None
    auth_clock_skew_seconds: int = Field(30, ge=0, le=300)
    audit_digest_key: SecretStr | None = None
    audit_capture: CaptureMode = "redacted"
    bridge_metrics: bool = True
    bridge_direct_calls: bool = True
    """Answer plain tool calls on established sessions without the SDK's session machinery
    (``direct.py``); ``false`` sends every request through the SDK path."""
    otel_sdk_disabled: bool = False
    otel_traces_exporter: Literal["otlp", "none"] | None = None
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_exporter_otlp_protocol: Literal["http/protobuf"] | None = None
    otel_exporter_otlp_traces_protocol: Literal["http/protobuf"] | None = None

    @field_validator(
        "audit_capture",
        "otel_traces_exporter",
        "otel_exporter_otlp_protocol",
        "otel_exporter_otlp_traces_protocol",
        mode="before",
    )
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "auth_jwks_url",
        "auth_issuer_url",
        "auth_audience",
        "auth_resource_url",
        "auth_dev_secret",
        "auth_api_keys_file",
        "audit_digest_key",
        "otel_traces_exporter",
        "otel_exporter_otlp_endpoint",
        "otel_exporter_otlp_traces_endpoint",
        "otel_exporter_otlp_protocol",
        "otel_exporter_otlp_traces_protocol",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def auth_configured(self) -> bool:
        return bool(self.auth_jwks_url or self.auth_dev_secret or self.auth_api_keys_file)


def _describe(error: Any) -> str:
    """One line naming the variable, the value given and what is allowed."""
    loc = [str(part) for part in error.get("loc", ()) if part]
    field = loc[0] if loc else "?"
    reason = str(error.get("msg", "")).removeprefix("Value error, ")
    text = f"{field.upper()}={error.get('input')!s} is invalid: {reason}"
    allowed = _ALLOWED.get(field)
    return f"{text} (allowed: {allowed})" if allowed else text


def load_bridge_settings(**overrides: Any) -> BridgeSettings:
    """Build the gateway settings from the environment; raise :class:`ConfigError` if invalid."""
    try:
        return BridgeSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()]) from None


def startup_problems(settings: BridgeSettings, config: AppConfig) -> list[str]:
    """Combinations the gateway refuses to start with, each as a line naming the variables."""
    problems: list[str] = []
    if settings.auth_dev_secret is not None and config.is_production:
        problems.append(
            "AUTH_DEV_SECRET is set in ENVIRONMENT=production: HS256 development tokens are "
            "refused in production (use AUTH_JWKS_URL or AUTH_API_KEYS_FILE)"
        )
    if settings.auth_jwks_url and not (settings.auth_issuer_url and settings.auth_audience):
        problems.append("AUTH_JWKS_URL needs AUTH_ISSUER_URL and AUTH_AUDIENCE")
    if settings.audit_digest_key is None and config.is_production:
        problems.append("AUDIT_DIGEST_KEY is required in ENVIRONMENT=production")
    if not settings.auth_configured and not is_loopback(settings.host):
        problems.append(
            f"HOST={settings.host} is not a loopback address and no authentication is configured "
            "(set AUTH_JWKS_URL, AUTH_API_KEYS_FILE or, outside production, AUTH_DEV_SECRET)"
        )
    return problems


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the gateway reachable from this machine only."""
    return host in {"localhost", "::1"} or host.startswith("127.")


__all__ = [
    "BridgeSettings",
    "CaptureMode",
    "is_loopback",
    "load_bridge_settings",
    "startup_problems",
]
