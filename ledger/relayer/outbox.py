"""Putting writes into the outbox, inside the caller's database transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from ledger.chain.abi_json import function_inputs, to_json
from ledger.chain.clients.base import SignedActionsClient
from ledger.chain.clients.departments import DepartmentRegistryClient
from ledger.chain.types import DepartmentStatus
from ledger.encoding import jsonable
from ledger.relayer.models import Operation, OperationStatus

_IN_FLIGHT = (OperationStatus.PENDING, OperationStatus.SUBMITTED)


def next_signature_nonce(session: Session, client: SignedActionsClient, department_id: int) -> int:
    """The nonce a new signed action of ``department_id`` on ``client``'s contract should carry:
    the contract's nonce, raised past every action of the department still in the outbox."""
    on_chain = client.department_nonce(department_id)
    queued = session.exec(
        select(Operation.signature_nonce).where(
            col(Operation.status).in_(_IN_FLIGHT),
            Operation.contract == client.artifact_name,
            Operation.department_id == department_id,
            col(Operation.signature_nonce).is_not(None),
        )
    ).all()
    return max([on_chain, *(n + 1 for n in queued if n is not None and n >= on_chain)])


def next_signer(
    session: Session,
    departments: DepartmentRegistryClient,
    department_id: int,
    *,
    before_seq: int | None = None,
) -> str:
    """The key that will speak for ``department_id`` when an action queued now executes (or the
    action at ``before_seq``): the key of the last enrolment or rotation queued ahead of it, else
    the key on chain. The outbox is mined in queue order, so that is the key its signature must
    be by.
    """
    queued = queued_signer(session, department_id, before_seq=before_seq)
    return queued if queued is not None else departments.department(department_id).signer


def queued_signer(
    session: Session, department_id: int, *, before_seq: int | None = None
) -> str | None:
    """The key of the last enrolment or rotation of ``department_id`` queued (ahead of
    ``before_seq``), or None when none is: then the key on chain is the one in force."""
    query = _key_claims().where(Operation.department_id == department_id)
    if before_seq is not None:
        query = query.where(col(Operation.seq) < before_seq)
    claim = session.exec(query.order_by(col(Operation.seq).desc())).first()
    return _claimed_key(claim) if claim is not None else None


def next_department_status(
    session: Session, departments: DepartmentRegistryClient, department_id: int
) -> DepartmentStatus:
    """The status ``department_id`` will have when an action queued now executes: set by the
    last enrolment, suspension or reactivation queued ahead of it, else the status on chain."""
    last = session.exec(
        select(Operation.function)
        .where(
            Operation.contract == "DepartmentRegistry",
            Operation.department_id == department_id,
            col(Operation.function).in_(list(_STATUS_AFTER)),
            col(Operation.status).in_(_IN_FLIGHT),
        )
        .order_by(col(Operation.seq).desc())
    ).first()
    if last is not None:
        return _STATUS_AFTER[last]
    return departments.department(department_id).status


_STATUS_AFTER = {
    "enrolDepartment": DepartmentStatus.ACTIVE,
    "reactivateDepartment": DepartmentStatus.ACTIVE,
    "suspendDepartment": DepartmentStatus.SUSPENDED,
}


def key_claims(session: Session, department_id: int) -> list[tuple[int, str]]:
    """The enrolments and rotations of ``department_id`` in flight, in queue order, as
    (seq, key)."""
    query = _key_claims().where(Operation.department_id == department_id)
    claims = session.exec(query.order_by(col(Operation.seq))).all()
    return [(op.seq or 0, _claimed_key(op)) for op in claims]


def queued_key_claim(session: Session, address: str) -> Operation | None:
    """A queued enrolment or rotation that will claim ``address`` as a department key."""
    wanted = address.lower()
    claims = session.exec(_key_claims()).all()
    return next((op for op in claims if _claimed_key(op).lower() == wanted), None)


def _key_claims() -> SelectOfScalar[Operation]:
    """Queued calls that give a department a key; the key is their last argument."""
    return select(Operation).where(
        Operation.contract == "DepartmentRegistry",
        col(Operation.function).in_(["enrolDepartment", "rotateDepartmentKey"]),
        col(Operation.status).in_(_IN_FLIGHT),
    )


def _claimed_key(op: Operation) -> str:
    return str(op.call_args()[-1])


def enqueue(
    session: Session,
    *,
    kind: str,
    contract: str,
    function: str,
    args: list[Any] | tuple[Any, ...],
    department_id: int | None = None,
    action_type: str | None = None,
    action_fields: dict[str, Any] | None = None,
    signature_nonce: int | None = None,
    custodial: bool = False,
    signer: str | None = None,
    result: dict[str, Any] | None = None,
) -> Operation:
    """Add a contract call to the outbox. Not committed: the caller commits it together with
    its own records, which is what makes the write acknowledged."""
    op = Operation(
        kind=kind,
        contract=contract,
        function=function,
        args=json.dumps(to_json(list(args), function_inputs(contract, function))),
        department_id=department_id,
        action_type=action_type,
        action_fields=json.dumps(jsonable(action_fields)) if action_fields is not None else None,
        signature_nonce=signature_nonce,
        custodial=custodial,
        signer=signer,
        result=json.dumps(jsonable(result or {})),
    )
    session.add(op)
    return op
