"""Operations: where an acknowledged write stands, with chain coordinates once known.

A write is either an outbox operation (one contract call) or a batched record, whose status is
that of the anchor operation of its batch; both are found under the id the client was given.
A department sees only its own; another's is reported exactly like a missing one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ledger.anchoring.models import AnchorBatch, QueuedRecord, RecordStatus
from ledger.relayer import Operation, OperationStatus
from ledger.runtime import Runtime
from ledger.service.principal import Principal, PrincipalKind

_RECORD_KINDS = {"create": "datasets.create", "version": "datasets.add_version",
                 "withdraw": "datasets.withdraw"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Coordinates:
    chain_id: int
    contract: str
    tx_hash: str | None = None
    block_number: int | None = None
    block_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class OperationView:
    """An operation as its department sees it (the API's ``OperationPublic`` says each field)."""

    id: str
    kind: str
    status: OperationStatus
    department_id: int | None
    confirmations: int
    required_confirmations: int
    final: bool
    reorged: int
    chain_available: bool
    chain: Coordinates
    gas_used: int | None
    result: dict[str, Any]
    error: Failure | None
    created_at: datetime
    updated_at: datetime

    def under(self, operation_id: str) -> OperationView:
        """The same operation reported under another id (a deferred write's, which it became)."""
        return replace(self, id=operation_id)


def visible(principal: Principal, department_id: int | None) -> bool:
    """Governance sees every operation, a department its own, an auditor none."""
    return principal.kind == PrincipalKind.GOVERNANCE or (
        principal.kind == PrincipalKind.DEPARTMENT and principal.department_id == department_id
    )


def find_operation(
    session: Session, runtime: Runtime, principal: Principal, operation_id: str
) -> OperationView | None:
    """The operation or batched record with this id, if ``principal`` may see it."""
    op = session.exec(select(Operation).where(Operation.id == operation_id)).first()
    if op is not None:
        return _operation_view(runtime, op) if visible(principal, op.department_id) else None
    record = session.exec(select(QueuedRecord).where(QueuedRecord.id == operation_id)).first()
    if record is not None and visible(principal, record.department_id):
        return _record_view(runtime, session, record)
    return None


def unconfirmed(
    runtime: Runtime,
    operation_id: str,
    kind: str,
    department_id: int | None,
    contract: str,
    *,
    failure: Failure | None,
    result: dict[str, Any],
    created_at: datetime,
    updated_at: datetime,
) -> OperationView:
    """An operation with nothing on chain yet: pending, or failed with ``failure``."""
    return OperationView(
        id=operation_id,
        kind=kind,
        status=OperationStatus.FAILED if failure else OperationStatus.PENDING,
        department_id=department_id,
        confirmations=0,
        required_confirmations=runtime.settings.confirmations,
        final=False,
        reorged=0,
        chain_available=runtime.head.snapshot().reachable,
        chain=Coordinates(runtime.chain.chain_id, contract),
        gas_used=None,
        result=result,
        error=failure,
        created_at=created_at,
        updated_at=updated_at,
    )


def _operation_view(runtime: Runtime, op: Operation) -> OperationView:
    # The head watch's answer (fresh while it runs), never a read that fails with the node.
    seen = runtime.head.current(max_age=2 * runtime.settings.indexer_poll_interval)
    head = seen.head
    confirmations = (
        head.number - op.block_number + 1 if head is not None and op.block_number is not None else 0
    )
    if op.status == OperationStatus.CONFIRMED:
        # The relayer saw K when it confirmed it (and a reorg would have sent it back); the
        # watch's head may be a poll older than the relayer's.
        confirmations = max(confirmations, runtime.settings.confirmations)
    final = (
        op.status in (OperationStatus.CONFIRMED, OperationStatus.FAILED)
        and op.block_number is not None
        and head is not None
        and op.block_number <= head.finalized
    )
    contracts = runtime.ledger.deployment
    address = {
        "DepartmentRegistry": contracts.department_registry,
        "DatasetRegistry": contracts.dataset_registry,
        "AccessRegistry": contracts.access_registry,
        "AnchorRegistry": contracts.anchor_registry,
        "KeyDirectory": contracts.key_directory or "",  # only a deployment with it has such ops
    }[op.contract]
    return OperationView(
        id=op.id,
        kind=op.kind,
        status=OperationStatus(op.status),
        department_id=op.department_id,
        confirmations=max(confirmations, 0),
        required_confirmations=runtime.settings.confirmations,
        final=final,
        reorged=op.reorged,
        chain_available=seen.reachable,
        chain=Coordinates(
            runtime.chain.chain_id, address, op.tx_hash, op.block_number, op.block_hash
        ),
        gas_used=op.gas_used,
        result=op.result_data(),
        error=Failure(op.error_code, op.error_message or "") if op.error_code else None,
        created_at=op.created_at,
        updated_at=op.updated_at,
    )


def _record_view(runtime: Runtime, session: Session, record: QueuedRecord) -> OperationView:
    """A batched record, seen through its batch's anchor operation."""
    batch = session.get(AnchorBatch, record.batch_root) if record.batch_root else None
    anchor_op = (
        session.exec(select(Operation).where(Operation.id == batch.operation_id)).first()
        if batch is not None
        else None
    )
    result = {**record.result_data(), "batch": None}
    if batch is not None and record.leaf_index is not None:
        result["batch"] = {
            "root": batch.root,
            "size": batch.size,
            "leaf_index": record.leaf_index,
            "proof": json.loads(record.proof or "[]"),
            "anchor_operation_id": batch.operation_id,
        }
    kind = _RECORD_KINDS.get(record.kind, record.kind)
    failure = (
        Failure(record.error_code or "anchor-failed", record.error_message or "")
        if record.status == RecordStatus.FAILED
        else None
    )
    if anchor_op is None:
        contract = runtime.ledger.deployment.anchor_registry
        return unconfirmed(
            runtime,
            record.id,
            kind,
            record.department_id,
            contract,
            failure=failure,
            result=result,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
    anchor = _operation_view(runtime, anchor_op)
    return replace(
        anchor,
        id=record.id,
        kind=kind,
        status=OperationStatus.FAILED if failure else anchor.status,
        department_id=record.department_id,
        result=result,
        error=failure or anchor.error,
        created_at=record.created_at,
        updated_at=max(record.updated_at, anchor.updated_at),
    )
