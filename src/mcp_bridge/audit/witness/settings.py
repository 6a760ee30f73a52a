"""The witness's configuration file (TOML): its key, its state directory and the logs it
witnesses. Relative paths are relative to the file's directory.

.. code-block:: toml

    key = "witness.key"            # signer key made by `python -m mcp_bridge.audit keygen`
    state = "state"                # directory of the latest cosigned checkpoint per log

    [[log]]
    origin = "audit.example.com/bridge"
    key = "audit.example.com/bridge+1a2b3c4d+AX…"   # the log's verifier key (keygen prints it)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AuditUsageError
from ..note import NoteError, Signer, Verifier
from .cosignature import Cosigner


@dataclass(frozen=True, slots=True)
class WitnessSettings:
    cosigner: Cosigner
    state: Path
    logs: dict[str, Verifier]


def load_witness_settings(path: Path) -> WitnessSettings:
    """Read and check the configuration; :class:`AuditUsageError` names what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuditUsageError(f"cannot read witness config {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AuditUsageError(f"witness config {path} is not valid TOML: {exc}") from exc
    base = path.parent
    key_file = base / _text(data, "key", path)
    try:
        signer = Signer.from_text(key_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuditUsageError(f"{path}: cannot read key {key_file}: {exc.strerror}") from exc
    except NoteError as exc:
        raise AuditUsageError(f"{path}: key {key_file} is not a signer key: {exc}") from exc
    logs = _logs(data.get("log"), path)
    return WitnessSettings(Cosigner(signer), base / _text(data, "state", path), logs)


def _text(data: dict[str, Any], name: str, path: Path) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise AuditUsageError(f"witness config {path}: '{name}' must be a non-empty string")
    return value


def _logs(entries: Any, path: Path) -> dict[str, Verifier]:
    if not isinstance(entries, list) or not entries:
        raise AuditUsageError(f"witness config {path}: at least one [[log]] table is required")
    logs: dict[str, Verifier] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise AuditUsageError(f"witness config {path}: each [[log]] is a table")
        origin, key = _text(entry, "origin", path), _text(entry, "key", path)
        try:
            verifier = Verifier.from_text(key)
        except NoteError as exc:
            raise AuditUsageError(f"witness config {path}: log {origin!r}: {exc}") from exc
        if origin in logs:
            raise AuditUsageError(f"witness config {path}: log {origin!r} is listed twice")
        logs[origin] = verifier
    return logs
