"""The writer's side of witnessing: submit each new checkpoint to every witness, store the
cosignatures beside it, never block the records.

``WitnessSubmitter.submit(note, size)`` returns at once; one background worker per witness
sends ``old <size the witness last cosigned>``, the consistency proof (computed from the hash
tiles, which are written before their checkpoint, level 0 derived from the records) and the
note. The size a witness last saw is
learnt from its 409 answer (on start the submitter asks with ``old 0``, as the spec allows).
A witness that is down or refuses is retried with exponential backoff while newer checkpoints
replace the pending one. Each valid cosignature is stored write-once at
``_checkpoints/<size>.cosig/<witness key id>``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx

from ..checkpoint_store import CheckpointStore, cosignature_name
from ..merkle import consistency_proof
from ..note import NoteError
from ..tiles import TileError, TileFetcher, TileHashes
from .cosignature import attach, cosignatures_in
from .endpoints import WitnessEndpoint
from .protocol import SIZE_CONTENT_TYPE, format_request
from .worker import Backoff, Item, LatestWorker

logger = logging.getLogger(__name__)

_MAX_CONFLICTS = 3


class WitnessRefused(RuntimeError):
    """The witness answered with a refusal (4xx/5xx other than a usable 409)."""


@dataclass(frozen=True, slots=True)
class WitnessLag:
    """How far behind one witness is, for ``/health`` and metrics."""

    url: str
    witness: str
    cosigned_size: int | None
    newest_size: int | None
    behind: int | None
    failures: int
    failures_total: int
    last_error: str | None
    seconds_since_cosigned: float | None

    def to_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "witness": self.witness,
            "cosignedSize": self.cosigned_size,
            "newestSize": self.newest_size,
            "behind": self.behind,
            "failures": self.failures,
            "failuresTotal": self.failures_total,
            "lastError": self.last_error,
            "secondsSinceCosigned": self.seconds_since_cosigned,
        }


class _OneWitness:
    """The state and the exchange with one witness (run by its :class:`LatestWorker`)."""

    def __init__(
        self,
        endpoint: WitnessEndpoint,
        store: CheckpointStore,
        tiles: TileFetcher,
        timeout: float,
        backoff: Backoff,
    ) -> None:
        self.endpoint = endpoint
        self.store = store
        self.tiles = tiles
        self.known: int | None = None  # the size the witness last cosigned, once learnt
        self.cosigned: int | None = None
        self.newest: int | None = None
        self._client = httpx.Client(timeout=timeout)
        self.worker = LatestWorker(f"witness {endpoint.url}", self._handle, backoff)

    def offer(self, item: Item) -> None:
        self.newest = max(item.size, self.newest or 0)
        self.worker.offer(item)

    def _handle(self, item: Item) -> None:
        for _ in range(_MAX_CONFLICTS):
            old = self.known if self.known is not None else 0
            if old > item.size:  # the witness already cosigned a later checkpoint of this log
                self.cosigned = max(self.cosigned or 0, old)
                return
            response = self._post(old, item)
            if response.status_code == 409:
                self.known = _size_of(response)
                continue
            if response.status_code != 200:
                self.known = None if response.status_code == 422 else self.known
                raise WitnessRefused(
                    f"{self.endpoint.url} answered {response.status_code}: "
                    f"{response.text.strip()[:200]}"
                )
            self._keep(item, response.content)
            return
        raise WitnessRefused(f"{self.endpoint.url} kept answering 409 (another writer?)")

    def _post(self, old: int, item: Item) -> httpx.Response:
        proof = self._proof(old, item.size)
        body = format_request(old, proof, item.note)
        return self._client.post(self.endpoint.add_checkpoint_url, content=body)

    def _proof(self, old: int, size: int) -> list[bytes]:
        try:
            return consistency_proof(old, size, TileHashes(size, self.tiles))
        except TileError as exc:
            raise WitnessRefused(f"no consistency proof from {old} to {size}: {exc}") from None

    def _keep(self, item: Item, lines: bytes) -> None:
        try:
            found = cosignatures_in(attach(item.note, lines), [self.endpoint.verifier])
        except NoteError as exc:
            raise WitnessRefused(f"{self.endpoint.url}: unusable cosignature: {exc}") from exc
        if not found:
            who = self.endpoint.verifier.who
            raise WitnessRefused(f"{self.endpoint.url} answered without a cosignature by {who}")
        name = cosignature_name(item.size, self.endpoint.verifier.key_id.hex())
        self.store.put_attestation(name, found[0].line.encode())
        self.known = item.size
        self.cosigned = max(self.cosigned or 0, item.size)

    def lag(self) -> WitnessLag:
        success = self.worker.last_success
        behind = None if self.newest is None else self.newest - (self.cosigned or 0)
        return WitnessLag(
            url=self.endpoint.url,
            witness=self.endpoint.verifier.who,
            cosigned_size=self.cosigned,
            newest_size=self.newest,
            behind=behind,
            failures=self.worker.failures,
            failures_total=self.worker.failures_total,
            last_error=self.worker.last_error,
            seconds_since_cosigned=None if success is None else time.time() - success,
        )

    def close(self) -> None:
        self.worker.close()
        self._client.close()


def _size_of(response: httpx.Response) -> int:
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    text = response.text
    if kind != SIZE_CONTENT_TYPE or not text.endswith("\n") or not text[:-1].isdigit():
        raise WitnessRefused(f"409 without a {SIZE_CONTENT_TYPE} body: {text[:80]!r}")
    return int(text[:-1])


class WitnessSubmitter:
    """Submits checkpoints to the configured witnesses in the background."""

    def __init__(
        self,
        witnesses: list[WitnessEndpoint],
        store: CheckpointStore,
        *,
        tiles: TileFetcher,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        """``store`` keeps the cosignatures; ``tiles`` reads the log's hash tiles for the
        proofs (a :class:`~..tile_source.TileSource`: level 0 derived from the records)."""
        chosen = backoff or Backoff()
        self._witnesses = [_OneWitness(w, store, tiles, timeout, chosen) for w in witnesses]

    def submit(self, note: bytes, size: int) -> None:
        """Hand the newly published checkpoint to every witness; returns at once."""
        for witness in self._witnesses:
            witness.offer(Item(size, note))

    def lag(self) -> list[WitnessLag]:
        return [witness.lag() for witness in self._witnesses]

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(w.worker.wait_idle(max(deadline - time.monotonic(), 0)) for w in self._witnesses)

    def close(self) -> None:
        for witness in self._witnesses:
            witness.close()
