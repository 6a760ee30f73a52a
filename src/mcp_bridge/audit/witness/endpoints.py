"""``AUDIT_WITNESSES``: which witnesses a writer asks, and with which key it checks their answers.

Pure. The value is a comma-separated list of entries ``<submission URL> <witness verifier
key>``: the URL is the witness's submission prefix (``/add-checkpoint`` is appended), the key
is the ``cosignature/v1`` verifier key its operator printed with ``witness vkey``::

    AUDIT_WITNESSES="https://w1.example.net name1+1a2b3c4d+BH…, https://w2.example.org name2+…"
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..note import NoteError
from .cosignature import CosignerVerifier


@dataclass(frozen=True, slots=True)
class WitnessEndpoint:
    """One witness: where to submit, and the key its cosignatures must verify with."""

    url: str
    verifier: CosignerVerifier

    @property
    def add_checkpoint_url(self) -> str:
        return self.url.rstrip("/") + "/add-checkpoint"


def parse_witnesses(text: str) -> list[WitnessEndpoint]:
    """Parse ``AUDIT_WITNESSES``; :class:`ValueError` says which entry is wrong and why."""
    endpoints: list[WitnessEndpoint] = []
    for number, entry in enumerate(text.split(","), start=1):
        parts = entry.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ValueError(f"entry {number} must be '<URL> <witness key>', got {entry.strip()!r}")
        url, key = parts
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"entry {number}: {url!r} is not an http(s) URL")
        try:
            verifier = CosignerVerifier.from_text(key)
        except NoteError as exc:
            raise ValueError(f"entry {number}: {exc}") from None
        if any(e.verifier.key_id == verifier.key_id for e in endpoints):
            raise ValueError(f"entry {number}: witness key {verifier.who} is listed twice")
        endpoints.append(WitnessEndpoint(url, verifier))
    return endpoints


def parse_witness_keys(texts: list[str]) -> list[CosignerVerifier]:
    """Witness verifier keys for verification (``--witness``, ``AUDIT_VERIFY_WITNESSES``)."""
    keys: list[CosignerVerifier] = []
    for text in texts:
        for part in text.replace(",", " ").split():
            try:
                keys.append(CosignerVerifier.from_text(part))
            except NoteError as exc:
                raise ValueError(str(exc)) from None
    return keys
