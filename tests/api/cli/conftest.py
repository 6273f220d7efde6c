"""A real provledger service on a loopback port, for the client and its commands.

uvicorn serves ``create_app(runtime, start_workers=True)`` from a background thread, configured
by ``api.server`` as under ``provledger serve``, so the relayer and indexer run as they do
there. It runs on its own embedded chain rather than the session's eth-tester chain: request
handlers, relayer and indexer touch the chain from several threads at once, which the embedded
chain serialises and the bare eth-tester chain does not; and a server that outlives one test
cannot live inside the per-test snapshots. One server serves the whole package; each test
enrols departments with fresh ids (:func:`department_ids`), so tests never see each other's
writes as their own.
"""

from __future__ import annotations

import itertools
import json
import resource
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
import uvicorn
from cli_harness import UPLOAD_LIMIT, Department, Invoke, Service
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from api.app import GOVERNANCE_TOKEN_FILE, create_app
from api.cli import app
from api.server import config as server_config
from ledger.chain.anvil import free_port
from ledger.config import Settings
from ledger.relayer import Operation
from ledger.runtime import Runtime


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data_dir = tmp_path_factory.mktemp("service")
    settings = Settings(
        data_dir=data_dir,
        rpc_url=None,
        database_url=f"sqlite:///{data_dir / 'provledger.db'}",
        keystore_scrypt_n=2**4,  # cheap for tests; real keystores keep eth-account's default
        relayer_poll_interval=0.02,
        indexer_poll_interval=0.05,
        max_upload_bytes=UPLOAD_LIMIT,
        batch_max_age=0.2,  # flush batches quickly: tests wait for them
    )
    runtime = Runtime.open(settings)
    port = free_port()
    config = server_config(  # served as `provledger serve` serves it, on a free port
        create_app(runtime, start_workers=True),
        settings,
        open_files=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
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
                pytest.fail("the test server did not start")
            time.sleep(0.02)
        token = (data_dir / GOVERNANCE_TOKEN_FILE).read_text().strip()
        yield Service(f"http://127.0.0.1:{port}", token, data_dir, runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.close()
    assert not thread.is_alive(), "the test server did not stop"


_ids = itertools.count(100)


@pytest.fixture(scope="package")
def department_ids() -> Callable[[], int]:
    """Fresh department ids: the chain is shared by every test in the package."""
    return lambda: next(_ids)


@pytest.fixture(scope="package")
def provledger(service: Service) -> Invoke:
    """Run ``provledger ARGS…`` against the service, as a person or script would.

    ``token`` is sent as PROVLEDGER_TOKEN (None sends none); stdout and stderr stay apart."""
    runner = CliRunner()

    def invoke(*args: str, token: str | None = None, **env: str) -> Result:
        environment = {
            "PROVLEDGER_URL": service.url,
            "PROVLEDGER_TOKEN": token,
            "PROVLEDGER_DATA_DIR": str(service.data_dir / "not-here"),
            "COLUMNS": "200",
            **env,
        }
        return runner.invoke(app, list(args), env=environment)

    return invoke


@pytest.fixture(scope="package")
def enrol(
    provledger: Invoke, service: Service, department_ids: Callable[[], int]
) -> Callable[[str], Department]:
    """Enrol a department through the CLI (waiting for the chain) and return its token."""

    def run(name: str) -> Department:
        number = department_ids()
        result = provledger(
            "dept", "enrol", str(number), name, "--json", token=service.governance_token
        )
        assert result.exit_code == 0, result.output
        return Department(number, json.loads(result.stdout)["token"])

    return run


@pytest.fixture
def outbox_size(service: Service) -> Callable[[], int]:
    """How many writes the service has ever accepted: a refused request adds none."""

    def count() -> int:
        with Session(service.runtime.engine) as session:
            return len(session.exec(select(Operation.id)).all())

    return count


@pytest.fixture
def paused_workers(service: Service) -> Callable[[], AbstractContextManager[None]]:
    """``with paused_workers():`` relayer and indexer stopped, so accepted writes stay pending."""

    @contextmanager
    def paused() -> Iterator[None]:
        service.runtime.stop_workers()
        try:
            yield
        finally:
            service.runtime.start_workers()

    return paused
