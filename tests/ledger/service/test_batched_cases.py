"""The rules of batched records, as the use cases enforce them (no HTTP): everything the
contract would check for an on-chain registration, checked before a record is stored."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from eth_account import Account
from sqlmodel import Session, func, select

from ledger.anchoring.models import QueuedRecord
from ledger.chain.types import VersionRef
from ledger.errors import ConflictError, ForbiddenError, ResourceNotFoundError
from ledger.runtime import Runtime
from ledger.service import batched as cases
from tests.ledger.service.conftest import DEPT_A, DEPT_B, department


def entry(**overrides: object) -> cases.BatchedEntry:
    fields: dict[str, object] = {"content_hash": os.urandom(32), "metadata": {"title": "t"}}
    return cases.BatchedEntry(**(fields | overrides))  # type: ignore[arg-type]


def queued_count(runtime: Runtime) -> int:
    with Session(runtime.engine) as session:
        return int(session.exec(select(func.count()).select_from(QueuedRecord)).one())


def run(
    runtime: Runtime, case: Callable[..., cases.QueuedRecords], *args: object, who: int = DEPT_A
) -> cases.QueuedRecords:
    with Session(runtime.engine, expire_on_commit=False) as session:
        queued = case(session, runtime, department(who), *args)
        session.commit()
    return queued


def test_records_of_one_call_may_build_on_each_other_and_are_numbered_in_order(
    runtime: Runtime,
) -> None:
    salt = os.urandom(32)
    dataset_id = runtime.ledger.datasets.dataset_id_of(DEPT_A, salt)
    queued = run(
        runtime,
        cases.register_records,
        [
            entry(salt=salt),
            entry(dataset_id=dataset_id),
            entry(dataset_id=dataset_id, parents=(VersionRef(dataset_id, 1),)),
        ],
    )
    assert [r["version"] for r in queued.results] == [1, 2, 3]
    assert len(set(queued.operation_ids)) == 3 and queued_count(runtime) == 3


def test_one_bad_record_stores_nothing_and_says_which(runtime: Runtime) -> None:
    with pytest.raises(ResourceNotFoundError, match=r"records\[1\]: no batched dataset"):
        run(runtime, cases.register_records, [entry(), entry(dataset_id=os.urandom(32))])
    assert queued_count(runtime) == 0


def test_another_departments_dataset_takes_no_version_from_it(runtime: Runtime) -> None:
    created = run(runtime, cases.register_one, entry())
    dataset_id = bytes.fromhex(created.results[0]["dataset_id"][2:])
    with pytest.raises(ForbiddenError, match="another department"):
        run(runtime, cases.append_one, entry(dataset_id=dataset_id), who=DEPT_B)


def test_a_withdrawn_dataset_takes_no_more_versions(runtime: Runtime) -> None:
    created = run(runtime, cases.register_one, entry())
    dataset_id = bytes.fromhex(created.results[0]["dataset_id"][2:])
    run(runtime, cases.withdraw_one, dataset_id, "superseded")
    with pytest.raises(ConflictError, match="withdrawn"):
        run(runtime, cases.append_one, entry(dataset_id=dataset_id))


def test_a_department_that_holds_its_own_key_cannot_batch(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    own = Account.create()
    runtime.ledger.departments.enrol_department(
        51, "Self-custody", own.address, sender=runtime.service_account
    )
    with Session(runtime.engine) as session, pytest.raises(ForbiddenError, match="its own key"):
        cases.register_one(session, runtime, department(51), entry())
