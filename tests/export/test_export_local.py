"""``python -m mcp_bridge.audit export`` on a local trail: formats, ranges, refusal, outputs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.export.rows import record_hash
from mcp_bridge.audit.merkle import leaf_hash, root_of
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints

from ..conftest import DAYS, Log, run_module

EXPORT = "mcp_bridge.audit"


def export(*args: str, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return run_module(EXPORT, "export", *args, env=env)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def tamper(log: Log, seq: int) -> tuple[Path, int]:
    """Change one record's payload in place (its hash no longer matches): file and line."""
    day = DAYS[seq // 10]
    lines = log.lines(day)
    index = seq % 10
    lines[index] = lines[index].replace(b'"i":', b'"i":1')
    log.write_lines(day, lines)
    return log.file_of(day), index + 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "ocsf"])
def test_each_format_carries_seq_hash_and_source_of_every_record(
    log3: Log, tmp_path: Path, cli_env: dict[str, str], fmt: str
) -> None:
    out = tmp_path / f"trail.{fmt}"
    done = export(str(log3.root), "--format", fmt, "-o", str(out), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "exported 30 rows" in done.stderr
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
        got = [(int(r["seq"]), r["hash"], r["segment"], r["verified"]) for r in rows]
        expected_flag = "true"
    elif fmt == "jsonl":
        rows = jsonl(out)
        got = [(r["seq"], r["hash"], r["segment"], r["verified"]) for r in rows]
        expected_flag = True
    else:
        events = jsonl(out)
        assert {e["class_uid"] for e in events} == {6003}
        got = [
            (e["metadata"]["sequence"], _tag(e, "hash"), e["metadata"]["log_name"], True)
            for e in events
        ]
        assert all(_tag(e, "verified") == "true" for e in events)
        expected_flag = True
    expected = [
        (r["seq"], r["hash"], f"{DAYS[r['seq'] // 10]:%Y/%m/%d}.jsonl", expected_flag)
        for r in log3.records
    ]
    assert got == expected


def _tag(event: dict, name: str) -> str:
    tags = {t["name"]: t["value"] for t in event["metadata"]["tags"]}
    return tags[f"mcp_bridge.{name}"]


def test_exported_columns_re_derive_each_record_hash(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    out = tmp_path / "trail.csv"
    assert export(str(log3.root), "--format", "csv", "-o", str(out), env=cli_env).returncode == 0
    for row in csv.DictReader(io.StringIO(out.read_text())):
        derived = record_hash(
            seq=int(row["seq"]),
            previous_hash=row["previous_hash"],
            timestamp=row["timestamp"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            payload=row["payload_json"],
        )
        assert derived == row["hash"]


def test_a_seq_range_and_a_day_window_select_exactly_their_records(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    by_seq = export(str(log3.root), "--from-seq", "8", "--to-seq", "13", env=cli_env)
    assert by_seq.returncode == 0, by_seq.stderr
    assert [json.loads(x)["seq"] for x in by_seq.stdout.splitlines()] == list(range(8, 14))
    window = ("--start", "2025/10/24", "--end", "2025/10/24", "--from-seq", "15")
    by_day = export(str(log3.root), *window, env=cli_env)
    assert [json.loads(x)["seq"] for x in by_day.stdout.splitlines()] == list(range(15, 20))


def test_a_range_that_fails_verification_is_refused_and_nothing_is_written(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    path, line = tamper(log3, 14)
    out = tmp_path / "out" / "trail.jsonl"
    out.parent.mkdir()
    done = export(str(log3.root), "-o", str(out), env=cli_env)
    assert done.returncode == 1
    assert "hash_mismatch" in done.stderr and f"{path}, line {line}" in done.stderr
    assert "export refused" in done.stderr
    assert list(out.parent.iterdir()) == []  # no file, no staging left behind
    to_stdout = export(str(log3.root), "--format", "csv", env=cli_env)
    assert to_stdout.returncode == 1 and to_stdout.stdout == ""
    # A range before the damage exports fine.
    early = export(str(log3.root), "--to-seq", "13", "-o", str(out), env=cli_env)
    assert early.returncode == 0, early.stderr


def test_allow_unverified_exports_with_exactly_the_failing_record_flagged(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    tamper(log3, 14)
    out = tmp_path / "trail.jsonl"
    done = export(str(log3.root), "-o", str(out), "--allow-unverified", env=cli_env)
    assert done.returncode == 1
    assert "1 flagged unverified" in done.stderr
    rows = jsonl(out)
    assert [r["seq"] for r in rows] == list(range(30))
    assert [r["seq"] for r in rows if not r["verified"]] == [14]


def test_a_deleted_record_refuses_the_export(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    lines = log3.lines(DAYS[1])
    del lines[4]  # seq 14
    log3.write_lines(DAYS[1], lines)
    done = export(str(log3.root), "--allow-unverified", env=cli_env)
    assert done.returncode == 1 and "seq_gap" in done.stderr
    flagged = [json.loads(x) for x in done.stdout.splitlines()]
    assert [r["seq"] for r in flagged if not r["verified"]] == [15]


def test_an_existing_output_is_never_overwritten(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    out = tmp_path / "keep.jsonl"
    out.write_text("precious\n")
    done = export(str(log3.root), "-o", str(out), env=cli_env)
    assert done.returncode == 2 and "never overwritten" in done.stderr
    assert out.read_text() == "precious\n"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    assert export(str(log3.root), "-o", f"{busy}/", env=cli_env).returncode == 2
    assert [p.name for p in busy.iterdir()] == ["x"]


@pytest.mark.parametrize(
    "args",
    [
        ("--from-seq", "9", "--to-seq", "3"),
        ("--cursor", "c.json"),
        ("--follow", "--format", "csv"),
        ("--start", "2025/13/01"),
        ("--format", "xml"),
    ],
)
def test_misuse_exits_2_without_a_traceback(
    log3: Log, cli_env: dict[str, str], args: tuple[str, ...]
) -> None:
    done = export(str(log3.root), *args, env=cli_env)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr


def test_a_missing_trail_is_a_usage_error(tmp_path: Path, cli_env: dict[str, str]) -> None:
    done = export(str(tmp_path / "nowhere"), env=cli_env)
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_parquet_is_hive_partitioned_by_day_and_duckdb_reads_it_as_is(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    out = tmp_path / "lake"
    done = export(str(log3.root), "--format", "parquet", "-o", f"{out}/", env=cli_env)
    assert done.returncode == 0, done.stderr
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["date=2025-10-23", "date=2025-10-24", "date=2025-10-25"]
    glob = f"{out}/*/*.parquet"
    con = duckdb.connect()
    per_day = con.execute(
        f"SELECT CAST(date AS VARCHAR), count(*), min(seq), max(seq), bool_and(verified) "
        f"FROM read_parquet('{glob}', hive_partitioning = true) GROUP BY date ORDER BY date"
    ).fetchall()
    assert per_day == [
        ("2025-10-23", 10, 0, 9, True),
        ("2025-10-24", 10, 10, 19, True),
        ("2025-10-25", 10, 20, 29, True),
    ]
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{glob}')").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types["seq"] == "BIGINT" and types["verified"] == "BOOLEAN"
    assert types["timestamp"] == "TIMESTAMP WITH TIME ZONE"
    assert types["identity_roles"] == "VARCHAR[]" and types["duration_ms"] == "DOUBLE"
    payloads = con.execute(
        f"SELECT seq, json_extract(payload_json, '$.i')::INT FROM read_parquet('{glob}') "
        "ORDER BY seq"
    ).fetchall()
    assert payloads == [(r["seq"], r["payload"]["i"]) for r in log3.records]


def test_parquet_to_stdout_is_one_readable_file(log3: Log, cli_env: dict[str, str]) -> None:
    done = run_module_bytes(str(log3.root), cli_env)
    table = pq.read_table(io.BytesIO(done))
    assert table.num_rows == 30
    assert table.schema.metadata[b"mcp_bridge.export.schema"] == b"v1"


def run_module_bytes(root: str, env: dict[str, str]) -> bytes:
    import subprocess
    import sys

    from ..conftest import REPO

    done = subprocess.run(
        [sys.executable, "-m", EXPORT, "export", root, "--format", "parquet"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rows_name_the_smallest_signed_checkpoint_that_covers_them(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    signer = Signer.generate("export-test")
    leaves = [leaf_hash(bytes.fromhex(r["hash"])) for r in log3.records]
    store = local_checkpoints(log3.root)
    for size in (10, 25):
        checkpoint = Checkpoint("example.com/export-test", size, root_of(leaves[:size]))
        store.put_checkpoint(size, sign_checkpoint(checkpoint, signer), "2026-01-01T00:00:00Z", "o")
    done = export(str(log3.root), "--from-seq", "8", env=cli_env)
    assert done.returncode == 0, done.stderr
    sizes = {
        row["seq"]: row["checkpoint_tree_size"] for row in map(json.loads, done.stdout.splitlines())
    }
    assert sizes == {seq: 10 if seq < 10 else 25 if seq < 25 else None for seq in range(8, 30)}
