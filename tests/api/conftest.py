"""An API over the shared test chain: real contracts, real relayer, and a real database: a
SQLite file in a temp dir, and again PostgreSQL when ``PROVLEDGER_TEST_DATABASE_URL`` names one
(CI starts one; without it those runs are skipped).

Workers are not started; tests call ``relay()`` to move the outbox forward deterministically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import SQLModel

from api.app import GOVERNANCE_TOKEN_FILE, create_app
from ledger.chain.deploy import Ledger
from ledger.config import Settings
from ledger.db import make_engine
from ledger.runtime import Runtime

DATABASE_URL_ENV = "PROVLEDGER_TEST_DATABASE_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test: a SQLite file, or the PostgreSQL database named by
    the environment with every table dropped before and after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        pytest.skip(f"{DATABASE_URL_ENV} is not set: no PostgreSQL database to run against")
    drop_everything(url)  # an interrupted run may have left tables behind
    yield url
    drop_everything(url)


def drop_everything(url: str) -> None:
    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings of the runtime beyond the tests' defaults: a module overrides this fixture to
    run the API on another configuration (an S3 blob store…)."""
    return {}


@pytest.fixture
def runtime(
    ledger: Ledger,
    actors: Any,
    tmp_path: Path,
    database_url: str,
    settings_overrides: dict[str, Any],
) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        keystore_scrypt_n=2**4,  # cheap for tests; real keystores keep eth-account's default
        **settings_overrides,
    )
    runtime = Runtime.assemble(
        settings,
        chain=ledger.chain,
        deployment=ledger.deployment,
        engine=make_engine(settings.resolved_database_url),
        service_account=actors.governance,
        passphrase="test passphrase",
    )
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def governance(runtime: Runtime, client: TestClient) -> dict[str, str]:
    token = (runtime.settings.data_dir / GOVERNANCE_TOKEN_FILE).read_text().strip()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def relay(runtime: Runtime) -> Callable[[], None]:
    def run() -> None:
        for _ in range(4):
            runtime.relayer.tick()

    return run


Headers = dict[str, str]
Enrol = Callable[[dict[int, str]], dict[str, Headers]]


@pytest.fixture
def enrol(client: TestClient, governance: Headers, relay: Callable[[], None]) -> Enrol:
    """Enrols departments (id: name) with custodial keys, confirmed on chain; their auth
    headers by name."""

    def enrolled(names: dict[int, str]) -> dict[str, Headers]:
        headers = {}
        for department_id, name in names.items():
            response = client.post(
                "/v1/departments",
                json={"department_id": department_id, "name": name},
                headers=governance,
            )
            assert response.status_code == 202, response.text
            headers[name] = {"Authorization": f"Bearer {response.json()['token']}"}
        relay()
        return headers

    return enrolled


@pytest.fixture
def departments(enrol: Enrol) -> dict[str, Headers]:
    """Two enrolled departments with custodial keys: their auth headers by name."""
    return enrol({21: "a", 22: "b"})
