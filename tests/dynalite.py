"""dynalite (npm), a second DynamoDB implementation independent of moto, as a loopback server.

`make` installs it into tools/dynalite/node_modules from the committed package-lock.json. Its store is
in memory (dynalite's default, a LevelDB-compatible memory-level): a server lives for one test module.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "tools" / "dynalite" / "node_modules" / "dynalite" / "cli.js"
START_TIMEOUT = 30.0
# Tables change state at once (dynalite's default keeps them CREATING for 500 ms).
IMMEDIATE = ("--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
PORT_ATTEMPTS = 5  # dynalite takes no port 0: a port found free may be taken before it binds


class DynaliteMissing(RuntimeError):
    """node exists but dynalite is not installed."""


def node() -> str | None:
    return shutil.which("node")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Dynalite:
    """One dynalite server on a free loopback port; tables are ACTIVE as soon as they are created."""

    def __init__(self, node_binary: str) -> None:
        if not CLI.is_file():
            raise DynaliteMissing(
                f"dynalite is not installed ({CLI.relative_to(ROOT)} is missing): run `make dynalite` "
                "(`make test` does it), which installs it with npm ci from tools/dynalite/package-lock.json"
            )
        self._node = node_binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.endpoint_url = ""

    def __enter__(self) -> Dynalite:
        failures = []
        for _ in range(PORT_ATTEMPTS):
            port = _free_port()
            if self._start(port):
                self.endpoint_url = f"http://127.0.0.1:{port}"
                return self
            failures.append(self._stop())
        raise RuntimeError(f"dynalite did not start in {PORT_ATTEMPTS} attempts: {failures[-1]}")

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop()

    def _start(self, port: int) -> bool:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (kept open for the server's life, closed in _stop)
        self._process = subprocess.Popen(
            [self._node, str(CLI), "--host", "127.0.0.1", "--port", str(port), *IMMEDIATE],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False  # exited: most likely the port was taken meanwhile
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def _stop(self) -> str:
        """Stop the server (ours only, by its handle) and return what it printed."""
        output = ""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.seek(0)
            output = self._log.read().decode(errors="replace")[-2000:]
            self._log.close()
            self._log = None
        return output

    def client(self) -> Any:
        """A botocore DynamoDB client for this server (dynalite checks that requests are signed, not the keys)."""
        session = boto3.session.Session(
            aws_access_key_id="AKIADYNALITE00000000", aws_secret_access_key="dynalite", region_name="us-east-1"
        )
        return session.client("dynamodb", endpoint_url=self.endpoint_url)
