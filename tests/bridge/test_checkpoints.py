"""The bridge process with checkpoints: a warning in production without a signing key, and a
checkpoint covering the last record (``bridge.stopped``) after a clean stop."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from mcp_bridge.audit import LocalAuditTrail
from mcp_bridge.audit.checkpoint import open_checkpoint
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.bridge.auth import hash_api_key

from ..audit.checkpoint_helpers import SIGNER, write_key
from .conftest import API_KEY, KEY_ID, sample_spec
from .harness import free_port, serve_until_healthy_then_signal

WARNING = "AUDIT_SIGNING_KEY is not set in ENVIRONMENT=production"


def _serve_and_stop(tmp_path: Path, **extra: str) -> str:
    """Start ``mcp-bridge serve`` in production, wait until healthy, SIGTERM it; its stderr."""
    config = tmp_path / "bridge.json"
    library = sample_spec("library")
    config.write_text(
        json.dumps(
            {"mcpServers": {"library": {"command": library.command, "args": list(library.args)}}}
        )
    )
    keys = tmp_path / "api-keys.json"
    entry = {"id": KEY_ID, "sha256": hash_api_key(API_KEY), "subject": "ci", "roles": ["writer"]}
    keys.write_text(json.dumps({"keys": [entry]}))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "AUTH_"))},
        "ENVIRONMENT": "production",
        "BRIDGE_CONFIG": str(config),
        "AUTH_API_KEYS_FILE": str(keys),
        "AUDIT_DIGEST_KEY": "digest-key-for-tests",
        "AUDIT_STORAGE_PATH": str(tmp_path / "audit"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        **extra,
    }
    returncode, stderr = serve_until_healthy_then_signal(env, tmp_path, signal.SIGTERM)
    assert returncode == 0, stderr
    return stderr


def test_production_without_a_signing_key_warns(tmp_path: Path) -> None:
    assert WARNING in _serve_and_stop(tmp_path)


def test_a_clean_stop_publishes_a_checkpoint_covering_the_last_record(tmp_path: Path) -> None:
    stderr = _serve_and_stop(tmp_path, AUDIT_SIGNING_KEY=str(write_key(tmp_path)))
    assert WARNING not in stderr
    with LocalAuditTrail(tmp_path / "audit") as trail:
        last = trail.fetch_events(limit=1)[-1]
    assert last["eventType"] == "bridge.stopped"
    store = local_checkpoints(tmp_path / "audit")
    newest = store.get_checkpoint(last["seq"] + 1)
    assert newest is not None
    assert open_checkpoint(newest.note, SIGNER.verifier).size == last["seq"] + 1
