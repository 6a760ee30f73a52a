"""Every ops test files its ops records in its own directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def ops_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "ops-records"
    for name in ("AUDIT_STORAGE_BACKEND", "AUDIT_STORAGE_PATH", "AUDIT_S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUDIT_OPS_RECORDS_PATH", str(folder))
    return folder
