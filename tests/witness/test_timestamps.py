"""RFC 3161 tokens from a real local TSA (openssl ts -reply), stored beside the checkpoints and
checked by ``verify --tsa-certs … --require-timestamp``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mcp_bridge.audit.checkpoint_store import timestamp_name
from mcp_bridge.audit.verify import main as verify_main
from mcp_bridge.audit.witness.attest import TimestampSubmitter
from mcp_bridge.audit.witness.timestamp import (
    TimestampError,
    TsaTrust,
    timestamp_request,
    verify_timestamp,
)
from mcp_bridge.audit.witness.worker import Backoff

from .support import SyntheticLog
from .tsa import LocalTsa, make_ca


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LocalTsa]:
    server = LocalTsa(tmp_path / "tsa")
    yield server
    server.close()


def stamp(log: SyntheticLog, url: str, checkpoints: int, every: int = 1) -> list[int]:
    stamper = TimestampSubmitter(
        url, log.store, trust=None, every=every, backoff=Backoff(0.05, 0.2)
    )
    sizes = []
    try:
        for _ in range(checkpoints):
            log.append(3)
            note, size = log.publish()
            sizes.append(size)
            stamper.submit(note, size)
            assert stamper.worker.wait_idle(30)
    finally:
        stamper.close()
    return sizes


def run_verify(
    capsys: pytest.CaptureFixture[str], log: SyntheticLog, certs: Path, *extra: str
) -> tuple[int, list[str], dict[str, str]]:
    code = verify_main(
        [log.store.where(""), "--json", "--allow-empty", "--tsa-certs", str(certs), *extra]
    )
    report = json.loads(capsys.readouterr().out)["attestations"]
    return code, [f["reason"] for f in report["findings"]], report["timestamps"]


def test_tokens_from_the_local_tsa_verify_and_prove_a_time(
    capsys: pytest.CaptureFixture[str], log: SyntheticLog, tsa: LocalTsa
) -> None:
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    sizes = stamp(log, tsa.url, 4, every=2)
    stored = [s for s in sizes if log.store.get_attestation(timestamp_name(s)) is not None]
    assert stored == [sizes[0], sizes[2]]  # every 2nd checkpoint
    code, reasons, times = run_verify(
        capsys, log, tsa.ca_pem, "--tsa-every", "2", "--require-timestamp"
    )
    assert (code, reasons) == (0, [])
    proved = datetime.fromisoformat(times[str(sizes[2])].replace("Z", "+00:00"))
    assert before <= proved <= datetime.now(UTC) + timedelta(seconds=1)
    # with --tsa-every 1 the newest checkpoint has none: a missing token when required
    code, reasons, _ = run_verify(capsys, log, tsa.ca_pem, "--require-timestamp")
    assert (code, reasons) == (1, ["timestamp_missing"])


def test_a_token_for_other_bytes_is_reported(
    capsys: pytest.CaptureFixture[str], log: SyntheticLog, tsa: LocalTsa
) -> None:
    first, _second = stamp(log, tsa.url, 2)
    other = log.store.get_attestation(timestamp_name(first))
    assert other is not None
    log.append(1)
    _, third = log.publish()
    log.store.put_attestation(timestamp_name(third), other)
    code, reasons, _ = run_verify(capsys, log, tsa.ca_pem, "--require-timestamp")
    assert (code, reasons) == (1, ["timestamp_wrong_data", "timestamp_missing"])


def test_an_untrusted_tsa_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], log: SyntheticLog, tsa: LocalTsa
) -> None:
    stamp(log, tsa.url, 1)
    make_ca(tmp_path / "other", "Another Root")
    code, reasons, _ = run_verify(capsys, log, tmp_path / "other" / "ca.pem")
    assert (code, reasons) == (1, ["timestamp_untrusted"])


def test_a_token_signed_with_an_expired_tsa_certificate_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], log: SyntheticLog
) -> None:
    expired = LocalTsa(tmp_path / "expired", expired=True)
    try:
        stamp(log, expired.url, 1)
    finally:
        expired.close()
    code, reasons, _ = run_verify(capsys, log, expired.ca_pem)
    assert (code, reasons) == (1, ["timestamp_cert_expired"])


def test_the_writer_refuses_a_token_that_does_not_answer_its_request(
    log: SyntheticLog, tsa: LocalTsa
) -> None:
    log.append(2)
    note, _ = log.publish()
    trust = TsaTrust.from_pem(tsa.ca_pem.read_bytes())
    token = tsa.reply(timestamp_request(note).as_bytes())
    assert verify_timestamp(token, note, trust) <= datetime.now(UTC)
    with pytest.raises(TimestampError) as caught:
        verify_timestamp(token, note, trust, request=timestamp_request(note))  # another nonce
    assert caught.value.reason == "timestamp_untrusted"
    with pytest.raises(TimestampError) as garbage:
        verify_timestamp(b"not a token", note, trust)
    assert garbage.value.reason == "timestamp_malformed"
