"""The witness and timestamp options of ``verify`` and their ``jobs`` environment twins.

``--witness KEY`` (repeatable, or comma-separated) with ``--witness-quorum N`` (default: every
key given), ``--witness-max-skew SECONDS``, ``--tsa-certs PEM``, ``--tsa-every N`` and
``--require-timestamp``; ``jobs`` reads ``AUDIT_VERIFY_WITNESSES``,
``AUDIT_VERIFY_WITNESS_QUORUM``, ``AUDIT_VERIFY_WITNESS_MAX_SKEW_SECONDS``,
``AUDIT_TSA_CERTS``, ``AUDIT_TSA_EVERY`` and ``AUDIT_VERIFY_TIMESTAMP_REQUIRED``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AuditUsageError

if TYPE_CHECKING:  # imported when used: `verify` without these options starts fast
    from ...config import AppConfig
    from ..checkpoint_check import CheckpointOptions
    from ..checkpoint_store import CheckpointStore
    from ..results import VerificationResult
    from .check import AttestationReport, WitnessPolicy
    from .cosignature import CosignerVerifier
    from .timestamp import TsaTrust


def add_witness_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("witnesses and trusted timestamps")
    group.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="KEY",
        help="a witness's cosignature/v1 verifier key (repeat for each witness)",
    )
    group.add_argument(
        "--witness-quorum",
        type=int,
        metavar="N",
        help="valid cosignatures the newest checkpoint needs (default: every --witness)",
    )
    group.add_argument(
        "--witness-max-skew",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="largest allowed distance between a cosignature and publication (3600)",
    )
    group.add_argument("--tsa-certs", type=Path, help="PEM bundle: the TSA's certificate chain")
    group.add_argument(
        "--tsa-every",
        type=int,
        default=1,
        metavar="N",
        help="the writer's AUDIT_TSA_EVERY: the newest N checkpoints are searched for a token",
    )
    group.add_argument(
        "--require-timestamp",
        action="store_true",
        help="fail unless one of the newest --tsa-every checkpoints has a valid RFC 3161 token",
    )


def wants_attestations(args: argparse.Namespace) -> bool:
    return bool(args.witness or args.tsa_certs or args.require_timestamp)


def attestation_store(args: argparse.Namespace) -> CheckpointStore:
    """The checkpoint store (with the cosignatures and tokens) of the log ``verify`` was given."""
    from ..checkpoint_check import open_checkpoint_store

    return open_checkpoint_store(args.path, region=args.region, endpoint_url=args.endpoint_url)


def with_quorum_check(
    options: CheckpointOptions | None, store: CheckpointStore, policy: WitnessPolicy
) -> CheckpointOptions | None:
    """The checkpoint options, told how to see whether a checkpoint carries the witness quorum
    (so a windowed run proves its covering checkpoint against the first later one that does)."""
    if options is None or not policy.witnesses:
        return options
    from dataclasses import replace

    from .check import quorum_check

    return replace(options, witnessed=quorum_check(store, policy))


def check_attestations(
    store: CheckpointStore, policy: WitnessPolicy, result: VerificationResult, windowed: bool
) -> AttestationReport:
    """Check the cosignatures and timestamps; for a windowed run also the covering checkpoint
    the checkpoint verification found (none to check without ``--vkey``)."""
    from .check import verify_attestations

    checkpoints = result.stats.get("checkpoints", {})
    window = checkpoints.get("window")
    if window is None and windowed and checkpoints.get("checked") is False:
        window = {"covering": None, "checked": False}  # no key: the covering one is unknown
    return verify_attestations(store, policy, window=window)


def policy_from_args(args: argparse.Namespace) -> WitnessPolicy:
    """The policy the options ask for; :class:`AuditUsageError` names a bad option."""
    from .endpoints import parse_witness_keys

    try:
        keys = parse_witness_keys(args.witness)
    except ValueError as exc:
        raise AuditUsageError(f"--witness: {exc}") from None
    return _policy(
        keys,
        args.witness_quorum,
        args.witness_max_skew,
        args.tsa_certs,
        args.tsa_every,
        args.require_timestamp,
        names=("--witness", "--witness-quorum", "--tsa-certs", "--tsa-every"),
    )


def policy_from_config(config: AppConfig) -> WitnessPolicy:
    from .endpoints import parse_witness_keys

    keys = parse_witness_keys([config.audit_verify_witnesses or ""])
    return _policy(
        keys,
        config.audit_verify_witness_quorum,
        config.audit_verify_witness_max_skew_seconds,
        config.audit_tsa_certs,
        config.audit_tsa_every,
        config.audit_verify_timestamp_required,
        names=(
            "AUDIT_VERIFY_WITNESSES",
            "AUDIT_VERIFY_WITNESS_QUORUM",
            "AUDIT_TSA_CERTS",
            "AUDIT_TSA_EVERY",
        ),
    )


def _policy(
    keys: list[CosignerVerifier],
    quorum: int | None,
    skew: float,
    certs: Path | None,
    every: int,
    required: bool,
    *,
    names: tuple[str, str, str, str],
) -> WitnessPolicy:
    from .check import WitnessPolicy

    witnesses = tuple(keys)
    if quorum is not None and not 1 <= quorum <= len(witnesses):
        raise AuditUsageError(
            f"{names[1]}={quorum}: must be between 1 and the {len(witnesses)} key(s) of {names[0]}"
        )
    if every < 1:
        raise AuditUsageError(f"{names[3]}={every}: must be a whole number ≥ 1")
    if required and certs is None:
        raise AuditUsageError(f"requiring timestamps needs {names[2]} (the TSA's chain)")
    if not skew > 0:
        raise AuditUsageError(f"the cosignature skew must be > 0 seconds, not {skew}")
    return WitnessPolicy(
        witnesses=witnesses,
        quorum=len(witnesses) if quorum is None else quorum,
        max_skew_seconds=skew,
        tsa=load_tsa_trust(certs) if certs is not None else None,
        tsa_every=every,
        require_timestamp=required,
    )


def load_tsa_trust(path: Path) -> TsaTrust:
    """The TSA chain from a PEM bundle file; :class:`AuditUsageError` if unusable."""
    from .timestamp import TsaTrust

    try:
        return TsaTrust.from_pem(path.expanduser().read_bytes())
    except OSError as exc:
        raise AuditUsageError(f"TSA certificates {path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise AuditUsageError(f"TSA certificates {path}: {exc}") from exc
