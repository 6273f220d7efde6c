"""Putting writes into the outbox, inside the caller's database transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from ledger.chain.abi_json import function_inputs, to_json
from ledger.chain.clients.base import SignedActionsClient
from ledger.relayer.models import Operation, OperationStatus


def next_signature_nonce(session: Session, client: SignedActionsClient, department_id: int) -> int:
    """The nonce a new signed action of ``department_id`` on ``client``'s contract should carry:
    the contract's nonce, raised past every action of the department still in the outbox."""
    on_chain = client.department_nonce(department_id)
    queued = session.exec(
        select(Operation.signature_nonce).where(
            col(Operation.status).in_([OperationStatus.PENDING, OperationStatus.SUBMITTED]),
            Operation.contract == client.artifact_name,
            Operation.department_id == department_id,
            col(Operation.signature_nonce).is_not(None),
        )
    ).all()
    return max([on_chain, *(n + 1 for n in queued if n is not None and n >= on_chain)])


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
        action_fields=json.dumps(_jsonable(action_fields)) if action_fields is not None else None,
        signature_nonce=signature_nonce,
        custodial=custodial,
        result=json.dumps(_jsonable(result or {})),
    )
    session.add(op)
    return op


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
