"""What ``prove``, ``verify-proof`` and ``consistency`` share: where the log is, the checkpoint
store beside it, and the newest checkpoint."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from .checkpoint_check import open_log_tiles
from .checkpoint_store import CheckpointStore, StoredCheckpoint
from .errors import AuditUsageError
from .tile_source import TileSource


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="LOCATION",
        help="the log: a directory or s3://bucket/prefix (default: the configured AUDIT_* store)",
    )
    parser.add_argument("--endpoint-url", help="S3: endpoint of an S3-compatible store")
    parser.add_argument("--region", help="S3: region override")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")


def store_location(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """``--store`` with its S3 options, else the configured store (AppConfig)."""
    options = {
        name: value
        for name, value in (("endpoint_url", args.endpoint_url), ("region", args.region))
        if value is not None
    }
    if args.store is not None:
        return args.store, options
    from ..config import load_config
    from .jobs import trail_location

    location, configured = trail_location(load_config())
    return location, {**configured, **options}


@dataclass(slots=True)
class Published:
    """The checkpoint store beside a log, its newest checkpoint, and the log's hash tiles
    (level 0 derived from its records: :class:`~.tile_source.TileSource`)."""

    store: CheckpointStore
    newest: StoredCheckpoint
    fetch_tile: TileSource


def newest_checkpoint(location: str, **options: Any) -> Published:
    tiles = open_log_tiles(location, **options)
    store = tiles.store
    sizes = store.checkpoint_sizes()
    stored = store.get_checkpoint(sizes[-1]) if sizes else None
    if stored is None:
        raise AuditUsageError(
            f"{location} has no checkpoint: signed checkpoints are written when "
            "AUDIT_SIGNING_KEY is set",
            hint="configure AUDIT_SIGNING_KEY for the writer, then retry after its next checkpoint",
        )
    return Published(store, stored, tiles)
