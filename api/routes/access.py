"""Access between departments: request → approve (expiry) / deny → revoke, or cancel."""

from __future__ import annotations

import os
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth import Principal
from api.deps import IdempotencyKey, PrincipalDep, RuntimeDep, SessionDep
from api.idempotency import replay, request_fingerprint
from api.routes.common import accepted, text_commitment
from api.routes.datasets import _bytes, _path_id, _signature
from api.schemas import Accepted, AccessAnswer, AccessApproval, AccessCancel, AccessRequestCreate
from ledger.actions import submit_department_action
from ledger.chain.types import AccessRequestRecord, RequestStatus
from ledger.errors import ConflictError, ForbiddenError, InvalidInputError, ResourceNotFoundError
from ledger.runtime import Runtime

router = APIRouter(tags=["access"])


def _visible_request(
    runtime: Runtime, principal: Principal, request_id: str
) -> AccessRequestRecord:
    """The request if the caller is its requester or the dataset's owner; else 404."""
    record = runtime.ledger.access.access_request(_bytes(_path_id(request_id)))
    if record.status != RequestStatus.NONE and principal.department_id is not None:
        owner = runtime.ledger.datasets.dataset(record.dataset_id).owner
        if principal.department_id in (record.requester, owner):
            return record
    raise ResourceNotFoundError(f"no access request {request_id} visible to this token")


@router.post(
    "/v1/datasets/{dataset_id}/access-requests",
    status_code=202,
    response_model=Accepted,
    summary="Ask the owning department for access",
)
async def request_access(
    dataset_id: str,
    body: AccessRequestCreate,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    department_id = principal.acting_department()
    dataset_hex = _path_id(dataset_id)
    fingerprint = request_fingerprint("POST", request.url.path, await request.body())
    if (previous := replay(session, principal, idempotency_key, fingerprint)) is not None:
        return previous
    record = runtime.ledger.datasets.dataset(_bytes(dataset_hex))
    if not record.exists:
        raise ResourceNotFoundError(f"no dataset {dataset_hex}")
    if record.owner == department_id:
        raise InvalidInputError("a department already has access to its own datasets")
    if record.withdrawn:
        raise ConflictError(
            {"datasetId": dataset_hex}, message=f"dataset {dataset_hex} is withdrawn"
        )
    salt = _bytes(body.salt) if body.salt else os.urandom(32)
    request_id = runtime.ledger.access.request_id_of(department_id, salt)
    purpose_hash = text_commitment(session, body.purpose)
    resource = {
        "request_id": "0x" + request_id.hex(),
        "dataset_id": dataset_hex,
        "salt": "0x" + salt.hex(),
        "purpose_hash": "0x" + purpose_hash.hex(),
    }
    op = submit_department_action(
        session,
        runtime,
        department_id=department_id,
        client=runtime.ledger.access,
        action_type="RequestAccess",
        fields={
            "salt": salt,
            "datasetId": _bytes(dataset_hex),
            "purposeHash": purpose_hash,
            "requestedDuration": body.duration_seconds,
        },
        function="requestAccessBySig",
        call_args=lambda auth: [
            salt,
            _bytes(dataset_hex),
            purpose_hash,
            body.duration_seconds,
            auth.as_abi(),
        ],
        kind="access.request",
        result=resource,
        signature=_signature(body.signature),
    )
    return accepted(
        request,
        session,
        principal,
        op,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        resource=resource,
    )


async def _answer(
    request: Request,
    runtime: Runtime,
    session: SessionDep,
    principal: Principal,
    idempotency_key: str | None,
    *,
    request_id: str,
    as_owner: bool,
    expected: RequestStatus,
    action_type: str,
    fields: dict[str, object],
    function: str,
    extra_args: list[object],
    kind: str,
    signature: object,
    validate: Callable[[AccessRequestRecord], None] | None = None,
) -> JSONResponse:
    department_id = principal.acting_department()
    fingerprint = request_fingerprint("POST", request.url.path, await request.body())
    if (previous := replay(session, principal, idempotency_key, fingerprint)) is not None:
        return previous
    record = _visible_request(runtime, principal, request_id)
    owner = runtime.ledger.datasets.dataset(record.dataset_id).owner
    actor_ok = department_id == owner if as_owner else department_id == record.requester
    if not actor_ok:
        who = "the dataset's owner" if as_owner else "the requester"
        raise ForbiddenError(f"only {who} may do this")
    if record.status != expected:
        status = record.status.name.lower()
        raise ConflictError(
            {"requestId": request_id, "status": status},
            message=f"request {request_id} is {status}, expected {expected.name.lower()}",
        )
    if validate is not None:
        validate(record)
    rid = _bytes(_path_id(request_id))
    op = submit_department_action(
        session,
        runtime,
        department_id=department_id,
        client=runtime.ledger.access,
        action_type=action_type,
        fields={"requestId": rid, **fields},
        function=function,
        call_args=lambda auth: [rid, *extra_args, auth.as_abi()],
        kind=kind,
        result={"request_id": _path_id(request_id)},
        signature=_signature(signature),  # type: ignore[arg-type]
    )
    return accepted(
        request,
        session,
        principal,
        op,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        resource={"request_id": _path_id(request_id)},
    )


@router.post("/v1/access-requests/{request_id}/approve", status_code=202, response_model=Accepted)
async def approve(
    request_id: str,
    body: AccessApproval,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The owner grants access until ``expires_at`` (at most the requested duration)."""

    def check_expiry(record: AccessRequestRecord) -> None:
        now = runtime.chain.block_time()
        if body.expires_at <= now:
            raise InvalidInputError(
                f"expires_at {body.expires_at} is not after the chain's time {now}"
            )
        # The contract measures the duration from the approval's block, a little after now.
        if body.expires_at > now + record.requested_duration:
            raise InvalidInputError(
                f"expires_at {body.expires_at} is beyond the requested duration: at most "
                f"{now + record.requested_duration} (now {now} + {record.requested_duration} s)"
            )

    return await _answer(
        request, runtime, session, principal, idempotency_key,
        request_id=request_id, as_owner=True, expected=RequestStatus.PENDING,
        action_type="ApproveAccess", fields={"expiresAt": body.expires_at},
        function="approveAccessBySig", extra_args=[body.expires_at], kind="access.approve",
        signature=body.signature, validate=check_expiry,
    )  # fmt: skip


@router.post("/v1/access-requests/{request_id}/deny", status_code=202, response_model=Accepted)
async def deny(
    request_id: str,
    body: AccessAnswer,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The owner refuses a pending request, with a reason (its hash goes on chain)."""
    reason = text_commitment(session, body.reason)
    return await _answer(
        request, runtime, session, principal, idempotency_key,
        request_id=request_id, as_owner=True, expected=RequestStatus.PENDING,
        action_type="DenyAccess", fields={"reasonHash": reason},
        function="denyAccessBySig", extra_args=[reason], kind="access.deny",
        signature=body.signature,
    )  # fmt: skip


@router.post("/v1/access-requests/{request_id}/cancel", status_code=202, response_model=Accepted)
async def cancel(
    request_id: str,
    body: AccessCancel,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The requester withdraws its pending request."""
    return await _answer(
        request, runtime, session, principal, idempotency_key,
        request_id=request_id, as_owner=False, expected=RequestStatus.PENDING,
        action_type="CancelAccessRequest", fields={},
        function="cancelAccessRequestBySig", extra_args=[], kind="access.cancel",
        signature=body.signature,
    )  # fmt: skip


@router.post("/v1/grants/{request_id}/revoke", status_code=202, response_model=Accepted)
async def revoke(
    request_id: str,
    body: AccessAnswer,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The owner ends an approved grant before its expiry. A grant's id is its request's id."""
    reason = text_commitment(session, body.reason)
    return await _answer(
        request, runtime, session, principal, idempotency_key,
        request_id=request_id, as_owner=True, expected=RequestStatus.APPROVED,
        action_type="RevokeAccess", fields={"reasonHash": reason},
        function="revokeAccessBySig", extra_args=[reason], kind="access.revoke",
        signature=body.signature,
    )  # fmt: skip


@router.get(
    "/v1/datasets/{dataset_id}/access", summary="Does a department have access, per the chain"
)
def has_access(
    dataset_id: str,
    department: int,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    block: int | None = None,
) -> dict[str, object]:
    """Answered by the contract's ``hasAccess`` at the latest block, or at ``block``."""
    dataset_hex = _path_id(dataset_id)
    if principal.department_id is not None and principal.department_id != department:
        owner = runtime.ledger.datasets.dataset(_bytes(dataset_hex)).owner
        if owner != principal.department_id:
            raise ForbiddenError("a department may ask about itself or about its own datasets")
    at = block if block is not None else runtime.chain.w3.eth.block_number
    allowed = runtime.ledger.access.has_access(_bytes(dataset_hex), department, block=at)
    header = runtime.chain.w3.eth.get_block(at)
    return {
        "dataset_id": dataset_hex,
        "department_id": department,
        "has_access": allowed,
        "chain": {
            "chain_id": runtime.chain.chain_id,
            "contract": runtime.ledger.access.address,
            "block_number": at,
            "block_hash": header["hash"].to_0x_hex(),
            "block_time": header["timestamp"],
        },
    }
