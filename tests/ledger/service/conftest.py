"""A runtime over the shared test chain with two departments whose keys the service holds, and
the principals that act in the use cases. No HTTP: the use cases are called directly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.deploy import Ledger
from ledger.config import Settings
from ledger.db import make_engine
from ledger.runtime import Runtime
from ledger.service.principal import Principal, PrincipalKind

DEPT_A, DEPT_B = 31, 32


@pytest.fixture
def runtime(ledger: Ledger, actors: Any, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "data", keystore_scrypt_n=2**4)
    settings.data_dir.mkdir()
    runtime = Runtime.assemble(
        settings,
        chain=ledger.chain,
        deployment=ledger.deployment,
        engine=make_engine(settings.resolved_database_url),
        service_account=actors.governance,
        passphrase="test passphrase",
    )
    for department_id, name in ((DEPT_A, "Health"), (DEPT_B, "Transport")):
        address = runtime.keystore.create(department_id, runtime.passphrase)
        ledger.departments.enrol_department(department_id, name, address, sender=actors.governance)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def relay(runtime: Runtime) -> Callable[[], None]:
    def run() -> None:
        for _ in range(4):
            runtime.relayer.tick()

    return run


def department(department_id: int) -> Principal:
    return Principal(PrincipalKind.DEPARTMENT, f"tok_{department_id}", department_id)


AUDITOR = Principal(PrincipalKind.AUDITOR, "tok_auditor")
GOVERNANCE = Principal(PrincipalKind.GOVERNANCE, "tok_governance")
