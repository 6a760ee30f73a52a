"""Where ``--follow`` delivers: stdout or a file (JSON lines), Splunk HEC, a generic webhook.

``send(rows)`` returns only once the sink has acknowledged the whole batch (a file: written and
fsynced; HTTP: a 2xx answer, for HEC one whose body says ``code 0``). A failure worth retrying
raises :class:`SinkUnavailable`; one that retrying cannot fix (a rejected token, a refused
payload) raises :class:`SinkRejected`. Every row carries ``seq`` so receivers can deduplicate
the re-deliveries at-least-once implies.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from ..errors import AuditStorageError, AuditUsageError
from .formats.jsonl import encode_row, json_row
from .rows import ExportRow

HEC_TOKEN_ENV = "AUDIT_EXPORT_HEC_TOKEN"
WEBHOOK_TOKEN_ENV = "AUDIT_EXPORT_WEBHOOK_TOKEN"
HEC_SOURCETYPE = "mcp_bridge:audit"
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class SinkUnavailable(AuditStorageError):
    """The sink did not acknowledge; the batch is sent again (exit 3 once retries run out)."""

    hint = "check that the sink is reachable; the follower resumes from its cursor"


class SinkRejected(AuditUsageError):
    """The sink refused the batch for a reason retrying cannot fix (exit 2)."""


class Sink(Protocol):
    def send(self, rows: Sequence[ExportRow]) -> None: ...

    def close(self) -> None: ...


class StreamSink:
    """JSON lines to stdout, or appended to a file and fsynced before acknowledging."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._fd: int | None = None
        if path is not None:
            try:
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise AuditUsageError(f"--sink file:{path}: {exc.strerror or exc}") from exc

    def send(self, rows: Sequence[ExportRow]) -> None:
        data = b"".join(encode_row(row) for row in rows)
        try:
            if self._fd is None:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                return
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            raise SinkUnavailable(f"cannot write to {self._path or 'stdout'}: {exc}") from exc

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


class _HttpSink:
    def __init__(self, url: str, headers: dict[str, str], ca: str | None) -> None:
        self.url = url
        self._client = httpx.Client(headers=headers, timeout=_TIMEOUT, verify=ca or True)

    def _post(self, content: bytes, headers: dict[str, str]) -> httpx.Response:
        try:
            response = self._client.post(self.url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise SinkUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in _RETRYABLE_STATUS:
            raise SinkUnavailable(f"{self.url} answered HTTP {response.status_code}")
        if not response.is_success:
            raise SinkRejected(
                f"{self.url} refused the batch: HTTP {response.status_code} "
                f"{response.text[:200]!r}",
                hint=self.rejected_hint(response.status_code),
            )
        return response

    def rejected_hint(self, status: int) -> str:
        return "check the sink URL and what the receiver expects"

    def close(self) -> None:
        self._client.close()


class HecSink(_HttpSink):
    """Splunk HTTP Event Collector, ``/services/collector/event`` (events batched in one POST)."""

    def __init__(self, url: str, token: str, ca: str | None = None) -> None:
        super().__init__(url, {"Authorization": f"Splunk {token}"}, ca)

    def send(self, rows: Sequence[ExportRow]) -> None:
        body = b"".join(_hec_event(row) for row in rows)
        response = self._post(body, {"Content-Type": "application/json"})
        try:
            code = response.json().get("code")
        except (ValueError, AttributeError):
            code = None
        if code != 0:
            raise SinkUnavailable(f"{self.url} did not acknowledge: {response.text[:200]!r}")

    def rejected_hint(self, status: int) -> str:
        if status in (401, 403):
            return f"the HEC token in ${HEC_TOKEN_ENV} was refused; set a valid, enabled token"
        return "check the HEC URL (…/services/collector/event) and the token's allowed indexes"


class WebhookSink(_HttpSink):
    """A generic HTTPS endpoint: one POST per batch, a JSON array of rows."""

    def __init__(self, url: str, token: str | None, ca: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(url, headers, ca)

    def send(self, rows: Sequence[ExportRow]) -> None:
        body = json.dumps([json_row(row) for row in rows], ensure_ascii=False).encode()
        key = f"mcp-bridge-{rows[0].seq}-{rows[-1].seq}"
        self._post(body, {"Content-Type": "application/json", "Idempotency-Key": key})

    def rejected_hint(self, status: int) -> str:
        if status in (401, 403):
            return f"the webhook refused the credentials; check ${WEBHOOK_TOKEN_ENV}"
        return "check the webhook URL and what the receiver expects"


def _hec_event(row: ExportRow) -> bytes:
    event: dict[str, Any] = {
        "time": datetime.fromisoformat(row.timestamp).timestamp(),
        "source": "mcp-bridge",
        "sourcetype": HEC_SOURCETYPE,
        "event": json_row(row),
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def open_sink(spec: str, environ: dict[str, str], ca: str | None) -> Sink:
    """The sink named by ``--sink`` (stdout | file:PATH | hec:URL | webhook:URL)."""
    kind, _, target = spec.partition(":")
    if spec == "stdout":
        return StreamSink(None)
    if kind == "file" and target:
        return StreamSink(Path(target).expanduser())
    if kind in ("hec", "webhook") and target.startswith(("http://", "https://")):
        if kind == "webhook":
            return WebhookSink(target, environ.get(WEBHOOK_TOKEN_ENV) or None, ca)
        token = environ.get(HEC_TOKEN_ENV, "")
        if not token:
            raise AuditUsageError(
                f"--sink hec: needs the HEC token in ${HEC_TOKEN_ENV}",
                hint=f"export {HEC_TOKEN_ENV}=<token> (never pass it on the command line)",
            )
        return HecSink(target, token, ca)
    raise AuditUsageError(
        f"--sink {spec!r} is not stdout, file:PATH, hec:URL or webhook:URL",
        hint="e.g. --sink hec:https://splunk.example.com:8088/services/collector/event",
    )
