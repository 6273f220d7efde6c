"""A real provledger service on a loopback port, for the client and its commands.

uvicorn serves ``create_app(runtime, start_workers=True)`` from a background thread, so the
relayer and indexer run as they do under ``provledger serve``. It runs on its own embedded
chain rather than the session's eth-tester chain: request handlers, relayer and indexer touch
the chain from several threads at once, which the embedded chain serialises and the bare
eth-tester chain does not; and a server that outlives one test cannot live inside the
per-test snapshots. One server serves the whole package; each test enrols departments with
fresh ids (:func:`department_ids`), so tests never see each other's writes as their own.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from cli_harness import UPLOAD_LIMIT, Department, Invoke, Service
from live_server import embedded_settings, serve_in_thread
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from api.app import GOVERNANCE_TOKEN_FILE
from api.cli import app
from ledger.relayer import Operation
from ledger.runtime import Runtime


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data_dir = tmp_path_factory.mktemp("service")
    runtime = Runtime.open(embedded_settings(data_dir, max_upload_bytes=UPLOAD_LIMIT))
    try:
        with serve_in_thread(runtime) as base_url:
            token = (data_dir / GOVERNANCE_TOKEN_FILE).read_text().strip()
            yield Service(base_url, token, data_dir, runtime)
    finally:
        runtime.close()


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
