"""A managed anvil process: a real local EVM node reached over JSON-RPC.

The binary comes from the pinned npm package ``@foundry-rs/anvil-linux-amd64`` (or
``PROVLEDGER_ANVIL``, or ``anvil`` on PATH). It is started with the same hardfork the contracts
are compiled for, listens on loopback only, and keeps at most ``keep_states`` states in memory
(``--prune-history``) so it writes nothing to ``~/.foundry`` for runs that do not ask for a
state file.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests

from ledger.closing import ClosesOnExit
from ledger.compiler import SETTINGS, project_root
from ledger.errors import ChainUnavailableError, ToolchainError


def anvil_binary() -> Path:
    """Where the anvil executable is: ``PROVLEDGER_ANVIL``, the npm package, or PATH."""
    configured = os.environ.get("PROVLEDGER_ANVIL")
    if configured:
        return Path(configured)
    bundled = (
        project_root() / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    )
    if bundled.is_file():
        return bundled
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ToolchainError("anvil not found: run `npm ci` (package @foundry-rs/anvil-linux-amd64)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AnvilNode(ClosesOnExit):
    """One anvil process on ``127.0.0.1:port``; a context manager that always stops it."""

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int = 31337,
        keep_states: int = 256,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.chain_id = chain_id
        self._args = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(chain_id),
            "--hardfork", str(SETTINGS["evmVersion"]),
            "--prune-history", str(keep_states),
            "--silent",
            *extra_args,
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> AnvilNode:
        try:
            self._process = subprocess.Popen(
                self._args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise ToolchainError(f"cannot start anvil: {exc}") from exc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise ChainUnavailableError(
                    f"anvil exited with {self._process.returncode}: {stderr.strip()}"
                )
            try:
                requests.post(
                    self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1
                )
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise ChainUnavailableError(f"anvil did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def close(self) -> None:
        """Stop the process: what leaving a ``with`` block does."""
        self.stop()

    def __enter__(self) -> AnvilNode:
        return self.start()
