"""Turning the checkpoint settings into a resumed tree: signer key, mirror, restart checks.

Called once when a trail is opened (:func:`~.trail.open_audit_trail`). Everything that can be
wrong with the settings is reported here, before the first record, naming the variable.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .checkpoint_store import CheckpointStore, LogReader
from .checkpointing import CheckpointPlan
from .errors import AuditUsageError
from .note import NoteError, Signer
from .tile_source import TileSource
from .tree_writer import TreeWriter

if TYPE_CHECKING:
    from ..config import AppConfig

logger = logging.getLogger(__name__)

_SIGNER_PREFIX = "PRIVATE+KEY+"
_KEYGEN = "create one with `python -m mcp_bridge.audit keygen --name NAME --out PATH`"


class CheckpointedLog(LogReader, Protocol):
    """A store that can also hold checkpoints (both drivers)."""

    def checkpoints(self) -> CheckpointStore: ...


def load_signer(value: str) -> Signer:
    """``AUDIT_SIGNING_KEY``: the signer key itself, or the path of a file holding it."""
    text = value
    if not value.startswith(_SIGNER_PREFIX):
        path = Path(value).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
            mode = path.stat().st_mode
        except OSError as exc:
            raise AuditUsageError(
                f"AUDIT_SIGNING_KEY={value}: cannot read the signer key file: "
                f"{exc.strerror or exc}",
                hint=f"point it at a readable signer key file, or {_KEYGEN}",
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning("AUDIT_SIGNING_KEY=%s is readable by others: chmod 600 it", value)
    try:
        return Signer.from_text(text)
    except NoteError as exc:
        where = "the value" if value.startswith(_SIGNER_PREFIX) else f"the file {value}"
        raise AuditUsageError(
            f"AUDIT_SIGNING_KEY: {where} is not a signer key (PRIVATE+KEY+name+id+data): {exc}",
            hint=_KEYGEN,
        ) from None


def open_mirror(config: AppConfig) -> CheckpointStore | None:
    """``AUDIT_CHECKPOINT_MIRROR``: a directory, or an ``s3://`` bucket and prefix."""
    target = config.audit_checkpoint_mirror
    if target is None:
        return None
    if not target.startswith("s3://"):
        from .storage.local.checkpoints import local_checkpoints

        return local_checkpoints(Path(target))
    from .storage.s3.checkpoints import s3_checkpoints
    from .storage.s3.client import WritePolicy, connect
    from .storage.s3.layout import parse_s3_url
    from .storage.s3.store import client_options

    bucket, prefix = parse_s3_url(target)
    policy = WritePolicy(
        config.audit_s3_object_lock_mode,
        config.audit_s3_object_lock_days,
        config.audit_s3_kms_key_id,
    )
    return s3_checkpoints(connect(client_options(config)), bucket, prefix, policy)


def open_checkpoints(
    config: AppConfig, store: CheckpointedLog, clock: Callable[[], datetime]
) -> CheckpointPlan | None:
    """The resumed tree of ``store`` when ``AUDIT_SIGNING_KEY`` is set, else ``None``.

    Raises :class:`~.errors.AuditCorruptionError` when the log is shorter than a checkpoint
    this key signed, or contradicts it: the trail must not be opened then.
    """
    if not config.checkpoints_enabled or config.audit_signing_key is None:
        return None
    tree = TreeWriter(
        store,
        store.checkpoints(),
        load_signer(config.audit_signing_key),
        config.checkpoint_origin,
        clock=clock,
        mirror=open_mirror(config),
    )
    tree.resume()
    from .witness.attest import attestors_from_config

    return CheckpointPlan(
        tree,
        interval=config.audit_checkpoint_interval_seconds,
        heartbeat=config.audit_checkpoint_heartbeat_seconds,
        attestors=attestors_from_config(config, TileSource(store.checkpoints(), store)),
    )
