"""A runtime over the shared test chain with two departments whose keys the service holds, the
principals that act in the use cases, and a ledger state the reads are asked about. No HTTP:
the use cases are called directly."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from ledger.chain.deploy import Ledger
from ledger.chain.types import VersionRef
from ledger.config import Settings
from ledger.db import make_engine
from ledger.runtime import Runtime
from ledger.service import access, batched, datasets
from ledger.service.principal import Principal, PrincipalKind
from ledger.service.queued import Queued

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

DAY = 24 * 3600


def act(runtime: Runtime, who: Principal, case: Callable[..., Any], command: object) -> Any:
    with Session(runtime.engine, expire_on_commit=False) as session:
        result = case(session, runtime, who, command)
        session.commit()
    return result


def ask(runtime: Runtime, who: Principal, read: Callable[..., Any], query: object) -> Any:
    with Session(runtime.engine) as session:
        return read(session, runtime, who, query)


@pytest.fixture
def ledger_state(runtime: Runtime, relay: Callable[[], None]) -> dict[str, Any]:
    """A's confidential dataset on chain (with a derived second dataset of B's), a confidential
    batched dataset of A's, and B's pending request for A's dataset; all mined, anchored and
    indexed."""
    content = os.urandom(32)
    on_chain: Queued = act(
        runtime,
        department(DEPT_A),
        datasets.register_dataset,
        datasets.NewDataset(
            content_hash=content, metadata={"title": "Beds"}, classification="confidential"
        ),
    )
    relay()
    parent = bytes.fromhex(on_chain.resource["dataset_id"][2:])
    derived: Queued = act(
        runtime,
        department(DEPT_B),
        datasets.register_dataset,
        datasets.NewDataset(
            content_hash=os.urandom(32),
            metadata={"title": "Beds by region"},
            parents=(VersionRef(parent, 1),),
        ),
    )
    secret = act(
        runtime,
        department(DEPT_A),
        batched.register_one,
        batched.BatchedEntry(
            content_hash=os.urandom(32),
            metadata={"title": "Staff"},
            classification="confidential",
        ),
    )
    runtime.batcher.flush(DEPT_A)
    request: Queued = act(
        runtime,
        department(DEPT_B),
        access.request_access,
        access.RequestAccess(dataset_id=parent, purpose="capacity planning", duration_seconds=DAY),
    )
    relay()
    runtime.indexer.sync()
    return {
        "content": content,
        "dataset": on_chain.resource["dataset_id"],
        "derived": derived.resource["dataset_id"],
        "batched": secret.results[0]["dataset_id"],
        "batched_op": secret.operation_ids[0],
        "request": request.resource["request_id"],
        "request_op": request.operation.id,
    }
