"""The tlog-witness HTTP server (Starlette): ``POST /add-checkpoint`` and the monitoring read
``GET /<origin hash>/checkpoint``.

Each add-checkpoint runs its whole check-persist-cosign sequence under one lock, in a worker
thread (the fsyncs block), so two concurrent requests can never both pass the size check
against the same old state (the roll-back race the spec warns about).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .cosignature import Cosigner
from .protocol import (
    MAX_REQUEST_BYTES,
    Accept,
    Refuse,
    RequestError,
    decide,
    origin_of,
    parse_request,
)
from .settings import WitnessSettings
from .state import WitnessState, origin_hash

logger = logging.getLogger(__name__)


class Witness:
    """The witness's logic around the pure :func:`.protocol.decide`: state, lock, cosigning."""

    def __init__(
        self, settings: WitnessSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.state = WitnessState(settings.state)
        self.cosigner: Cosigner = settings.cosigner
        self._clock = clock
        self._lock = threading.Lock()
        self._by_hash = {origin_hash(origin): origin for origin in settings.logs}

    def add_checkpoint(self, body: bytes) -> Refuse | bytes:
        """Check, persist, cosign: the cosignature line(s), or the refusal to send."""
        try:
            request = parse_request(body)
        except RequestError as exc:
            return Refuse(400, "malformed", str(exc))
        with self._lock:
            origin = _origin_or_none(request.note)
            stored = self.state.latest(origin) if origin in self.settings.logs else None
            verdict = decide(request, self.settings.logs, stored[1] if stored else None)
            if isinstance(verdict, Refuse):
                logger.info("add-checkpoint refused (%s): %s", verdict.status, verdict.message)
                return verdict
            return self._cosign(verdict, request.note)

    def _cosign(self, accepted: Accept, note: bytes) -> bytes:
        line = self.cosigner.cosign(accepted.text, int(self._clock())).line().encode()
        self.state.store(accepted.checkpoint, note + line)
        logger.info("cosigned %s at size %d", accepted.checkpoint.origin, accepted.checkpoint.size)
        return line

    def latest_note(self, hashed_origin: str) -> bytes | None:
        origin = self._by_hash.get(hashed_origin)
        stored = self.state.latest(origin) if origin is not None else None
        return stored[0] if stored else None


def _origin_or_none(note: bytes) -> str:
    try:
        return origin_of(note)
    except RequestError:
        return ""


def build_app(witness: Witness) -> Starlette:
    """The ASGI application serving ``witness``."""

    async def add_checkpoint(request: Request) -> Response:
        body = await _bounded_body(request)
        if body is None:
            return Response(f"request larger than {MAX_REQUEST_BYTES} bytes\n", status_code=413)
        outcome = await run_in_threadpool(witness.add_checkpoint, body)
        if isinstance(outcome, Refuse):
            return Response(
                outcome.response_body(),
                status_code=outcome.status,
                headers={"Content-Type": outcome.content_type},  # exactly: no charset added
            )
        return Response(outcome, media_type="text/plain; charset=utf-8")

    async def checkpoint(request: Request) -> Response:
        note = await run_in_threadpool(witness.latest_note, request.path_params["origin"])
        if note is None:
            return Response("no checkpoint cosigned for this log\n", status_code=404)
        return Response(note, media_type="text/plain; charset=utf-8")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin:str}/checkpoint", checkpoint, methods=["GET"]),
        ]
    )


async def _bounded_body(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
