"""Verify what witnesses and a TSA attest about the stored checkpoints.

No I/O of its own: reads through the :class:`~..checkpoint_store.CheckpointStore` protocol. The
newest checkpoint must carry at least ``quorum`` valid cosignatures by the given witness keys,
and so must a windowed run's covering checkpoint (found by the checkpoint verification,
:mod:`..checkpoint_verify`), unless the first later checkpoint that carries the quorum was
proven consistent with it by that verification; a cosignature whose time is more than
``max_skew`` seconds from the checkpoint's publication (or in the future) is reported; with a
TSA chain, every timestamp token found on the newest ``tsa_every`` checkpoints is verified and
the time it proves reported, and when timestamps are required at least one of them must carry a
valid token.

Reason codes: ``witness_quorum_short``, ``cosignature_invalid``, ``cosignature_time_skew``,
``no_checkpoint``, ``timestamp_missing``, ``timestamp_malformed``, ``timestamp_wrong_data``,
``timestamp_cert_expired``, ``timestamp_untrusted``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..checkpoint_store import (
    CheckpointStore,
    StoredCheckpoint,
    cosignature_name,
    timestamp_name,
)
from ..note import NoteError, parse_note
from .cosignature import CosignerVerifier, cosignatures_in
from .timestamp import TimestampError, TsaTrust, verify_timestamp

HINTS = {
    "witness_quorum_short": (
        "check the writer's log and /health for witness errors; a witness that refused with 422 "
        "saw a different history: treat it as a split view and follow the incident runbook"
    ),
    "cosignature_invalid": (
        "the stored cosignature does not sign this checkpoint: the checkpoint or the "
        "cosignature was replaced; quarantine both and follow the incident runbook"
    ),
    "cosignature_time_skew": (
        "the witness cosigned long before or after publication: compare with the witness's "
        "own log; a backdated checkpoint is an incident"
    ),
    "no_checkpoint": "no signed checkpoint found: is AUDIT_SIGNING_KEY set on the writer?",
    "timestamp_missing": "check AUDIT_TSA_URL on the writer and the TSA's availability",
    "timestamp_malformed": "the stored token is damaged; quarantine it",
    "timestamp_wrong_data": "the token or the checkpoint was replaced; quarantine both",
    "timestamp_cert_expired": "the TSA signed outside its certificate's validity: distrust it",
    "timestamp_untrusted": "check --tsa-certs / AUDIT_TSA_CERTS names the TSA's chain",
}


@dataclass(frozen=True, slots=True)
class AttestationFinding:
    reason: str
    size: int | None
    where: str
    message: str

    @property
    def hint(self) -> str:
        return HINTS.get(self.reason, "")


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """What verification requires; ``witnesses`` empty means cosignatures are not checked."""

    witnesses: tuple[CosignerVerifier, ...] = ()
    quorum: int = 0
    max_skew_seconds: float = 3600.0
    tsa: TsaTrust | None = None
    tsa_every: int = 1
    require_timestamp: bool = False

    @property
    def active(self) -> bool:
        return bool(self.witnesses) or self.tsa is not None or self.require_timestamp


@dataclass(slots=True)
class AttestationReport:
    findings: list[AttestationFinding] = field(default_factory=list)
    newest_size: int | None = None
    cosigned_by: dict[str, int] = field(default_factory=dict)
    timestamps: dict[int, str] = field(default_factory=dict)
    #: A windowed run's covering checkpoint: size, where, cosignedBy, and coveredThrough with
    #: the note when a later consistent checkpoint carries the quorum; ``None`` if not checked.
    window: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "newestCheckpoint": self.newest_size,
            "cosignedBy": self.cosigned_by,
            "timestamps": {str(size): time for size, time in self.timestamps.items()},
            "window": self.window,
            "findings": [asdict(f) | {"hint": f.hint} for f in self.findings],
        }

    def render_text(self) -> str:
        lines = [f"checkpoint {self.newest_size}: " + _summary(self)]
        if self.window is not None:
            lines.append(_window_line(self.window))
        for finding in self.findings:
            lines.append(f"  {finding.reason} at {finding.where}: {finding.message}")
            if finding.hint:
                lines.append(f"    what to do: {finding.hint}")
        return "\n".join(lines)


def _summary(report: AttestationReport) -> str:
    parts = [f"cosigned by {who} at {_iso(t)}" for who, t in report.cosigned_by.items()]
    parts += [f"timestamped (size {s}) at {t}" for s, t in report.timestamps.items()]
    return "; ".join(parts) or "no valid attestation"


def _window_line(window: dict[str, Any]) -> str:
    if window["covering"] is None and not window["checked"]:
        return (
            "window: its covering checkpoint was not checked (the checkpoint verification finds "
            "it: give --vkey or AUDIT_VERIFY_KEY)"
        )
    if window["covering"] is None:
        return "window: no checkpoint covers its last record yet (cosignatures not checked)"
    who = ", ".join(window["cosignedBy"]) or "no witness"
    line = f"window: covering checkpoint {window['covering']} ({window['where']}) cosigned by {who}"
    return line + (f"; {window['note']}" if "note" in window else "")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_attestations(
    store: CheckpointStore,
    policy: WitnessPolicy,
    *,
    now: datetime | None = None,
    window: dict[str, Any] | None = None,
) -> AttestationReport:
    """Check the newest checkpoints' cosignatures and timestamps under ``policy``; with
    ``window`` (what the checkpoint verification of a windowed run found: its
    ``stats.checkpoints.window``), also the window's covering checkpoint's cosignatures."""
    report = AttestationReport()
    sizes = store.checkpoint_sizes()
    if not sizes:
        report.findings.append(
            AttestationFinding("no_checkpoint", None, store.where("_checkpoints"), "none stored")
        )
        return report
    report.newest_size = sizes[-1]
    newest = store.get_checkpoint(sizes[-1])
    assert newest is not None
    moment = now or datetime.now(UTC)
    if policy.witnesses:
        report.cosigned_by = _cosigners(store, newest, policy, report.findings, moment)
        _quorum(store, newest, policy, report.cosigned_by, report.findings, "newest checkpoint")
        if window is not None:
            _check_window(store, window, policy, report, moment)
    if policy.tsa is not None or policy.require_timestamp:
        _check_timestamps(store, sizes[-policy.tsa_every :], policy, report)
    return report


def quorum_check(
    store: CheckpointStore, policy: WitnessPolicy, *, now: datetime | None = None
) -> Callable[[StoredCheckpoint], bool]:
    """Whether a checkpoint carries ``policy.quorum`` valid cosignatures (what the checkpoint
    verification of a windowed run asks of its covering checkpoint and the later ones)."""
    moment = now or datetime.now(UTC)

    def witnessed(stored: StoredCheckpoint) -> bool:
        return len(_cosigners(store, stored, policy, [], moment)) >= policy.quorum

    return witnessed


def _check_window(
    store: CheckpointStore,
    window: dict[str, Any],
    policy: WitnessPolicy,
    report: AttestationReport,
    now: datetime,
) -> None:
    """The covering checkpoint carries the quorum, or the first later checkpoint that does
    was proven one history with it by the checkpoint verification (``quorumAtConsistent``)."""
    covering = window.get("covering")
    if covering is None:
        report.window = {"covering": None, "checked": window.get("checked", True)}
        return
    stored = store.get_checkpoint(covering["treeSize"])
    if stored is None:
        report.findings.append(
            AttestationFinding(
                "witness_quorum_short",
                covering["treeSize"],
                covering["where"],
                f"the window's covering checkpoint (size {covering['treeSize']}) is not in the "
                "store the cosignatures are read from",
            )
        )
        return
    cosigned = _cosigners(store, stored, policy, report.findings, now)
    report.window = {"covering": covering["treeSize"], "where": stored.where}
    report.window["cosignedBy"] = sorted(cosigned)
    if len(cosigned) >= policy.quorum or stored.size == report.newest_size:
        return  # the newest checkpoint's shortfall is already reported
    later = window.get("quorumAt")
    if later is not None and window.get("quorumAtConsistent"):
        report.window["coveredThrough"] = later["treeSize"]
        report.window["note"] = (
            f"window covered through checkpoint {later['treeSize']} (quorum), consistent with "
            f"covering checkpoint {covering['treeSize']}"
        )
        return
    _quorum(store, stored, policy, cosigned, report.findings, "window's covering checkpoint")


def _quorum(
    store: CheckpointStore,
    stored: StoredCheckpoint,
    policy: WitnessPolicy,
    cosigned: dict[str, int],
    findings: list[AttestationFinding],
    which: str,
) -> None:
    if len(cosigned) >= policy.quorum:
        return
    missing = [w.who for w in policy.witnesses if w.who not in cosigned]
    later = (
        "; no later checkpoint carrying the quorum was proven consistent with it"
        if which.startswith("window")
        else ""
    )
    findings.append(
        AttestationFinding(
            "witness_quorum_short",
            stored.size,
            store.where(cosignature_name(stored.size, "")),
            f"{len(cosigned)} valid cosignature(s) of the {policy.quorum} required on the "
            f"{which} (size {stored.size}, {stored.where}){later}; none valid from: "
            + ", ".join(missing),
        )
    )


def _cosigners(
    store: CheckpointStore,
    stored: StoredCheckpoint,
    policy: WitnessPolicy,
    findings: list[AttestationFinding],
    now: datetime,
) -> dict[str, int]:
    """The witnesses whose stored cosignature on ``stored`` is valid, with its time; invalid
    and skewed cosignatures are added to ``findings``."""
    cosigned: dict[str, int] = {}
    published = _parse_time(stored.published_at)
    try:
        note = parse_note(stored.note)
    except NoteError as exc:
        findings.append(
            AttestationFinding("cosignature_invalid", stored.size, stored.where, str(exc))
        )
        return cosigned
    for witness in policy.witnesses:
        name = cosignature_name(stored.size, witness.key_id.hex())
        line = store.get_attestation(name)
        if line is None:
            continue
        try:
            lines = parse_note(note.to_bytes() + line)
            found = cosignatures_in(lines, [witness])
        except NoteError as exc:
            found = []
            message = f"cosignature by {witness.who}: {exc}"
            findings.append(
                AttestationFinding("cosignature_invalid", stored.size, store.where(name), message)
            )
        for cosignature in found:
            cosigned[witness.who] = cosignature.timestamp
            skew = _skew(cosignature.timestamp, published, now)
            if skew is not None and skew > policy.max_skew_seconds:
                findings.append(
                    AttestationFinding(
                        "cosignature_time_skew",
                        stored.size,
                        store.where(name),
                        f"{witness.who} cosigned at {_iso(cosignature.timestamp)}, "
                        f"{skew:.0f} s from the checkpoint's publication "
                        f"({stored.published_at or 'unknown'}) or from now; "
                        f"allowed {policy.max_skew_seconds:g} s",
                    )
                )
    return cosigned


def _skew(timestamp: int, published: datetime | None, now: datetime) -> float | None:
    future = timestamp - now.timestamp()
    if future > 0:
        return future
    return None if published is None else abs(timestamp - published.timestamp())


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_timestamps(
    store: CheckpointStore, sizes: list[int], policy: WitnessPolicy, report: AttestationReport
) -> None:
    for size in reversed(sizes):
        name = timestamp_name(size)
        token = store.get_attestation(name)
        stored = store.get_checkpoint(size)
        if token is None or stored is None:
            continue
        if policy.tsa is None:
            report.timestamps[size] = "not checked (no TSA certificates given)"
            continue
        try:
            proved = verify_timestamp(token, stored.note, policy.tsa)
        except TimestampError as exc:
            report.findings.append(
                AttestationFinding(exc.reason, size, store.where(name), str(exc))
            )
            continue
        report.timestamps[size] = proved.strftime("%Y-%m-%dT%H:%M:%SZ")
    valid = [s for s, t in report.timestamps.items() if t[:1].isdigit()]
    if policy.require_timestamp and not valid:
        newest = sizes[-1]
        report.findings.append(
            AttestationFinding(
                "timestamp_missing",
                newest,
                store.where(timestamp_name(newest)),
                f"none of the newest {len(sizes)} checkpoint(s) carries a valid RFC 3161 token",
            )
        )
