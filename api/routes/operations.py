"""Operations: where an acknowledged write stands, with chain coordinates once known."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import select

from api.deps import PrincipalDep, RuntimeDep, SessionDep
from api.models import PrincipalKind
from api.schemas import ChainCoordinates, OperationError, OperationPublic
from ledger.errors import ResourceNotFoundError
from ledger.relayer import Operation

router = APIRouter(tags=["operations"])


@router.get(
    "/v1/operations/{operation_id}",
    response_model=OperationPublic,
    name="get_operation",
    summary="pending → submitted → confirmed (K confirmations) / failed",
)
def get_operation(
    operation_id: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> OperationPublic:
    op = session.exec(select(Operation).where(Operation.id == operation_id)).first()
    # Another department's operation is reported exactly like a missing one.
    visible = op is not None and (
        principal.kind == PrincipalKind.GOVERNANCE
        or (
            principal.kind == PrincipalKind.DEPARTMENT
            and principal.department_id == op.department_id
        )
    )
    if op is None or not visible:
        raise ResourceNotFoundError(f"no operation {operation_id}")
    head = runtime.chain.w3.eth.block_number
    confirmations = head - op.block_number + 1 if op.block_number is not None else 0
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
