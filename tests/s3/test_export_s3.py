"""Export and ``--follow`` against the real SeaweedFS store: segments are S3 objects."""

from __future__ import annotations

import csv
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
from mcp_bridge.audit.storage.s3.checkpoints import s3_checkpoints
from mcp_bridge.audit.storage.s3.client import WritePolicy, connect
from mcp_bridge.audit.storage.s3.source import open_s3_source

from ..audit.checkpoints import publish
from ..conftest import REPO
from ..export.follower import in_order_without_gaps, kill, start, stop, wait_for
from ..export.receivers import Receiver, running
from .conftest import FAST, Clock
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


def _export(url: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_bridge.audit", "export", url, *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_every_format_from_s3_names_the_object_and_the_covering_checkpoint(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env
) -> None:
    trail = open_trail(clock)
    records = [trail.record_event("test.event", {"n": n}) for n in range(12)]
    trail.close()
    store = s3_checkpoints(connect(FAST), bucket, "audit", WritePolicy("governance", 1, None))
    publish(store, [r["hash"] for r in records], [4, 8])
    url, env = f"s3://{bucket}/audit", s3_env(cli_env, seaweed)
    covering = {seq: 4 if seq < 4 else 8 if seq < 8 else None for seq in range(12)}
    rows: list[ExportRow] = []
    assert read_rows(open_s3_source(url), Selection(), rows.append).ok
    segment = {r.seq: r.segment for r in rows}
    assert all(key.startswith("audit/2025/10/24/") for key in segment.values())

    jsonl = [json.loads(line) for line in _export(url, env).stdout.splitlines()]
    assert [(r["seq"], r["hash"]) for r in jsonl] == [(r["seq"], r["hash"]) for r in records]
    assert {r["seq"]: r["segment"] for r in jsonl} == segment
    assert {r["seq"]: r["checkpoint_tree_size"] for r in jsonl} == covering
    assert {r["partition"] for r in jsonl} == {"2025/10/24"}

    table = list(csv.DictReader(io.StringIO(_export(url, env, "--format", "csv").stdout)))
    assert [(int(r["seq"]), r["hash"], r["segment"]) for r in table] == [
        (r["seq"], r["hash"], r["segment"]) for r in jsonl
    ]
    assert {int(r["seq"]): r["checkpoint_tree_size"] for r in table} == {
        seq: "" if size is None else str(size) for seq, size in covering.items()
    }

    ocsf = [json.loads(line) for line in _export(url, env, "--format", "ocsf").stdout.splitlines()]
    assert [e["class_uid"] for e in ocsf] == [6003] * 12
    assert [e["metadata"]["sequence"] for e in ocsf] == list(range(12))
    assert [e["metadata"]["log_name"] for e in ocsf] == [segment[s] for s in range(12)]
    tags = [{t["name"]: t["value"] for t in e["metadata"]["tags"]} for e in ocsf]
    assert [t["mcp_bridge.hash"] for t in tags] == [r["hash"] for r in records]
    assert [t.get("mcp_bridge.checkpoint_tree_size") for t in tags[3:5]] == ["4", "8"]
    assert "mcp_bridge.checkpoint_tree_size" not in tags[8]


def test_an_s3_range_that_fails_verification_is_refused_unless_allowed(
    open_trail, bucket: str, clock: Clock, seaweed: SeaweedServer, cli_env, tmp_path: Path
) -> None:
    trail = open_trail(clock)
    for n in range(12):
        trail.record_event("test.event", {"n": n})
    trail.close()
    url, env = f"s3://{bucket}/audit", s3_env(cli_env, seaweed)
    rows: list[ExportRow] = []
    assert read_rows(open_s3_source(url), Selection(), rows.append).ok
    victim = next(r for r in rows if r.seq >= 6)
    original = seaweed.client().get_object(Bucket=bucket, Key=victim.segment)["Body"].read()
    forged = original.replace(b'"n":%d' % victim.seq, b'"n":99', 1)
    assert forged != original
    seaweed.client().put_object(Bucket=bucket, Key=victim.segment, Body=forged)  # a new version

    refused = _export(url, env, "--format", "csv")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "object_overwritten" in refused.stderr and victim.segment in refused.stderr
    out = tmp_path / "out.parquet"
    assert _export(url, env, "--format", "parquet", "-o", str(out)).returncode == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []

    flagged = _export(url, env, "--allow-unverified")
    assert flagged.returncode == 1
    exported = {r["seq"]: r for r in map(json.loads, flagged.stdout.splitlines())}
    assert sorted(exported) == list(range(12))
    assert exported[victim.seq]["verified"] is False
    assert [s for s, r in exported.items() if not r["verified"]] == [victim.seq]
    assert exported[victim.seq]["payload"] == {"n": victim.seq}  # the original version's
    assert "object_overwritten" in flagged.stderr and victim.segment in flagged.stderr
