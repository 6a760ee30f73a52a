"""RFC 3161 trusted timestamps over checkpoint notes, through ``rfc3161-client`` (no ASN.1 here).

Pure (no I/O). A checkpoint's signed note is timestamped by a Time Stamping Authority (a third
party's clock, not ours); the response is stored beside the checkpoint
(``_checkpoints/<size>.tsr``). :func:`verify_timestamp` checks it against the TSA's certificate
chain as of the time it claims, that it covers exactly the note's bytes, and returns that time.
Each failure carries a reason code: ``timestamp_malformed``, ``timestamp_wrong_data``,
``timestamp_cert_expired``, ``timestamp_untrusted``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    TimeStampRequest,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

_DIGESTS = {
    "2.16.840.1.101.3.4.2.1": hashlib.sha256,
    "2.16.840.1.101.3.4.2.2": hashlib.sha384,
    "2.16.840.1.101.3.4.2.3": hashlib.sha512,
}


class TimestampError(ValueError):
    """A timestamp that does not prove what it should; ``reason`` is a stable code."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TsaTrust:
    """The TSA certificates a verifier trusts: self-signed ones are roots, others intermediates."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, data: bytes) -> TsaTrust:
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise ValueError(f"not a PEM certificate bundle: {exc}") from None
        roots = tuple(c for c in certificates if c.issuer == c.subject)
        if not roots:
            raise ValueError("the TSA certificate bundle holds no root (self-signed) certificate")
        return cls(roots, tuple(c for c in certificates if c.issuer != c.subject))


def timestamp_request(note: bytes) -> TimeStampRequest:
    """A request (SHA-256 imprint, random nonce, TSA certificate included) for ``note``."""
    return (
        TimestampRequestBuilder()
        .data(note)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )


def parse_timestamp(data: bytes) -> TimeStampResponse:
    try:
        return decode_timestamp_response(data)
    except ValueError as exc:
        raise TimestampError(
            f"not an RFC 3161 response: {exc}", reason="timestamp_malformed"
        ) from None


def verify_timestamp(
    data: bytes, note: bytes, trust: TsaTrust, *, request: TimeStampRequest | None = None
) -> datetime:
    """The time the TSA's token ``data`` proves ``note`` existed at, else :class:`TimestampError`.

    With ``request``, the response must also answer it (its nonce and policy).
    """
    response = parse_timestamp(data)
    info = response.tst_info
    digest = _DIGESTS.get(info.message_imprint.hash_algorithm.dotted_string)
    if digest is None or digest(note).digest() != info.message_imprint.message:
        raise TimestampError(
            "the timestamp token covers other bytes than this checkpoint note",
            reason="timestamp_wrong_data",
        )
    builder = VerifierBuilder.from_request(request) if request is not None else VerifierBuilder()
    for root in trust.roots:
        builder = builder.add_root_certificate(root)
    for intermediate in trust.intermediates:
        builder = builder.add_intermediate_certificate(intermediate)
    generated = info.gen_time.replace(tzinfo=info.gen_time.tzinfo or UTC)
    try:
        builder.build().verify_message(response, note)
    except VerificationError as exc:
        expired = _expired_signer(response, generated)
        if expired is not None:
            raise TimestampError(expired, reason="timestamp_cert_expired") from None
        raise TimestampError(
            f"the timestamp token does not verify against the TSA chain: {exc}",
            reason="timestamp_untrusted",
        ) from None
    return generated


def _expired_signer(response: TimeStampResponse, at: datetime) -> str | None:
    """Why the signing certificate was not valid at ``at``, if that is the problem."""
    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        return None
    for der in response.signed_data.certificates:
        certificate = x509.load_der_x509_certificate(der)
        if (certificate.issuer, certificate.serial_number) != (
            infos[0].issuer,
            infos[0].serial_number,
        ):
            continue
        start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        if not start <= at <= end:
            return (
                f"the TSA certificate {certificate.subject.rfc4514_string()} was not valid at "
                f"{at.isoformat()} (valid {start.isoformat()} to {end.isoformat()})"
            )
    return None
