"""Operations: where an acknowledged write stands, with chain coordinates once known.

A write is either an outbox operation (one contract call) or a batched record, whose status is
that of the anchor operation of its batch; both answer here under the id the client was given.
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from sqlmodel import Session, select

from api.deps import PrincipalDep, RuntimeDep
from api.models import DeferredWrite, DeferredWriteState
from api.schemas import ChainCoordinates, OperationError, OperationIdPath, OperationPublic
from ledger.anchoring.models import AnchorBatch, QueuedRecord, RecordStatus
from ledger.errors import ResourceNotFoundError
from ledger.relayer import Operation, OperationStatus
from ledger.runtime import Runtime
from ledger.service.principal import Principal, PrincipalKind

router = APIRouter(tags=["operations"])

_RECORD_KINDS = {"create": "datasets.create", "version": "datasets.add_version",
                 "withdraw": "datasets.withdraw"}  # fmt: skip


@router.get(
    "/v1/operations/{operation_id}",
    response_model=OperationPublic,
    name="get_operation",
    summary="pending → submitted → confirmed (K confirmations) / failed",
)
def get_operation(
    operation_id: OperationIdPath, runtime: RuntimeDep, principal: PrincipalDep
) -> OperationPublic:
    with Session(runtime.engine) as session:
        deferred = session.exec(
            select(DeferredWrite).where(DeferredWrite.id == operation_id)
        ).first()
        if deferred is not None and _visible(principal, deferred.department_id):
            return _deferred_public(runtime, session, deferred)
        found = _find(runtime, session, principal, operation_id)
        if found is not None:
            return found
        # Another department's operation is reported exactly like a missing one.
        raise ResourceNotFoundError(f"no operation {operation_id}")


def _find(
    runtime: Runtime, session: Session, principal: Principal, operation_id: str
) -> OperationPublic | None:
    op = session.exec(select(Operation).where(Operation.id == operation_id)).first()
    if op is not None:
        return _public(runtime, op) if _visible(principal, op.department_id) else None
    record = session.exec(select(QueuedRecord).where(QueuedRecord.id == operation_id)).first()
    if record is not None and _visible(principal, record.department_id):
        return _record_public(runtime, session, record)
    return None


def _deferred_public(
    runtime: Runtime, session: Session, deferred: DeferredWrite
) -> OperationPublic:
    """A write accepted during a chain outage: pending until it is run, then what it became
    (under the id the client was given), or failed with the reason it was refused."""
    if deferred.state == DeferredWriteState.REPLAYED and deferred.operation_id:
        # Found whoever asks: the replay ran as the principal who sent the write.
        became = _find(runtime, session, _GOVERNANCE, deferred.operation_id)
        if became is not None:
            return became.model_copy(update={"id": deferred.id})
    seen = runtime.head.snapshot()
    refused = deferred.state == DeferredWriteState.REFUSED
    return OperationPublic(
        id=deferred.id,
        kind="deferred",  # what it becomes is known once it has run
        status=OperationStatus.FAILED if refused else OperationStatus.PENDING,
        department_id=deferred.department_id,
        confirmations=0,
        required_confirmations=runtime.settings.confirmations,
        final=False,
        reorged=0,
        chain_available=seen.reachable,
        chain=ChainCoordinates(
            chain_id=runtime.chain.chain_id,
            contract=_contract_of_path(runtime, deferred.path),
            tx_hash=None,
            block_number=None,
            block_hash=None,
        ),
        gas_used=None,
        result={"deferred": True, "path": deferred.path},
        error=OperationError(
            code=deferred.error_code or "refused", message=deferred.error_message or ""
        )
        if refused
        else None,
        created_at=deferred.created_at,
        updated_at=deferred.updated_at,
    )


_GOVERNANCE = Principal(kind=PrincipalKind.GOVERNANCE, token_id="deferred-lookup")


def _visible(principal: Principal, department_id: int | None) -> bool:
    return principal.kind == PrincipalKind.GOVERNANCE or (
        principal.kind == PrincipalKind.DEPARTMENT and principal.department_id == department_id
    )


def _public(runtime: Runtime, op: Operation) -> OperationPublic:
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
    contract = runtime.ledger.deployment
    address = {
        "DepartmentRegistry": contract.department_registry,
        "DatasetRegistry": contract.dataset_registry,
        "AccessRegistry": contract.access_registry,
        "AnchorRegistry": contract.anchor_registry,
    }[op.contract]
    return OperationPublic(
        id=op.id,
        kind=op.kind,
        status=op.status,
        department_id=op.department_id,
        confirmations=max(confirmations, 0),
        required_confirmations=runtime.settings.confirmations,
        final=final,
        reorged=op.reorged,
        chain_available=seen.reachable,
        chain=ChainCoordinates(
            chain_id=runtime.chain.chain_id,
            contract=address,
            tx_hash=op.tx_hash,
            block_number=op.block_number,
            block_hash=op.block_hash,
        ),
        gas_used=op.gas_used,
        result=op.result_data(),
        error=OperationError(code=op.error_code, message=op.error_message or "")
        if op.error_code
        else None,
        created_at=op.created_at,
        updated_at=op.updated_at,
    )


def _record_public(runtime: Runtime, session: Session, record: QueuedRecord) -> OperationPublic:
    """A batched record, seen through its batch's anchor operation."""
    anchor_op: Operation | None = None
    batch = session.get(AnchorBatch, record.batch_root) if record.batch_root else None
    if batch is not None:
        anchor_op = session.exec(
            select(Operation).where(Operation.id == batch.operation_id)
        ).first()
    base = _public(runtime, anchor_op) if anchor_op is not None else None
    result = {**record.result_data(), "batch": None}
    if batch is not None and record.leaf_index is not None:
        result["batch"] = {
            "root": batch.root,
            "size": batch.size,
            "leaf_index": record.leaf_index,
            "proof": json.loads(record.proof or "[]"),
            "anchor_operation_id": batch.operation_id,
        }
    error: OperationError | None
    if record.status == RecordStatus.FAILED:
        status, error = (
            OperationStatus.FAILED,
            OperationError(
                code=record.error_code or "anchor-failed", message=record.error_message or ""
            ),
        )
    elif base is not None:
        status, error = OperationStatus(base.status), base.error
    else:
        status, error = OperationStatus.PENDING, None
    return OperationPublic(
        id=record.id,
        kind=_RECORD_KINDS.get(record.kind, record.kind),
        status=status,
        department_id=record.department_id,
        confirmations=base.confirmations if base else 0,
        required_confirmations=runtime.settings.confirmations,
        final=base.final if base else False,
        reorged=base.reorged if base else 0,
        chain_available=base.chain_available if base else runtime.head.snapshot().reachable,
        chain=base.chain
        if base
        else ChainCoordinates(
            chain_id=runtime.chain.chain_id,
            contract=runtime.ledger.deployment.anchor_registry,
            tx_hash=None,
            block_number=None,
            block_hash=None,
        ),
        gas_used=base.gas_used if base else None,
        result=result,
        error=error,
        created_at=record.created_at,
        updated_at=max(record.updated_at, base.updated_at) if base else record.updated_at,
    )


def _contract_of_path(runtime: Runtime, path: str) -> str:
    deployment = runtime.ledger.deployment
    if path.startswith("/v1/access"):
        return deployment.access_registry
    if path.startswith("/v1/departments"):
        return deployment.department_registry
    return deployment.dataset_registry
