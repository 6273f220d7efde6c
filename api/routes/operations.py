"""Operations: where an acknowledged write stands (:mod:`ledger.service.operations`; a write
deferred through a chain outage, :mod:`api.deferred`)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from api.deferred import deferred_operation
from api.deps import PrincipalDep, RuntimeDep
from api.schemas import OperationIdPath, OperationPublic
from ledger.errors import ResourceNotFoundError
from ledger.service.operations import find_operation

router = APIRouter(tags=["operations"])


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
        found = deferred_operation(session, runtime, principal, operation_id) or find_operation(
            session, runtime, principal, operation_id
        )
    if found is None:  # another department's operation is reported exactly like a missing one
        raise ResourceNotFoundError(f"no operation {operation_id}")
    return OperationPublic.model_validate(found, from_attributes=True)
