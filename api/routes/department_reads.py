"""Reading departments: who is in the consortium, their keys past and present, their status.

Any token may read these: departments must know whom they share with, and auditors whose key
spoke for whom at which block. A department's status and current key come from the contract;
its name and key history from the index.
"""

from __future__ import annotations

from typing import Annotated, Any

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Query
from sqlmodel import Session, col, select

from api.deps import PrincipalDep, RuntimeDep
from api.pagination import DepartmentsCursor, keyset_page
from api.routes.common import coordinates
from api.schemas import DepartmentIdPath
from ledger.chain.types import DepartmentStatus
from ledger.errors import ResourceNotFoundError
from ledger.index.models import IndexDepartment, IndexDepartmentKey

router = APIRouter(tags=["departments"])


def _department_public(row: IndexDepartment) -> dict[str, Any]:
    return {
        "department_id": row.department_id,
        "name": row.name,
        "signer": to_checksum_address(row.signer),
        "status": row.status,
        "enrolled": coordinates(row, "created"),
        "updated": coordinates(row, "updated"),
    }


def _keys(session: Session, department_id: int) -> list[dict[str, Any]]:
    keys = session.exec(
        select(IndexDepartmentKey)
        .where(IndexDepartmentKey.department_id == department_id)
        .order_by(col(IndexDepartmentKey.valid_from_block))
    ).all()
    return [
        {
            "signer": to_checksum_address(key.signer),
            "valid_from_block": key.valid_from_block,
            "valid_until_block": key.valid_until_block,
            "valid_until_time": key.valid_until_time,
        }
        for key in keys
    ]


@router.get("/v1/departments", summary="Enrolled departments, by id")
def list_departments(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    cursor: DepartmentsCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """From the index (``indexed_block`` says how far it has read)."""
    with Session(runtime.engine) as session:
        rows, next_cursor = keyset_page(
            session,
            select(IndexDepartment),
            key=[col(IndexDepartment.department_id)],
            key_of=lambda r: (r.department_id,),
            cursor=cursor,
            limit=limit,
        )
        return {
            "items": [_department_public(row) for row in rows],
            "next_cursor": next_cursor,
            "indexed_block": runtime.indexer.last_indexed_block(),
        }


@router.get("/v1/departments/{department_id}", summary="One department and its key history")
def get_department(
    department_id: DepartmentIdPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Status and current key from the contract at the latest block; name, enrolment and the
    keys it had (with the blocks each was valid in) from the index."""
    with Session(runtime.engine) as session:
        record = runtime.ledger.departments.department(department_id)
        if record.status == DepartmentStatus.NONE:
            raise ResourceNotFoundError(f"no department {department_id} is enrolled")
        indexed = session.get(IndexDepartment, department_id)
        return {
            **(_department_public(indexed) if indexed is not None else {}),
            "department_id": department_id,
            "signer": record.signer,
            "status": record.status.name.lower(),
            "enrolled_at": record.enrolled_at,
            "keys": _keys(session, department_id),
            "chain": {
                "chain_id": runtime.chain.chain_id,
                "contract": runtime.ledger.departments.address,
            },
            "indexed": indexed is not None,
        }
