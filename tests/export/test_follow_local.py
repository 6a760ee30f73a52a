"""``export --follow`` on a local trail into real HTTP receivers, across crashes and failures."""

from __future__ import annotations

import json
from pathlib import Path

from mcp_bridge.audit import LocalAuditTrail

from ..conftest import DAYS, Log, build_log
from .follower import in_order_without_gaps, kill, start, stop, wait_for
from .receivers import Receiver, running, self_signed

TOKEN = "11111111-2222-3333-4444-555555555555"


def append(root: Path, count: int, tag: str) -> None:
    with LocalAuditTrail(root) as trail:
        for n in range(count):
            trail.record_event("test.event", {"tag": tag, "n": n})


def records(root: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(root.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_hec_stream_survives_crashes_and_a_flaky_collector_losing_nothing(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    cursor = tmp_path / "cursor.json"
    env = {**cli_env, "AUDIT_EXPORT_HEC_TOKEN": TOKEN}
    with running(Receiver("hec", TOKEN, fail_every=3)) as hec:
        sink = f"hec:{hec.url}"
        follower = start(str(log3.root), cursor, sink, env)
        wait_for(lambda: len(set(hec.seqs())) >= 12, follower)
        kill(follower)
        append(log3.root, 20, "after crash")
        follower = start(str(log3.root), cursor, sink, env)
        wait_for(lambda: len(set(hec.seqs())) >= 50, follower)
        code, first = stop(follower)
        assert code == 0, first
        append(log3.root, 5, "after stop")
        follower = start(str(log3.root), cursor, sink, env)
        wait_for(lambda: len(set(hec.seqs())) >= 55, follower)
        code, second = stop(follower)
        assert code == 0, second
    assert in_order_without_gaps(hec.seqs()) == list(range(55))
    assert hec.failed >= 2 and "retry 1 in" in first + second
    assert max(hec.batches) <= 4  # the in-memory queue never held more than --batch-size
    by_seq = {event["seq"]: event for event in hec.events}
    for record in records(log3.root):
        event = by_seq[record["seq"]]
        assert (event["hash"], event["payload"], event["verified"]) == (
            record["hash"],
            record["payload"],
            True,
        )
    # The cursor names a delivered record (the last batch may await its acknowledgement).
    saved = json.loads(cursor.read_text())
    assert saved["seq"] >= 50 and saved["hash"] == by_seq[saved["seq"]]["hash"]


def test_https_webhook_with_a_private_ca_and_a_bearer_token(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    cert, key = self_signed(tmp_path)
    env = {**cli_env, "AUDIT_EXPORT_WEBHOOK_TOKEN": TOKEN}
    with running(Receiver("webhook", TOKEN), tls=(cert, key)) as hook:
        assert hook.url.startswith("https://")
        follower = start(
            str(log3.root), tmp_path / "c", f"webhook:{hook.url}", env, "--sink-ca", str(cert)
        )
        wait_for(lambda: len(hook.seqs()) >= 30, follower)
        code, err = stop(follower)
    assert code == 0, err
    assert hook.seqs() == list(range(30))


def test_a_refused_hec_token_stops_with_exit_2_and_names_the_variable(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    cursor = tmp_path / "cursor.json"
    with running(Receiver("hec", TOKEN)) as hec:
        env = {**cli_env, "AUDIT_EXPORT_HEC_TOKEN": "wrong"}
        follower = start(str(log3.root), cursor, f"hec:{hec.url}", env)
        _, err = follower.communicate(timeout=60)
        assert follower.returncode == 2, err
        assert "AUDIT_EXPORT_HEC_TOKEN" in err and "HTTP 403" in err
        assert "Traceback" not in err
        missing = start(str(log3.root), cursor, f"hec:{hec.url}", cli_env)
        _, err = missing.communicate(timeout=60)
        assert missing.returncode == 2 and "AUDIT_EXPORT_HEC_TOKEN" in err
    assert not cursor.exists() and hec.events == []


def test_an_unreachable_sink_gives_up_after_max_retries_with_exit_3(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    with running(Receiver("webhook", TOKEN)) as hook:
        url = hook.url
    follower = start(
        str(log3.root), tmp_path / "c", f"webhook:{url}", cli_env, "--max-retries", "2"
    )
    _, err = follower.communicate(timeout=60)
    assert follower.returncode == 3, err
    assert err.count("retry") == 2 and "ConnectError" in err


def test_a_tampered_record_stops_the_stream_after_everything_before_it(
    log3: Log, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    lines = log3.lines(DAYS[1])
    lines[4] = lines[4].replace(b'"i":', b'"i":1')  # seq 14
    log3.write_lines(DAYS[1], lines)
    cursor = tmp_path / "cursor.json"
    env = {**cli_env, "AUDIT_EXPORT_HEC_TOKEN": TOKEN}
    with running(Receiver("hec", TOKEN)) as hec:
        follower = start(str(log3.root), cursor, f"hec:{hec.url}", env)
        _, err = follower.communicate(timeout=60)
        assert follower.returncode == 1, err
        assert "seq 14" in err and "fails verification" in err
        assert hec.seqs() == list(range(14))
        assert json.loads(cursor.read_text())["seq"] == 13
        flagged = start(str(log3.root), cursor, f"hec:{hec.url}", env, "--allow-unverified")
        wait_for(lambda: len(hec.seqs()) >= 30, flagged)
        stop(flagged)
    assert [e["seq"] for e in hec.events if not e["verified"]] == [14]


def test_a_cursor_from_another_chain_is_refused(tmp_path: Path, cli_env: dict[str, str]) -> None:
    first = build_log(tmp_path / "a", DAYS, 3)
    other = build_log(tmp_path / "b", DAYS, 3)
    cursor = tmp_path / "cursor.json"
    out = tmp_path / "rows.jsonl"
    follower = start(str(first.root), cursor, f"file:{out}", cli_env)
    wait_for(lambda: cursor.exists() and json.loads(cursor.read_text())["seq"] == 8, follower)
    stop(follower)
    moved = start(str(other.root), cursor, f"file:{out}", cli_env)
    _, err = moved.communicate(timeout=60)
    assert moved.returncode == 1 and "cursor's record (seq 8" in err
    assert [json.loads(x)["seq"] for x in out.read_text().splitlines()] == list(range(9))


def test_a_damaged_cursor_file_is_a_usage_error(log3: Log, tmp_path: Path, cli_env) -> None:
    cursor = tmp_path / "cursor.json"
    cursor.write_text('{"seq": 3')
    follower = start(str(log3.root), cursor, "stdout", cli_env)
    _, err = follower.communicate(timeout=60)
    assert follower.returncode == 2 and "is not an export cursor" in err
    assert cursor.read_text() == '{"seq": 3'
