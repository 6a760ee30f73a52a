"""What the writer calls after publishing a checkpoint: witnesses and the TSA, in the background.

:class:`Attestors` is the one entry: ``submit(note, size)`` returns at once; the witness
submitters and the timestamp client work in their own threads, so a slow or absent witness or
TSA never delays a record. :func:`attestors_from_config` builds it from ``AppConfig``
(``AUDIT_WITNESSES``, ``AUDIT_TSA_URL``, ``AUDIT_TSA_CERTS``, ``AUDIT_TSA_EVERY``), and
:meth:`Attestors.health` is what ``/health`` shows.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from ...config import AppConfig
from ..checkpoint_store import CheckpointStore, timestamp_name
from ..tile_source import TileSource
from .endpoints import WitnessEndpoint, parse_witnesses
from .options import load_tsa_trust
from .submitter import WitnessSubmitter
from .timestamp import TimestampError, TsaTrust, timestamp_request, verify_timestamp
from .worker import Backoff, Item, LatestWorker

logger = logging.getLogger(__name__)


class TimestampSubmitter:
    """Obtains an RFC 3161 token for every ``every``-th checkpoint offered (the newest pending
    one if the TSA falls behind: a token on a later checkpoint also dates every earlier one)."""

    def __init__(
        self,
        url: str,
        store: CheckpointStore,
        *,
        trust: TsaTrust | None,
        every: int = 1,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url
        self.store = store
        self.trust = trust
        self.every = every
        self._offered = 0
        self.stamped: int | None = None
        self._client = httpx.Client(timeout=timeout)
        self.worker = LatestWorker(f"tsa {url}", self._handle, backoff or Backoff())

    def submit(self, note: bytes, size: int) -> None:
        self._offered += 1
        if (self._offered - 1) % self.every == 0:
            self.worker.offer(Item(size, note))

    def _handle(self, item: Item) -> None:
        request = timestamp_request(item.note)
        response = self._client.post(
            self.url,
            content=request.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"TSA {self.url} answered {response.status_code}")
        token = response.content
        if self.trust is not None:
            try:
                verify_timestamp(token, item.note, self.trust, request=request)
            except TimestampError as exc:
                raise RuntimeError(f"TSA {self.url} answered an unusable token: {exc}") from exc
        self.store.put_attestation(timestamp_name(item.size), token)
        self.stamped = item.size

    def close(self) -> None:
        self.worker.close()
        self._client.close()


class Attestors:
    """The witnesses and the TSA of one writer."""

    def __init__(
        self, witnesses: WitnessSubmitter | None, timestamps: TimestampSubmitter | None
    ) -> None:
        self.witnesses = witnesses
        self.timestamps = timestamps

    def submit(self, note: bytes, size: int) -> None:
        """Hand a newly published checkpoint over; never blocks, never raises for a witness."""
        if self.witnesses is not None:
            self.witnesses.submit(note, size)
        if self.timestamps is not None:
            self.timestamps.submit(note, size)

    def health(self) -> dict[str, Any]:
        """Witness lag and TSA progress, for ``/health`` and metrics."""
        report: dict[str, Any] = {}
        if self.witnesses is not None:
            report["witnesses"] = [lag.to_dict() for lag in self.witnesses.lag()]
        if self.timestamps is not None:
            worker = self.timestamps.worker
            report["tsa"] = {
                "url": self.timestamps.url,
                "stampedSize": self.timestamps.stamped,
                "failures": worker.failures,
                "lastError": worker.last_error,
            }
        return report

    def wait_idle(self, timeout: float) -> bool:
        done = self.witnesses.wait_idle(timeout) if self.witnesses is not None else True
        if self.timestamps is not None:
            done = self.timestamps.worker.wait_idle(timeout) and done
        return done

    def close(self) -> None:
        if self.witnesses is not None:
            self.witnesses.close()
        if self.timestamps is not None:
            self.timestamps.close()


def attestation_health(trail: object) -> dict[str, Any] | None:
    """Witness lag and TSA progress of an open trail's checkpoint writer, for ``/health``
    (``None`` when the trail publishes no checkpoints or has no witnesses and no TSA)."""
    scheduler = getattr(trail, "checkpoints", None)
    attestors = getattr(scheduler, "attestors", None)
    return attestors.health() if isinstance(attestors, Attestors) else None


def attestors_from_config(
    config: AppConfig, tiles: TileSource, *, backoff: Backoff | None = None
) -> Attestors | None:
    """The writer's attestors, or ``None`` when neither witnesses nor a TSA are configured;
    ``tiles`` are the log's (its checkpoint store, where attestations are kept: ``.store``)."""
    store = tiles.store
    endpoints: list[WitnessEndpoint] = (
        parse_witnesses(config.audit_witnesses) if config.audit_witnesses else []
    )
    witnesses = (
        WitnessSubmitter(endpoints, store, tiles=tiles, backoff=backoff) if endpoints else None
    )
    timestamps = None
    if config.audit_tsa_url:
        trust = load_tsa_trust(config.audit_tsa_certs) if config.audit_tsa_certs else None
        timestamps = TimestampSubmitter(
            config.audit_tsa_url, store, trust=trust, every=config.audit_tsa_every, backoff=backoff
        )
    if witnesses is None and timestamps is None:
        return None
    return Attestors(witnesses, timestamps)
