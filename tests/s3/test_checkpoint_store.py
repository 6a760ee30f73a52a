"""The checkpoint store on SeaweedFS: the local cases (write-once, compare on a lost race)
against conditional puts with Object Lock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcp_bridge.audit.checkpoint_store import WriteOnceCheckpoints, checkpoint_name
from mcp_bridge.audit.storage.s3.checkpoints import s3_checkpoints
from mcp_bridge.audit.storage.s3.client import WritePolicy, connect

from ..audit.test_checkpoint_store import (
    PUBLISHED,
    note,
    test_a_checkpoint_is_stored_with_its_publication_time,
    test_attestations_are_write_once_and_keep_the_first,
    test_racing_writers_create_one_checkpoint,
    test_sizes_are_listed_in_order_and_other_names_ignored,
    test_the_same_tree_head_twice_keeps_the_first,
    test_tiles_are_write_once_and_compared,
    test_two_roots_for_one_size_are_an_alarm,
)
from .conftest import FAST
from .seaweed import SeaweedServer

__all__ = [
    "test_a_checkpoint_is_stored_with_its_publication_time",
    "test_attestations_are_write_once_and_keep_the_first",
    "test_racing_writers_create_one_checkpoint",
    "test_sizes_are_listed_in_order_and_other_names_ignored",
    "test_the_same_tree_head_twice_keeps_the_first",
    "test_tiles_are_write_once_and_compared",
    "test_two_roots_for_one_size_are_an_alarm",
]


@pytest.fixture
def checkpoints(bucket: str) -> WriteOnceCheckpoints:
    return s3_checkpoints(connect(FAST), bucket, "audit", WritePolicy("governance", 1, None))


def test_checkpoints_carry_the_records_object_lock(
    checkpoints: WriteOnceCheckpoints, bucket: str, seaweed: SeaweedServer
) -> None:
    checkpoints.put_checkpoint(4, note(4), PUBLISHED, "o")
    checkpoints.put_tile("tile/0/000.p/4", b"\x01" * 128)
    client = seaweed.client()
    for key in (f"audit/{checkpoint_name(4)}", "audit/_tiles/tile/0/000.p/4"):
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["ObjectLockMode"] == "GOVERNANCE"
        assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    assert checkpoints.where(checkpoint_name(4)) == f"s3://{bucket}/audit/{checkpoint_name(4)}"
