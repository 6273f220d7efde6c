"""Access between departments: request → approve (expiry) / deny → revoke, or cancel."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import WriterDep
from api.routes.common import client_signature, hex_bytes, path_id, queue_write
from api.schemas import (
    Accepted,
    AccessAnswer,
    AccessApproval,
    AccessCancel,
    AccessRequestCreate,
    DatasetIdPath,
    RequestIdPath,
)
from ledger.service import access as cases

router = APIRouter(tags=["access"])


@router.post(
    "/v1/datasets/{dataset_id}/access-requests",
    status_code=202,
    response_model=Accepted,
    summary="Ask the owning department for access",
)
def request_access(
    dataset_id: DatasetIdPath,
    body: AccessRequestCreate,
    writer: WriterDep,
) -> JSONResponse:
    writer.principal.acting_department()  # refused before anything is claimed
    command = cases.RequestAccess(
        dataset_id=hex_bytes(path_id(dataset_id)),
        purpose=body.purpose,
        duration_seconds=body.duration_seconds,
        salt=hex_bytes(body.salt) if body.salt else None,
        signature=client_signature(body.signature),
    )
    return queue_write(writer, body, cases.request_access, command)


@router.post("/v1/access-requests/{request_id}/approve", status_code=202, response_model=Accepted)
def approve(
    request_id: RequestIdPath,
    body: AccessApproval,
    writer: WriterDep,
) -> JSONResponse:
    """The owner grants access until ``expires_at`` (at most the requested duration)."""
    command = cases.ApproveAccess(
        request_id=_request_id(request_id),
        expires_at=body.expires_at,
        signature=client_signature(body.signature),
    )
    return queue_write(writer, body, cases.approve_access, command)


@router.post("/v1/access-requests/{request_id}/deny", status_code=202, response_model=Accepted)
def deny(
    request_id: RequestIdPath,
    body: AccessAnswer,
    writer: WriterDep,
) -> JSONResponse:
    """The owner refuses a pending request, with a reason (its hash goes on chain)."""
    command = cases.DenyAccess(
        request_id=_request_id(request_id),
        reason=body.reason,
        signature=client_signature(body.signature),
    )
    return queue_write(writer, body, cases.deny_access, command)


@router.post("/v1/access-requests/{request_id}/cancel", status_code=202, response_model=Accepted)
def cancel(
    request_id: RequestIdPath,
    body: AccessCancel,
    writer: WriterDep,
) -> JSONResponse:
    """The requester withdraws its pending request."""
    command = cases.CancelRequest(
        request_id=_request_id(request_id), signature=client_signature(body.signature)
    )
    return queue_write(writer, body, cases.cancel_request, command)


@router.post("/v1/grants/{request_id}/revoke", status_code=202, response_model=Accepted)
def revoke(
    request_id: RequestIdPath,
    body: AccessAnswer,
    writer: WriterDep,
) -> JSONResponse:
    """The owner ends an approved grant before its expiry. A grant's id is its request's id."""
    command = cases.RevokeGrant(
        request_id=_request_id(request_id),
        reason=body.reason,
        signature=client_signature(body.signature),
    )
    return queue_write(writer, body, cases.revoke_grant, command)


def _request_id(value: str) -> bytes:
    return hex_bytes(path_id(value))
