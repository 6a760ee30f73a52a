"""Real HTTP receivers for the streaming tests: a Splunk-HEC-compatible collector and a webhook.

Both run in a thread on a loopback port, check credentials the way the real thing does, and
record what they accepted. ``fail_every`` makes one request in N fail (HTTP 503, or the
connection dropped without an answer), which is the intermittent sink of the issue.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Receiver:
    def __init__(self, kind: str, token: str, fail_every: int = 0) -> None:
        self.kind = kind
        self.token = token
        self.fail_every = fail_every
        self.requests = 0
        self.failed = 0
        self.events: list[dict[str, Any]] = []
        self.batches: list[int] = []
        self.lock = threading.Lock()
        self.url = ""

    def seqs(self) -> list[int]:
        with self.lock:
            return [event["seq"] for event in self.events]

    def accept(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        with self.lock:
            self.requests += 1
            failing = self.fail_every and self.requests % self.fail_every == 0
            if failing:
                self.failed += 1
        if failing and not self.failed % 2:
            return _answer(handler, 503, {"text": "Server is busy", "code": 9})
        if self.kind == "hec":
            self._hec(handler, body, answer=not failing)
        else:
            self._webhook(handler, body)
        if failing:  # accepted, but the answer is lost: the sender must send it again
            handler.close_connection = True
            handler.connection.shutdown(2)

    def _hec(self, handler: BaseHTTPRequestHandler, body: bytes, *, answer: bool = True) -> None:
        if handler.path != "/services/collector/event":
            return _answer(handler, 404, {"text": "not found", "code": 404})
        if handler.headers.get("Authorization") != f"Splunk {self.token}":
            return _answer(handler, 403, {"text": "Invalid token", "code": 4})
        decoder, events, at = json.JSONDecoder(), [], 0
        text = body.decode()
        while at < len(text):
            envelope, at = decoder.raw_decode(text, at)
            if "event" not in envelope or not isinstance(envelope.get("time"), float | int):
                return _answer(handler, 400, {"text": "Event field is required", "code": 12})
            events.append(envelope["event"])
        with self.lock:
            self.events.extend(events)
            self.batches.append(len(events))
        if answer:
            _answer(handler, 200, {"text": "Success", "code": 0})

    def _webhook(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return _answer(handler, 401, {"error": "unauthorized"})
        rows = json.loads(body)
        with self.lock:
            self.events.extend(rows)
        _answer(handler, 204, None)


def _answer(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files): the CA bundle is the cert itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def running(receiver: Receiver, tls: tuple[Path, Path] | None = None) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.accept(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    path = "/services/collector/event" if receiver.kind == "hec" else "/hook"
    receiver.url = f"{scheme}://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
