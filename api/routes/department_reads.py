"""Reading departments (the rules are :mod:`ledger.service.department_reads`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AskerDep, ReaderAskerDep
from api.pagination import DepartmentsCursor
from api.schemas import DepartmentIdPath
from ledger.service import department_reads as reads

router = APIRouter(tags=["departments"])


@router.get("/v1/me", summary="Who this token is, and the deployment it acts on")
def who_am_i(ask: AskerDep) -> dict[str, Any]:
    """The token's kind (department, auditor, governance), its department, and the chain id and
    contract addresses: what a client needs to derive ids and sign in the right context."""
    return ask(reads.who_am_i, None)


@router.get("/v1/departments", summary="Enrolled departments, by id")
def list_departments(
    ask: AskerDep,
    cursor: DepartmentsCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """From the index (``indexed_block`` says how far it has read)."""
    return ask(reads.list_departments, reads.DepartmentListing(cursor, limit))


@router.get("/v1/departments/{department_id}", summary="One department and its key history")
def get_department(department_id: DepartmentIdPath, ask: ReaderAskerDep) -> dict[str, Any]:
    """Status and current key from the contract at the latest block; name, enrolment and the
    keys it had (with the blocks each was valid in) from the index."""
    return ask(reads.get_department, department_id)


@router.get("/v1/departments/{department_id}/nonces", summary="Nonces for self-signed actions")
def department_nonces(department_id: DepartmentIdPath, ask: AskerDep) -> dict[str, Any]:
    """The nonce the department's next signature must carry, per contract, counting what the
    service has queued. Departments that hold their own key sign with these."""
    return ask(reads.signature_nonces, department_id)
