"""Pure helpers of the S3 driver: key layout, retention rounding, KMS key matching."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mcp_bridge.audit.storage.s3.client import WritePolicy, retain_until
from mcp_bridge.audit.storage.s3.layout import parse_s3_url, parse_segment_key, segment_key
from mcp_bridge.audit.storage.s3.policy import kms_matches


@given(st.dates(date(1970, 1, 1), date(9999, 12, 31)), st.integers(0, 10**19))
def test_segment_keys_round_trip_and_sort_by_seq(day: date, seq: int) -> None:
    key = segment_key("audit/", day, seq)
    parsed = parse_segment_key("audit", key)
    assert parsed is not None and (parsed.day, parsed.seq) == (day, seq)
    assert segment_key("audit", day, seq) < segment_key("audit", day, seq + 1)


def test_keys_the_writer_never_creates_are_not_segments() -> None:
    for key in (
        "audit/2025/10/24/notes.txt",
        "audit/2025/13/01/00000000000000000001.jsonl",
        "other/2025/10/24/00000000000000000001.jsonl",
        "audit/x",
    ):
        assert parse_segment_key("audit", key) is None
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b")


def test_retain_until_rounds_up_to_whole_seconds() -> None:
    newest = datetime.now(UTC) + timedelta(days=3, microseconds=1)
    until = retain_until(newest, 2)
    assert until.microsecond == 0
    assert newest + timedelta(days=2) <= until < newest + timedelta(days=2, seconds=1)
    headers = WritePolicy("governance", 2, "k").headers(newest)
    assert headers["ObjectLockMode"] == "GOVERNANCE"
    assert headers["ServerSideEncryption"] == "aws:kms" and headers["SSEKMSKeyId"] == "k"


def test_kms_key_ids_match_their_arns() -> None:
    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234"
    assert kms_matches(arn, "1234") and kms_matches("1234", arn) and kms_matches("1234", "1234")
    assert not kms_matches(None, "1234") and not kms_matches("5678", "1234")
