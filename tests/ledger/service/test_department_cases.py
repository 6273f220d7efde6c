"""The rules of department governance, as the use cases enforce them (no HTTP)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account import Account
from sqlmodel import Session

from ledger.errors import (
    ConflictError,
    DepartmentSignerUnavailableError,
    ForbiddenError,
    ResourceNotFoundError,
)
from ledger.runtime import Runtime
from ledger.service import departments as cases
from ledger.service.principal import Principal
from ledger.service.queued import Queued
from tests.ledger.service.conftest import AUDITOR, DEPT_A, GOVERNANCE, department


def run(
    runtime: Runtime, case: Callable[..., Queued], command: object, who: Principal = GOVERNANCE
) -> Queued:
    with Session(runtime.engine, expire_on_commit=False) as session:
        queued = case(session, runtime, who, command)
        session.commit()
    return queued


def test_an_enrolment_makes_a_custodial_key_unless_the_department_brings_its_own(
    runtime: Runtime,
) -> None:
    custodial = run(
        runtime, cases.enrol_department, cases.EnrolDepartment(department_id=41, name="x")
    )
    assert custodial.resource["custodial"] is True
    assert custodial.resource["address"] == runtime.keystore.address(41)
    own = Account.create().address
    brought = run(
        runtime,
        cases.enrol_department,
        cases.EnrolDepartment(department_id=42, name="y", signer_address=own.lower()),
    )
    assert brought.resource == {"department_id": 42, "address": own, "custodial": False}


def test_a_department_is_enrolled_once(runtime: Runtime, relay: Callable[[], None]) -> None:
    run(runtime, cases.enrol_department, cases.EnrolDepartment(department_id=43, name="z"))
    with pytest.raises(ConflictError, match="being enrolled"):  # queued
        run(runtime, cases.enrol_department, cases.EnrolDepartment(department_id=43, name="z"))
    with pytest.raises(ConflictError):  # on chain
        run(runtime, cases.enrol_department, cases.EnrolDepartment(department_id=DEPT_A, name="a"))


def test_only_governance_governs(runtime: Runtime) -> None:
    for who in (AUDITOR, department(DEPT_A)):
        with pytest.raises(ForbiddenError):
            run(
                runtime,
                cases.suspend_department,
                cases.SuspendDepartment(department_id=DEPT_A),
                who,
            )


def test_an_unknown_department_is_neither_suspended_nor_rotated(runtime: Runtime) -> None:
    with pytest.raises(ResourceNotFoundError):
        run(runtime, cases.suspend_department, cases.SuspendDepartment(department_id=99))
    with pytest.raises(ResourceNotFoundError):
        run(runtime, cases.rotate_key, cases.RotateKey(department_id=99))


def test_a_key_a_queued_enrolment_claims_is_not_given_to_another_department(
    runtime: Runtime,
) -> None:
    claimed = Account.create().address
    run(
        runtime,
        cases.enrol_department,
        cases.EnrolDepartment(department_id=44, name="w", signer_address=claimed),
    )
    with pytest.raises(DepartmentSignerUnavailableError, match="claimed"):
        run(
            runtime, cases.rotate_key, cases.RotateKey(department_id=DEPT_A, signer_address=claimed)
        )
