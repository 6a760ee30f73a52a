"""Export and ``--follow`` against the real SeaweedFS store: segments are S3 objects."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from mcp_bridge.audit import AuditTrail
from mcp_bridge.audit.export.reader import Selection, read_rows
from mcp_bridge.audit.export.rows import ExportRow
from mcp_bridge.audit.storage.s3.source import open_s3_source

from ..conftest import REPO
from ..export.follower import in_order_without_gaps, kill, start, stop, wait_for
from ..export.receivers import Receiver, running
from .conftest import Clock
from .seaweed import SeaweedServer

TOKEN = "s3-follow-token"


def write(trail: AuditTrail, clock: Clock, count: int, *, next_day: bool = False) -> None:
    if next_day:
        clock.now += timedelta(days=1)
    for n in range(count):
        trail.record_event("test.event", {"n": n})


def s3_env(cli_env: dict[str, str], seaweed: SeaweedServer) -> dict[str, str]:
    return {**cli_env, **seaweed.env(), "AUDIT_EXPORT_HEC_TOKEN": TOKEN}


def test_rows_name_their_objects_and_parquet_reads_back_in_duckdb(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env, tmp_path: Path
) -> None:
    trail = open_trail(clock)
    write(trail, clock, 7)
    write(trail, clock, 5, next_day=True)
    trail.close()
    url = f"s3://{bucket}/audit"
    rows: list[ExportRow] = []
    result = read_rows(open_s3_source(url), Selection(), rows.append)
    assert result.ok, result.render_text()
    assert [r.seq for r in rows] == list(range(12)) and all(r.verified for r in rows)
    assert all(r.segment.startswith(("audit/2025/10/24/", "audit/2025/10/25/")) for r in rows)

    lake = tmp_path / "lake"
    done = subprocess.run(
        [sys.executable, "-m", "mcp_bridge.audit", "export", url, "--format", "parquet",
         "-o", f"{lake}/"],
        env=s3_env(cli_env, seaweed), cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    counts = duckdb.execute(
        f"SELECT CAST(date AS VARCHAR), count(*) FROM read_parquet('{lake}/*/*.parquet', "
        "hive_partitioning = true) GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert counts == [("2025-10-24", 7), ("2025-10-25", 5)]
    segments = duckdb.execute(
        f"SELECT seq, segment FROM read_parquet('{lake}/*/*.parquet') ORDER BY seq"
    ).fetchall()
    assert segments == [(r.seq, r.segment) for r in rows]


def test_a_seq_range_to_stdout_from_s3(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env
) -> None:
    trail = open_trail(clock)
    write(trail, clock, 6)
    trail.close()
    done = subprocess.run(
        [sys.executable, "-m", "mcp_bridge.audit", "export", f"s3://{bucket}/audit",
         "--format", "parquet", "--from-seq", "2", "--to-seq", "4"],
        env=s3_env(cli_env, seaweed), cwd=REPO, capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert pq.read_table(io.BytesIO(done.stdout)).column("seq").to_pylist() == [2, 3, 4]


def test_follow_an_s3_trail_across_a_crash_and_new_segments(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env, tmp_path: Path
) -> None:
    trail = open_trail(clock)
    write(trail, clock, 10)
    cursor = tmp_path / "cursor.json"
    env = s3_env(cli_env, seaweed)
    url = f"s3://{bucket}/audit"
    with running(Receiver("hec", TOKEN, fail_every=4)) as hec:
        follower = start(url, cursor, f"hec:{hec.url}", env)
        wait_for(lambda: len(set(hec.seqs())) >= 6, follower)
        kill(follower)
        write(trail, clock, 8)
        write(trail, clock, 4, next_day=True)
        follower = start(url, cursor, f"hec:{hec.url}", env)
        wait_for(lambda: len(set(hec.seqs())) >= 22, follower)
        code, err = stop(follower)
        assert code == 0, err
    trail.close()
    assert in_order_without_gaps(hec.seqs()) == list(range(22))
    assert json.loads(cursor.read_text())["partition"] == "2025/10/25"
    assert {e["segment"].split("/")[3] for e in hec.events} == {"24", "25"}
