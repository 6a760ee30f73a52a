"""The covering checkpoint of each exported row: the smallest checkpointed tree holding it.

A record with seq ``s`` is leaf ``s`` of the log's Merkle tree, so every checkpoint of a tree
size greater than ``s`` covers it; the row names the smallest one (``checkpoint_tree_size``),
which is where a re-verifier asks for an inclusion proof. The sizes are listed once per export
(per poll when following) from the checkpoint store beside the trail, starting just below the
first seq wanted, so an old trail's many checkpoints are not all listed for a recent range.
Export does not check the checkpoints' signatures: ``verify`` does that with the verifier key.
"""

from __future__ import annotations

import bisect
from typing import Any

from ..checkpoint_store import CheckpointStore


class CoveringCheckpoints:
    """Tree sizes of the stored checkpoints, answering "which one covers seq s?"."""

    def __init__(self, sizes: list[int]) -> None:
        self._sizes = sorted(sizes)

    @classmethod
    def listed(cls, store: CheckpointStore, from_seq: int = 0) -> CoveringCheckpoints:
        return cls(store.checkpoint_sizes(after=from_seq))

    def covering(self, seq: int) -> int | None:
        """The smallest checkpointed size above ``seq`` (``None`` until one is published)."""
        at = bisect.bisect_right(self._sizes, seq)
        return self._sizes[at] if at < len(self._sizes) else None


def checkpoint_store(location: str, **s3_options: Any) -> CheckpointStore:
    """The checkpoint store beside the trail at a local path or ``s3://bucket/prefix``."""
    if location.startswith("s3://"):
        from ..storage.s3.checkpoints import s3_checkpoints
        from ..storage.s3.client import ClientOptions, WritePolicy, connect
        from ..storage.s3.layout import parse_s3_url

        bucket, prefix = parse_s3_url(location)
        connection = connect(ClientOptions(**s3_options))
        return s3_checkpoints(connection, bucket, prefix, WritePolicy(None, None, None))
    from ..storage.local.checkpoints import local_checkpoints

    return local_checkpoints(location)
