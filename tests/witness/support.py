"""Real parts for the witness tests: a log with tiles and signed checkpoints in a real local
checkpoint store, and witness servers run as real processes on free loopback ports."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from mcp_bridge.audit.checkpoint import Checkpoint, sign_checkpoint
from mcp_bridge.audit.checkpoint_store import WriteOnceCheckpoints
from mcp_bridge.audit.keygen import write_signer_key
from mcp_bridge.audit.merkle import CompactRange, leaf_hash
from mcp_bridge.audit.note import Signer
from mcp_bridge.audit.storage.local.checkpoints import local_checkpoints
from mcp_bridge.audit.tiles import TileBuilder
from mcp_bridge.audit.witness.cosignature import Cosigner, CosignerVerifier

REPO = Path(__file__).resolve().parents[2]


def published_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SyntheticLog:
    """Leaves, hash tiles and signed checkpoints, stored as the writer stores them."""

    def __init__(
        self,
        root: Path | WriteOnceCheckpoints,
        origin: str = "audit.example.com/test",
        signer: Signer | None = None,
    ):
        self.origin = origin
        self.signer = signer or Signer.generate(origin)
        self.store = root if isinstance(root, WriteOnceCheckpoints) else local_checkpoints(root)
        self.tiles = TileBuilder()
        self.compact = CompactRange()

    @property
    def vkey(self) -> str:
        return self.signer.verifier.to_text()

    def append(self, count: int) -> None:
        for _ in range(count):
            leaf = leaf_hash(secrets.token_bytes(32))
            self.tiles.append(leaf)
            self.compact.append(leaf)

    def checkpoint(self) -> tuple[bytes, int]:
        """Sign the current tree head without storing it."""
        cp = Checkpoint(self.origin, self.compact.size, self.compact.root())
        return sign_checkpoint(cp, self.signer), self.compact.size

    def publish(self, published_at: str | None = None) -> tuple[bytes, int]:
        """Write the tiles, then the checkpoint and its publication time."""
        for tile, data in self.tiles.flush():
            self.store.put_tile(tile.path, data)
        note, size = self.checkpoint()
        self.store.put_checkpoint(size, note, published_at or published_now(), self.origin)
        return note, size


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WitnessProcess:
    """``python -m mcp_bridge.audit witness serve`` in its own process."""

    def __init__(
        self, folder: Path, name: str, logs: list[tuple[str, str]], script: Path | None = None
    ):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        signer = Signer.generate(name)
        self.key_file = folder / "witness.key"
        write_signer_key(self.key_file, signer)
        self.cosigner = Cosigner(signer)
        self.verifier: CosignerVerifier = self.cosigner.verifier
        entries = "".join(f'\n[[log]]\norigin = "{o}"\nkey = "{k}"\n' for o, k in logs)
        self.config = folder / "witness.toml"
        self.config.write_text(f'key = "witness.key"\nstate = "state"\n{entries}')
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.script = script
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def vkey(self) -> str:
        return self.verifier.to_text()

    def start(self, script: Path | None = None) -> WitnessProcess:
        runner = script or self.script
        command = (
            [sys.executable, str(runner)]
            if runner
            else [sys.executable, "-m", "mcp_bridge.audit", "witness", "serve"]
        )
        command += ["--config", str(self.config), "--port", str(self.port)]
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        self.process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    self.process.stderr.read().decode() if self.process.stderr else ""
                )
            try:
                httpx.get(f"{self.url}/none/checkpoint", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("witness did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def add(self, body: bytes) -> httpx.Response:
        return httpx.post(f"{self.url}/add-checkpoint", content=body, timeout=10)
