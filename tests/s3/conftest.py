"""Fixtures: one SeaweedFS server per session, a fresh Object Lock bucket per test."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.storage.s3.client import ClientOptions
from mcp_bridge.audit.storage.s3.store import open_acknowledging_store
from mcp_bridge.config import AppConfig

from .seaweed import SeaweedServer, make_bucket

#: Short timeouts so an outage is noticed in seconds (production defaults are longer).
FAST = ClientOptions(connect_timeout=1.0, read_timeout=2.0, max_attempts=2)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed"))
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in server.env().items():
            patch.setenv(name, value)
        patch.delenv("AUDIT_S3_ENDPOINT_URL", raising=False)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def bucket(seaweed: SeaweedServer) -> str:
    name = f"audit-{secrets.token_hex(6)}"
    make_bucket(seaweed, name)
    return name


class Clock:
    """A pinned clock that ticks ``step_ms`` per reading (tests choose the day)."""

    def __init__(self, start: datetime, step_ms: int = 1) -> None:
        self.now = start
        self.step = timedelta(milliseconds=step_ms)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 10, 24, 12, 0, tzinfo=UTC))


def s3_config(bucket: str, spool: Path, **overrides: Any) -> AppConfig:
    values: dict[str, Any] = {
        "audit_storage_backend": "s3",
        "audit_s3_bucket": bucket,
        "audit_s3_prefix": "audit",
        "audit_s3_object_lock_mode": "governance",
        "audit_s3_object_lock_days": 1,
        "audit_s3_segment_max_delay_ms": 1,
        "audit_spool_path": spool,
    }
    values.update(overrides)
    return AppConfig(**values)


@pytest.fixture
def open_trail(bucket: str, tmp_path: Path) -> Iterator[Callable[..., AuditTrail]]:
    """Open trails on this test's bucket (closed at teardown); kwargs override config."""
    opened: list[AuditTrail] = []

    def factory(clock: Callable[[], datetime], **overrides: Any) -> AuditTrail:
        options = overrides.pop("options", FAST)
        config = s3_config(bucket, tmp_path / "spool", **overrides)
        trail = AuditTrail(open_acknowledging_store(config, options=options), clock=clock)
        opened.append(trail)
        return trail

    yield factory
    for trail in opened:
        trail.close()
