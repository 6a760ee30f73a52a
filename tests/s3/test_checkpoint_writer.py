"""The checkpoint writer on SeaweedFS: checkpoints and tiles in the bucket match the roots
recomputed from the segments, the S3 mirror, a truncated bucket refused, several writer
processes publishing one consistent sequence."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit import AuditTrail, open_audit_trail, verify_audit_trail
from mcp_bridge.audit.checkpoint_check import CheckpointOptions
from mcp_bridge.audit.checkpoint_store import WriteOnceCheckpoints
from mcp_bridge.audit.errors import AuditCorruptionError
from mcp_bridge.audit.storage.s3.checkpoints import s3_checkpoints
from mcp_bridge.audit.storage.s3.client import WritePolicy, connect
from mcp_bridge.audit.storage.s3.layout import parse_segment_key

from ..audit.checkpoint_helpers import (
    SIGNER,
    check_checkpoints,
    hashes_in_seq_order,
    wait_for,
    write_key,
)
from ..conftest import REPO, acked_seqs
from .conftest import FAST, s3_config
from .seaweed import SeaweedServer

WRITER = REPO / "tests" / "audit" / "checkpoint_writer_process.py"


def _config(bucket: str, tmp_path: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "audit_signing_key": str(write_key(tmp_path)),
        "audit_checkpoint_interval_seconds": 0.05,
    }
    values.update(overrides)
    return s3_config(bucket, tmp_path / "spool", **values)


def _store(bucket: str, prefix: str = "audit") -> WriteOnceCheckpoints:
    return s3_checkpoints(connect(FAST), bucket, prefix, WritePolicy("governance", 1, None))


def _segment_keys(seaweed: SeaweedServer, bucket: str) -> list[str]:
    paginator = seaweed.client().get_paginator("list_objects_v2")
    keys = [
        item["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix="audit/")
        for item in page.get("Contents", [])
    ]
    return sorted(
        (k for k in keys if parse_segment_key("audit", k)),
        key=lambda k: parse_segment_key("audit", k).seq,  # type: ignore[union-attr]
    )


def _record_hashes(seaweed: SeaweedServer, bucket: str) -> list[str]:
    client = seaweed.client()
    lines = []
    for key in _segment_keys(seaweed, bucket):
        lines += client.get_object(Bucket=bucket, Key=key)["Body"].read().split(b"\n")
    return hashes_in_seq_order(line for line in lines if line)


def _write(trail: AuditTrail, count: int, start: int = 0) -> None:
    """One record at a time: each waits for its own (paced) segment PUT."""
    for n in range(start, start + count):
        trail.record_event("test.write", {"n": n})


def _write_together(trail: AuditTrail, count: int, start: int = 0) -> None:
    """``count`` records awaited together: they share a few segments, in seconds not minutes."""

    async def write() -> None:
        events = (trail.arecord_event("test.write", {"n": n}) for n in range(start, start + count))
        await asyncio.gather(*events)

    asyncio.run(write())


def test_checkpoints_and_tiles_in_the_bucket_match_the_segments(
    bucket: str, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    mirror = f"s3://{bucket}/mirror"
    trail = open_audit_trail(_config(bucket, tmp_path, audit_checkpoint_mirror=mirror))
    _write_together(trail, 300)
    wait_for(lambda: _store(bucket).newest_size() == 300)
    _write_together(trail, 100, 300)
    trail.close()
    store = _store(bucket)
    assert store.newest_size() == 400  # the shutdown checkpoint
    hashes = _record_hashes(seaweed, bucket)
    sizes = check_checkpoints(store, hashes)
    assert _store(bucket, "mirror").checkpoint_sizes() == sizes
    check_checkpoints(_store(bucket, "mirror"), hashes, tiles=False)


def _written(bucket: str, tmp_path: Path, count: int) -> Any:
    """``count`` records written and the trail closed (checkpoint at ``count``); its config."""
    config = _config(bucket, tmp_path)
    trail = open_audit_trail(config)
    _write(trail, count)
    trail.close()
    assert _store(bucket).newest_size() == count
    return config


def _destroy(seaweed: SeaweedServer, bucket: str, key: str) -> None:
    """Every version of ``key`` removed: the insider with governance bypass."""
    client = seaweed.client()
    for version in client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]:
        client.delete_object(
            Bucket=bucket, Key=key, VersionId=version["VersionId"], BypassGovernanceRetention=True
        )


def test_a_bucket_whose_newest_segments_were_removed_is_refused(
    bucket: str, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    config = _written(bucket, tmp_path, 30)
    newest = _segment_keys(seaweed, bucket)[-1]
    _destroy(seaweed, bucket, newest)
    with pytest.raises(AuditCorruptionError) as caught:
        open_audit_trail(config)
    assert "covers 30" in str(caught.value)
    assert f"s3://{bucket}/audit/_checkpoints/00000000000000000030" in str(caught.value)
    assert _segment_keys(seaweed, bucket)[-1] < newest  # nothing was written in its place


def test_several_writer_processes_publish_one_consistent_sequence(
    bucket: str, seaweed: SeaweedServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    env = {
        **cli_env,
        **seaweed.env(),
        "AUDIT_STORAGE_BACKEND": "s3",
        "AUDIT_S3_BUCKET": bucket,
        "AUDIT_S3_OBJECT_LOCK_MODE": "governance",
        "AUDIT_S3_OBJECT_LOCK_DAYS": "1",
        "AUDIT_S3_SEGMENT_MAX_DELAY_MS": "1",
        "AUDIT_SIGNING_KEY": str(write_key(tmp_path)),
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": "0.05",
    }
    procs = []
    for index in range(3):
        proc_env = {**env, "AUDIT_SPOOL_PATH": str(tmp_path / f"spool-{index}")}
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WRITER), "400", "8"], env=proc_env, stdout=subprocess.PIPE
            )
        )
    assert sorted(acked_seqs(procs)) == list(range(1200))
    sizes = check_checkpoints(_store(bucket), _record_hashes(seaweed, bucket))
    assert sizes[-1] == 1200 and len(sizes) > 3
    verified = verify_audit_trail(
        f"s3://{bucket}/audit", checkpoints=CheckpointOptions(SIGNER.verifier.to_text())
    )
    assert verified.ok, verified.render_text()
    assert verified.stats["checkpoints"]["newest"]["treeSize"] == 1200


def _tile_keys(seaweed: SeaweedServer, bucket: str) -> list[str]:
    listed = seaweed.client().list_objects_v2(Bucket=bucket, Prefix="audit/_tiles/")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_no_level0_tile_is_put_and_a_restart_derives_its_edge_from_the_segments(
    bucket: str, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    """300 records: only level-1 tiles in the bucket. The restarted writer rebuilds its tree
    from them and from the edge's 44 records, read from their segments."""
    trail = open_audit_trail(_config(bucket, tmp_path))
    _write_together(trail, 300)
    trail.close()
    keys = _tile_keys(seaweed, bucket)
    assert keys and all(key.startswith("audit/_tiles/tile/1/") for key in keys), keys
    trail = open_audit_trail(_config(bucket, tmp_path))
    _write_together(trail, 300, 300)
    trail.close()
    assert all(key.startswith("audit/_tiles/tile/1/") for key in _tile_keys(seaweed, bucket))
    sizes = check_checkpoints(_store(bucket), _record_hashes(seaweed, bucket))
    assert sizes[-1] == 600
    verified = verify_audit_trail(
        f"s3://{bucket}/audit", checkpoints=CheckpointOptions(SIGNER.verifier.to_text())
    )
    assert verified.ok, verified.render_text()


def test_a_segment_removed_below_the_checkpoint_is_named_on_restart(
    bucket: str, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    config = _written(bucket, tmp_path, 30)
    segments = _segment_keys(seaweed, bucket)
    assert len(segments) > 3
    gone = segments[len(segments) // 2]
    first_gone = parse_segment_key("audit", gone).seq  # type: ignore[union-attr]
    _destroy(seaweed, bucket, gone)
    with pytest.raises(AuditCorruptionError) as caught:
        open_audit_trail(config)
    message = str(caught.value)
    assert f"record seq {first_gone} is missing" in message and "tile/0/000.p/30" in message
    assert f"s3://{bucket}/audit/" in message  # where the log read continued
