"""``mcp-bridge check``: everything ``serve`` would refuse, found without serving.

It runs the same loaders ``serve`` runs (settings, startup rules, the upstream file, the API keys
file, the audit store) and adds what ``serve`` would only find out later (an upstream command
that is not on ``PATH``, a JWKS that cannot be fetched), and reports every problem at once.
Exit status: 0 ready, 2 configuration problems, 3 only the audit store is unreachable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import jwt

from mcp_bridge.audit import AuditError, AuditStorageError, open_audit_trail
from mcp_bridge.config import AppConfig, ConfigError, load_config

from .auth import load_api_keys
from .settings import BridgeSettings, load_bridge_settings, startup_problems
from .tracing import traces_endpoint
from .upstream_config import UpstreamSpec, load_upstreams

_T = TypeVar("_T")


@dataclass
class Findings:
    """Problems found so far: configuration (exit 2) and audit storage (exit 3)."""

    problems: list[str] = field(default_factory=list)
    storage: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 2 if self.problems else 3 if self.storage else 0

    def attempt(self, what: str, load: Callable[..., _T], *args: Any, **kwargs: Any) -> _T | None:
        """Run a loader; its ConfigError lines become problems, success a passed check."""
        try:
            value = load(*args, **kwargs)
        except ConfigError as exc:
            self.problems.extend(exc.problems)
            return None
        self.passed.append(what)
        return value

    def render(self) -> str:
        lines = [f"✓ {line}" for line in self.passed]
        lines += [f"✗ {line}" for line in self.problems + self.storage]
        verdict = {0: "ready to serve", 2: "configuration problems", 3: "audit store unreachable"}
        lines.append(f"mcp-bridge check: {verdict[self.exit_code]}")
        return "\n".join(lines)


def check(overrides: dict[str, Any]) -> Findings:
    """Every problem ``serve`` (with the same flags and environment) would stop on, and more."""
    found = Findings()
    settings = found.attempt("gateway settings", load_bridge_settings, **overrides)
    config = found.attempt("audit settings", load_config)
    if settings is not None and config is not None:
        rules = startup_problems(settings, config)
        found.problems.extend(rules)
        if not rules:
            found.passed.append("startup rules (production, authentication, HOST)")
    if settings is not None:
        upstreams = found.attempt(
            f"upstream file {settings.bridge_config}", load_upstreams, settings.bridge_config
        )
        for spec in upstreams or []:
            _check_upstream(spec, found)
        _check_auth(settings, found)
        found.passed += _telemetry(settings)
    if config is not None:
        _check_store(config, found)
    return found


def _telemetry(settings: BridgeSettings) -> list[str]:
    """What ``serve`` will expose for monitoring (nothing here can fail: a collector that is
    down only costs the spans; docs/mcp-bridge/observability.md)."""
    metrics = (
        "metrics at GET /metrics (same authentication as /mcp)"
        if settings.bridge_metrics
        else "metrics off (BRIDGE_METRICS=false)"
    )
    endpoint = traces_endpoint(settings)
    tracing = f"tracing to {endpoint} (OTLP/HTTP)" if endpoint else "tracing off (no OTEL_* asks)"
    return [metrics, tracing]


def _check_upstream(spec: UpstreamSpec, found: Findings) -> None:
    where = f"mcpServers.{spec.name}"
    if spec.command is not None:
        resolved = _executable(spec.command, spec.cwd)
        if resolved is None:
            found.problems.append(
                f"{where}.command {spec.command!r} is not an executable file nor on PATH"
            )
        else:
            found.passed.append(f"upstream {spec.name}: {resolved}")
        if spec.cwd is not None and not Path(spec.cwd).is_dir():
            found.problems.append(f"{where}.cwd {spec.cwd!r} is not a directory")
        return
    url = urlparse(spec.url or "")
    if url.scheme not in ("http", "https") or not url.netloc:
        found.problems.append(f"{where}.url {spec.url!r} is not an http(s) URL")
    else:
        found.passed.append(f"upstream {spec.name}: {spec.url}")


def _executable(command: str, cwd: str | None) -> str | None:
    if os.sep in command:
        path = Path(cwd or ".") / command
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(command)


def _check_auth(settings: BridgeSettings, found: Findings) -> None:
    if settings.auth_api_keys_file is not None:
        keys = found.attempt(
            f"API keys file {settings.auth_api_keys_file}",
            load_api_keys,
            settings.auth_api_keys_file,
        )
        if keys == []:
            found.problems.append(f"AUTH_API_KEYS_FILE={settings.auth_api_keys_file} has no keys")
    if settings.auth_jwks_url:
        try:
            jwt.PyJWKClient(settings.auth_jwks_url, timeout=10).get_jwk_set()
        except jwt.PyJWKClientError as exc:
            found.problems.append(f"AUTH_JWKS_URL={settings.auth_jwks_url} cannot be used: {exc}")
        else:
            found.passed.append(f"JWKS {settings.auth_jwks_url}")


def _check_store(config: AppConfig, found: Findings) -> None:
    where = (
        f"s3://{config.audit_s3_bucket}/{config.audit_s3_prefix}"
        if config.audit_storage_backend == "s3"
        else str(config.audit_storage_path)
    )
    try:
        open_audit_trail(config).close()
    except AuditStorageError as exc:
        found.storage.append(f"audit store {where}: {exc.render()}")
        return
    except (AuditError, ConfigError) as exc:
        found.problems.append(f"audit store {where}: {exc.render()}")
        return
    path = config.audit_storage_path
    if config.audit_storage_backend == "local" and not os.access(path, os.W_OK):
        found.problems.append(f"AUDIT_STORAGE_PATH={path} is not writable by this user")
        return
    found.passed.append(f"audit store {where} ({config.audit_storage_backend})")


__all__ = ["Findings", "check"]
