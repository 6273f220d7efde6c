"""Governance of departments: enrol one (with a key the service holds, or the department's
own), rotate its key, suspend and reactivate it. Only governance acts here; the contract
checks the governance role again.

Nothing is committed: the caller commits the session (with the token it issues for an
enrolled department, which is the HTTP service's business).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from sqlmodel import Session, col, select

from ledger.chain.types import DepartmentStatus
from ledger.errors import (
    ConflictError,
    DepartmentSignerUnavailableError,
    KeystoreExistsError,
    ResourceNotFoundError,
)
from ledger.relayer import Operation, OperationStatus, enqueue, queued_key_claim
from ledger.runtime import Runtime
from ledger.service.documents import text_commitment
from ledger.service.principal import Principal, PrincipalKind
from ledger.service.queued import Queued


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolDepartment:
    department_id: int
    name: str
    signer_address: str | None = None  # the department's own key; None: the service makes one


@dataclass(frozen=True, slots=True, kw_only=True)
class RotateKey:
    department_id: int
    signer_address: str | None = None  # the department's own key from now on; None: custodial


@dataclass(frozen=True, slots=True, kw_only=True)
class SuspendDepartment:
    department_id: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactivateDepartment:
    department_id: int


def enrol_department(
    session: Session, runtime: Runtime, principal: Principal, command: EnrolDepartment
) -> Queued:
    """Queue the enrolment; the resource says the key (``address``) and whether the service
    holds it (``custodial``)."""
    principal.require(PrincipalKind.GOVERNANCE)
    department_id = command.department_id
    on_chain = runtime.ledger.departments.department(department_id)
    if on_chain.status != DepartmentStatus.NONE or queued_enrolment(session, department_id):
        raise ConflictError(
            {"departmentId": department_id},
            message=f"department {department_id} is enrolled already (or being enrolled)",
        )
    if command.signer_address is not None:
        address = to_checksum_address(command.signer_address)
    else:
        try:
            address = runtime.keystore.create(department_id, runtime.passphrase)
        except KeystoreExistsError:  # an earlier enrolment of this id failed on chain
            address = runtime.keystore.address(department_id)
    op = _registry_call(
        session, department_id,
        kind="departments.enrol", function="enrolDepartment",
        args=[department_id, command.name, address], result={"address": address},
    )  # fmt: skip
    return Queued(op, _key_resource(department_id, address, command.signer_address))


def rotate_key(
    session: Session, runtime: Runtime, principal: Principal, command: RotateKey
) -> Queued:
    """Give the department a new signing key; its id, datasets and history stay.

    The old custodial key is archived, never deleted: actions queued before the rotation are
    still signed with it (the outbox is mined in order). A key any department ever used, or one
    a queued enrolment or rotation claims, is refused (``DepartmentSignerUnavailable``).
    """
    principal.require(PrincipalKind.GOVERNANCE)
    department_id = command.department_id
    require_enrolled(runtime, department_id)
    if command.signer_address is None:
        address = runtime.keystore.rotate(department_id, runtime.passphrase)
    else:
        address = to_checksum_address(command.signer_address)
        if queued_key_claim(session, address) is not None:
            raise DepartmentSignerUnavailableError(
                {"signer": address},
                message=f"key {address} is claimed by a queued enrolment or rotation",
            )
    op = _registry_call(
        session, department_id,
        kind="departments.rotate_key", function="rotateDepartmentKey",
        args=[department_id, address], result={"address": address},
    )  # fmt: skip
    if command.signer_address is not None:
        # The contract's own verdict now (a key used before: DepartmentSignerUnavailable),
        # before the custodial key is archived; nothing queued can make a used key free.
        runtime.relayer.dry_run(op)
        if runtime.keystore.path(department_id).exists():
            runtime.keystore.retire(department_id)
    return Queued(op, _key_resource(department_id, address, command.signer_address))


def suspend_department(
    session: Session, runtime: Runtime, principal: Principal, command: SuspendDepartment
) -> Queued:
    return _governance_call(
        session, runtime, principal, command.department_id,
        kind="departments.suspend", function="suspendDepartment",
        args=[command.department_id, text_commitment(session, command.reason)],
    )  # fmt: skip


def reactivate_department(
    session: Session, runtime: Runtime, principal: Principal, command: ReactivateDepartment
) -> Queued:
    return _governance_call(
        session, runtime, principal, command.department_id,
        kind="departments.reactivate", function="reactivateDepartment",
        args=[command.department_id],
    )  # fmt: skip


def require_enrolled(runtime: Runtime, department_id: int) -> None:
    if runtime.ledger.departments.department(department_id).status == DepartmentStatus.NONE:
        raise ResourceNotFoundError(f"no department {department_id} is enrolled")


def require_known(session: Session, runtime: Runtime, department_id: int) -> None:
    """The department is enrolled, or its enrolment is queued (a token may be issued for a
    department whose enrolment is still on its way to the chain)."""
    enrolled = runtime.ledger.departments.department(department_id).status
    if enrolled == DepartmentStatus.NONE and queued_enrolment(session, department_id) is None:
        raise ResourceNotFoundError(f"no department {department_id}")


def queued_enrolment(session: Session, department_id: int) -> Operation | None:
    return session.exec(
        select(Operation).where(
            Operation.kind == "departments.enrol",
            Operation.department_id == department_id,
            col(Operation.status).in_([OperationStatus.PENDING, OperationStatus.SUBMITTED]),
        )
    ).first()


def _governance_call(
    session: Session,
    runtime: Runtime,
    principal: Principal,
    department_id: int,
    *,
    kind: str,
    function: str,
    args: list[object],
) -> Queued:
    principal.require(PrincipalKind.GOVERNANCE)
    require_enrolled(runtime, department_id)
    op = _registry_call(session, department_id, kind=kind, function=function, args=args)
    return Queued(op, {"department_id": department_id})


def _registry_call(
    session: Session,
    department_id: int,
    *,
    kind: str,
    function: str,
    args: list[object],
    result: dict[str, object] | None = None,
) -> Operation:
    """Queue a governance call of the DepartmentRegistry about ``department_id``; its operation
    reports the department and ``result``."""
    return enqueue(
        session,
        kind=kind,
        contract="DepartmentRegistry",
        function=function,
        args=args,
        department_id=department_id,
        result={"department_id": department_id, **(result or {})},
    )


def _key_resource(department_id: int, address: str, own_key: str | None) -> dict[str, object]:
    """What an enrolment or a rotation makes: the department's key, and whether the service
    holds it (no key of its own was given)."""
    return {"department_id": department_id, "address": address, "custodial": own_key is None}
