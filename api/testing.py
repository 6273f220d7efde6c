"""provledger in an integrator's own tests: a pytest plugin, installed with the package
(entry point ``pytest11``: ``provledger``), so ``pip install provledger`` is all it takes.

Fixtures (all names start with ``provledger_``, so none shadows a project's own):

``provledger_service`` (session)
    A real provledger service on a real in-process chain (py-evm, through eth-tester's
    ``PyEVMBackend``, with the contracts deployed), served by uvicorn on a loopback port with
    its relayer, batcher and indexer running, as ``provledger serve`` runs them. Governance
    has enrolled departments 1 and 2 (custodial keys) and issued an auditor token. A
    :class:`LedgerService`: its ``url``, ``rpc_url`` (read-only JSON-RPC for web3.py, ethers,
    ``cast``), tokens, contract addresses, and ``client(who)`` for a typed client.
``provledger_client``
    A :class:`~api.client.ProvledgerClient` acting as department 1, closed after the test.
``provledger_auditor``
    The same for the auditor token (reads and verification only).

The service is shared by the whole test session; give each test's data its own content
(random bytes, unique titles), as the service's own suite does. Nothing here reaches the
network: the chain, the database (SQLite) and the keystores live in a temporary directory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from api.client import ProvledgerClient
    from ledger.config import Settings
    from ledger.runtime import Runtime

#: The departments the service starts with, by id.
DEPARTMENTS = {1: "Department 1", 2: "Department 2"}

Who = int | Literal["governance", "auditor"]


@dataclass
class LedgerService:
    """A running provledger service, as :func:`serve_ledger` left it."""

    url: str
    governance_token: str
    department_tokens: dict[int, str]
    auditor_token: str
    runtime: Runtime
    #: Addresses of the deployed contracts (``dataset_registry``, ``access_registry``, …).
    deployment: dict[str, Any] = field(default_factory=dict)

    @property
    def rpc_url(self) -> str:
        """Read-only Ethereum JSON-RPC onto the service's chain."""
        return f"{self.url}/rpc"

    def token(self, who: Who) -> str:
        if who == "governance":
            return self.governance_token
        if who == "auditor":
            return self.auditor_token
        return self.department_tokens[who]

    def client(self, who: Who = 1) -> ProvledgerClient:
        """A typed client acting as a department (by id), ``"governance"`` or ``"auditor"``;
        close it (or use it in a ``with`` block)."""
        from api.client import ProvledgerClient

        return ProvledgerClient(self.url, self.token(who))


def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a service on its own embedded chain and SQLite in ``data_dir``, quick for
    tests: cheap keystores, workers that poll often, batches flushed at once, no throttling of
    the errors tests provoke on purpose."""
    from ledger.config import Settings

    defaults: dict[str, Any] = {
        "data_dir": data_dir,
        "rpc_url": None,
        "database_url": f"sqlite:///{data_dir / 'provledger.db'}",
        "keystore_scrypt_n": 2**4,  # cheap for tests; real keystores keep eth-account's default
        "relayer_poll_interval": 0.02,
        "indexer_poll_interval": 0.05,
        "batch_max_age": 0.2,
        "error_rate": 1e4,
        "error_burst": 1e5,
    }
    return Settings(**{**defaults, **overrides})


@contextmanager
def serve_in_thread(runtime: Runtime, *, start_workers: bool = True) -> Iterator[str]:
    """Serve ``runtime`` on a free loopback port until the block ends; yields the base URL."""
    import uvicorn

    from api.app import create_app
    from api.server import config as server_config
    from ledger.chain.anvil import free_port

    port = free_port()
    config = server_config(  # served as `provledger serve` serves it, on a free port
        create_app(runtime, start_workers=start_workers),
        runtime.settings,
        open_files=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="provledger-test-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    if thread.is_alive():
        raise RuntimeError("the test server did not stop")


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any ``PROVLEDGER_`` setting, plus ``settings``
    (``PORT="8001"`` sets ``PROVLEDGER_PORT``): a child service configured by the caller alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVLEDGER_")}
    return env | {f"PROVLEDGER_{name}": value for name, value in settings.items()}


class ServiceDidNotStartError(RuntimeError):
    """A service started as a child process exited, or did not answer ``/readyz`` in time."""


@contextmanager
def serve_process(
    command: Sequence[str],
    *,
    url: str,
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (a ``provledger serve``, as a user starts it) as a child process, its
    output in ``log_path``, until ``{url}/readyz`` answers 200; terminate it and wait when the
    block ends. Raises :class:`ServiceDidNotStartError`, with the log, if it exits first or is
    not ready within ``timeout`` seconds."""
    import httpx2

    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx2.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ServiceDidNotStartError(
                        f"{' '.join(command)} did not come up:\n{log_path.read_text()}"
                    )
                time.sleep(0.1)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)


@contextmanager
def serve_ledger(data_dir: Path, *, confirm_timeout: float = 60.0) -> Iterator[LedgerService]:
    """A provledger service on its own chain in ``data_dir``, with departments 1 and 2 and an
    auditor token, until the block ends."""
    from api.app import GOVERNANCE_TOKEN_FILE
    from api.client import ProvledgerClient
    from ledger.runtime import Runtime

    runtime = Runtime.open(embedded_settings(data_dir))
    try:
        with serve_in_thread(runtime) as url:
            governance = (data_dir / GOVERNANCE_TOKEN_FILE).read_text().strip()
            with ProvledgerClient(url, governance) as client:
                enrolled = {n: client.enrol_department(n, name) for n, name in DEPARTMENTS.items()}
                for answer in enrolled.values():
                    operation = client.wait_for_operation(
                        answer.operation_id, timeout=confirm_timeout
                    )
                    if operation.status != "confirmed":
                        raise RuntimeError(f"enrolment did not confirm: {operation}")
                auditor = client.issue_auditor_token(label="tests").token
            yield LedgerService(
                url=url,
                governance_token=governance,
                department_tokens={n: a.token for n, a in enrolled.items()},
                auditor_token=auditor,
                runtime=runtime,
                deployment=json.loads(runtime.ledger.deployment.to_json()),
            )
    finally:
        runtime.close()


@pytest.fixture(scope="session")
def provledger_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerService]:
    """A running provledger service with departments 1 and 2 and an auditor (see the module)."""
    with serve_ledger(tmp_path_factory.mktemp("provledger")) as service:
        yield service


@pytest.fixture
def provledger_client(provledger_service: LedgerService) -> Iterator[ProvledgerClient]:
    """A typed client acting as department 1."""
    with provledger_service.client(1) as client:
        yield client


@pytest.fixture
def provledger_auditor(provledger_service: LedgerService) -> Iterator[ProvledgerClient]:
    """A typed client holding the auditor token."""
    with provledger_service.client("auditor") as client:
        yield client
