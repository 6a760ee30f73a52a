"""The checkpoint store beside a log given as a verifier names it: a directory or s3:// URL."""

from __future__ import annotations

from ..checkpoint_store import CheckpointStore
from ..errors import AuditUsageError
from ..storage.local.checkpoints import local_checkpoints


def open_checkpoint_store(
    location: str, *, region: str | None = None, endpoint_url: str | None = None
) -> CheckpointStore:
    """Read access to ``_checkpoints/`` and ``_tiles/`` of the log at ``location``."""
    if not location.startswith("s3://"):
        return local_checkpoints(location)
    from ..storage.s3.checkpoints import s3_checkpoints
    from ..storage.s3.client import ClientOptions, WritePolicy, connect
    from ..storage.s3.layout import parse_s3_url

    bucket, prefix = parse_s3_url(location)
    if not bucket:
        raise AuditUsageError(f"{location!r} names no bucket", hint="use s3://bucket/prefix")
    base = ClientOptions()
    options = ClientOptions(
        region=region or base.region, endpoint_url=endpoint_url or base.endpoint_url
    )
    return s3_checkpoints(connect(options), bucket, prefix, WritePolicy(None, None, None))
