"""Reading access: requests, whether a department has access, and who held access when (the
rules, and who sees which texts, are :mod:`ledger.service.access_reads`). A dataset's grants
are a public read (:data:`api.deps.ReaderAskerDep`): chain facts, no purposes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AskerDep, ReaderAskerDep
from api.instants import InstantQuery, instant
from api.pagination import EventsCursor
from api.routes.common import path_id
from api.schemas import BlockQuery, DatasetIdPath, DatasetIdQuery, DepartmentIdQuery, RequestIdPath
from ledger.service import access_reads as reads
from ledger.service.access_reads import RequestStatusName, Role

router = APIRouter(tags=["access"])


@router.get("/v1/access-requests", summary="Access requests visible to this token, newest first")
def list_access_requests(
    ask: AskerDep,
    role: Role | None = None,
    status: RequestStatusName | None = None,
    dataset: DatasetIdQuery = None,
    cursor: EventsCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """From the index (``indexed_block`` says how far it has read). ``role`` narrows a
    department's view to requests for its datasets (``incoming``) or by it (``outgoing``)."""
    dataset_id = path_id(dataset) if dataset is not None else None
    query = reads.RequestListing(role, status, dataset_id, cursor, limit)
    return ask(reads.list_access_requests, query)


@router.get("/v1/access-requests/{request_id}", summary="One access request, as the chain has it")
def get_access_request(request_id: RequestIdPath, ask: AskerDep) -> dict[str, Any]:
    """Status, expiry and duration come from the contract at the latest block; the purpose and
    reasons (their text, when this service kept it) and chain coordinates from the index."""
    return ask(reads.get_access_request, path_id(request_id))


@router.get(
    "/v1/datasets/{dataset_id}/access", summary="Does a department have access, per the chain"
)
def has_access(
    dataset_id: DatasetIdPath,
    department: DepartmentIdQuery,
    ask: AskerDep,
    block: BlockQuery = None,
) -> dict[str, Any]:
    """Answered by the contract's ``hasAccess`` at the latest block, or at ``block``. Any token
    may ask: the contract answers anyone who reads the chain."""
    return ask(reads.has_access, reads.AccessQuestion(path_id(dataset_id), department, block))


@router.get(
    "/v1/datasets/{dataset_id}/grants",
    summary="The grants of a dataset in force now or at a past time, with chain coordinates",
)
def grants(
    dataset_id: DatasetIdPath, ask: ReaderAskerDep, at: InstantQuery = None
) -> dict[str, Any]:
    """Every approved request in force at ``at`` (default: the chain's latest block time) as the
    contract counts it: approved at or before ``at``, ``at`` before its ``expires_at``, not
    revoked or superseded at or before ``at``. Each with the requester, its approval's and (if
    it ended since) its revocation's chain coordinates; from the index (``indexed_block``)."""
    return ask(reads.grants_at, reads.GrantsAt(path_id(dataset_id), instant(at)))
