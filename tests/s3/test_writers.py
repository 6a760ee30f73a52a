"""Many writers, one log: restarts, concurrent processes and midnight contention."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

from mcp_bridge.audit import verify_audit_trail
from mcp_bridge.audit.storage.s3.layout import GENESIS_DAY, segment_key

from ..conftest import REPO
from .conftest import Clock
from .seaweed import SeaweedServer


def test_restart_resumes_the_chain(open_trail, bucket, clock: Clock, seaweed) -> None:
    first = open_trail(clock)
    assert [first.record_event("e", {"n": n})["seq"] for n in range(3)] == [0, 1, 2]
    first.close()
    second = open_trail(clock)
    assert [second.record_event("e", {"n": n})["seq"] for n in range(3, 6)] == [3, 4, 5]
    assert verify_audit_trail(f"s3://{bucket}/audit").checked_events == 6
    listed = seaweed.client().list_objects_v2(Bucket=bucket, Prefix="audit/")["Contents"]
    assert segment_key("audit", GENESIS_DAY, 0) in {item["Key"] for item in listed}


def test_two_trails_in_one_process_share_the_chain(open_trail, bucket, clock: Clock) -> None:
    one, two = open_trail(clock), open_trail(clock)
    seqs = []
    for n in range(6):
        seqs.append((one if n % 2 else two).record_event("e", {"n": n})["seq"])
    assert seqs == list(range(6))
    assert verify_audit_trail(f"s3://{bucket}/audit").ok


def test_three_processes_across_midnight_write_one_chain(
    bucket: str, seaweed: SeaweedServer, cli_env: dict[str, str]
) -> None:
    env = {**cli_env, **seaweed.env()}
    count = 120
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.s3.writer_proc", bucket, str(count), str(skew)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        for skew in (0, 10, 20)
    ]
    seqs: list[int] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        seqs += json.loads(out)
    assert sorted(seqs) == list(range(3 * count))

    result = verify_audit_trail(f"s3://{bucket}/audit", object_lock_mode="governance")
    assert result.ok, result.render_text()
    assert result.checked_events == 3 * count
    assert result.partitions == ["2025/10/24", "2025/10/25"]


def test_a_lagging_clock_follows_a_forward_marker(open_trail, bucket) -> None:
    ahead = open_trail(Clock(datetime(2025, 10, 24, 23, 59, 59, 998_000, tzinfo=UTC)))
    behind = open_trail(Clock(datetime(2025, 10, 24, 23, 59, 58, tzinfo=UTC)))
    assert ahead.record_event("e", {})["timestamp"].startswith("2025-10-24")
    assert ahead.record_event("e", {})["timestamp"].startswith("2025-10-25")
    late = behind.record_event("e", {})
    assert late["seq"] == 2
    assert late["timestamp"] == "2025-10-25T00:00:00.000000Z"
    assert verify_audit_trail(f"s3://{bucket}/audit").ok
