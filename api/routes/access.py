"""Access between departments: request → approve (expiry) / deny → revoke, or cancel."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session

from api.deps import IdempotencyKey, PrincipalDep, RuntimeDep
from api.idempotency import Idempotency
from api.routes.common import accepted, idempotent_write, intent_of
from api.routes.datasets import _bytes, _path_id, _signature
from api.schemas import (
    Accepted,
    AccessAnswer,
    AccessApproval,
    AccessCancel,
    AccessRequestCreate,
    BlockQuery,
    DatasetIdPath,
    DepartmentIdQuery,
    RequestIdPath,
    Signature,
)
from ledger.chain.types import AccessRequestRecord, RequestStatus
from ledger.errors import (
    ChainError,
    ChainUnavailableError,
    ConflictError,
    ContractRevertError,
    ForbiddenError,
    InvalidInputError,
    ResourceNotFoundError,
)
from ledger.relayer.actions import submit_department_action
from ledger.runtime import Runtime
from ledger.service.documents import text_commitment
from ledger.service.principal import Principal

router = APIRouter(tags=["access"])


def _existing_request(runtime: Runtime, request_id: str) -> AccessRequestRecord:
    """The request as the chain has it; 404 if there is none (its existence is on chain for
    anyone to see, so a non-party is refused with 403 by the caller, not told 404)."""
    record = runtime.ledger.access.access_request(_bytes(_path_id(request_id)))
    if record.status == RequestStatus.NONE:
        raise ResourceNotFoundError(f"no access request {request_id}")
    return record


@router.post(
    "/v1/datasets/{dataset_id}/access-requests",
    status_code=202,
    response_model=Accepted,
    summary="Ask the owning department for access",
)
def request_access(
    dataset_id: DatasetIdPath,
    body: AccessRequestCreate,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    department_id = principal.acting_department()
    dataset_hex = _path_id(dataset_id)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
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
            runtime.ledger,
            runtime.department_key,
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
        return accepted(request, session, idempotency, op, resource=resource)

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Answer:
    """One of the four answers to an access request, as a contract action."""

    as_owner: bool  # the dataset's owner answers; else the requester
    expected: RequestStatus
    action_type: str
    function: str
    kind: str
    #: The action's fields and call arguments besides the request id (texts are committed
    #: in the write's session, so these are computed there).
    fields: Callable[[Session], dict[str, object]] = lambda _: {}
    validate: Callable[[AccessRequestRecord], None] | None = None


def _answer(
    request: Request,
    runtime: Runtime,
    principal: Principal,
    idempotency_key: str | None,
    request_id: str,
    body: BaseModel,
    signature: Signature | None,
    answer: _Answer,
) -> JSONResponse:
    department_id = principal.acting_department()
    rid_hex = _path_id(request_id)
    rid = _bytes(rid_hex)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        record = _existing_request(runtime, rid_hex)
        owner = runtime.ledger.datasets.dataset(record.dataset_id).owner
        actor_ok = department_id == owner if answer.as_owner else department_id == record.requester
        if not actor_ok:
            who = "the dataset's owner" if answer.as_owner else "the requester"
            raise ForbiddenError(f"only {who} may do this")
        if record.status != answer.expected:
            status = record.status.name.lower()
            raise ConflictError(
                {"requestId": rid_hex, "status": status},
                message=f"request {rid_hex} is {status}, expected {answer.expected.name.lower()}",
            )
        if answer.validate is not None:
            answer.validate(record)
        fields = answer.fields(session)
        op = submit_department_action(
            session,
            runtime.ledger,
            runtime.department_key,
            department_id=department_id,
            client=runtime.ledger.access,
            action_type=answer.action_type,
            fields={"requestId": rid, **fields},
            function=answer.function,
            call_args=lambda auth: [rid, *fields.values(), auth.as_abi()],
            kind=answer.kind,
            result={"request_id": rid_hex},
            signature=_signature(signature),
        )
        return accepted(request, session, idempotency, op, resource={"request_id": rid_hex})

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)


@router.post("/v1/access-requests/{request_id}/approve", status_code=202, response_model=Accepted)
def approve(
    request_id: RequestIdPath,
    body: AccessApproval,
    request: Request,
    runtime: RuntimeDep,
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

    return _answer(
        request, runtime, principal, idempotency_key, request_id, body, body.signature,
        _Answer(
            as_owner=True, expected=RequestStatus.PENDING, action_type="ApproveAccess",
            function="approveAccessBySig", kind="access.approve",
            fields=lambda _: {"expiresAt": body.expires_at}, validate=check_expiry,
        ),
    )  # fmt: skip


@router.post("/v1/access-requests/{request_id}/deny", status_code=202, response_model=Accepted)
def deny(
    request_id: RequestIdPath,
    body: AccessAnswer,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The owner refuses a pending request, with a reason (its hash goes on chain)."""
    return _answer(
        request, runtime, principal, idempotency_key, request_id, body, body.signature,
        _Answer(
            as_owner=True, expected=RequestStatus.PENDING, action_type="DenyAccess",
            function="denyAccessBySig", kind="access.deny",
            fields=lambda session: {"reasonHash": text_commitment(session, body.reason)},
        ),
    )  # fmt: skip


@router.post("/v1/access-requests/{request_id}/cancel", status_code=202, response_model=Accepted)
def cancel(
    request_id: RequestIdPath,
    body: AccessCancel,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The requester withdraws its pending request."""
    return _answer(
        request, runtime, principal, idempotency_key, request_id, body, body.signature,
        _Answer(
            as_owner=False, expected=RequestStatus.PENDING, action_type="CancelAccessRequest",
            function="cancelAccessRequestBySig", kind="access.cancel",
        ),
    )  # fmt: skip


@router.post("/v1/grants/{request_id}/revoke", status_code=202, response_model=Accepted)
def revoke(
    request_id: RequestIdPath,
    body: AccessAnswer,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The owner ends an approved grant before its expiry. A grant's id is its request's id."""
    return _answer(
        request, runtime, principal, idempotency_key, request_id, body, body.signature,
        _Answer(
            as_owner=True, expected=RequestStatus.APPROVED, action_type="RevokeAccess",
            function="revokeAccessBySig", kind="access.revoke",
            fields=lambda session: {"reasonHash": text_commitment(session, body.reason)},
        ),
    )  # fmt: skip


@router.get(
    "/v1/datasets/{dataset_id}/access", summary="Does a department have access, per the chain"
)
def has_access(
    dataset_id: DatasetIdPath,
    department: DepartmentIdQuery,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    block: BlockQuery = None,
) -> dict[str, object]:
    """Answered by the contract's ``hasAccess`` at the latest block, or at ``block``. Any token
    may ask: the contract answers anyone who reads the chain (:mod:`api.visibility`)."""
    dataset_hex = _path_id(dataset_id)
    head, _ = runtime.chain.head()
    if block is not None and block > head:
        raise ResourceNotFoundError(f"block {block} is not mined yet (the head is {head})")
    at = block if block is not None else head
    contract = runtime.ledger.access.address
    start = runtime.ledger.deployment.start_block
    missing = ResourceNotFoundError(
        f"the access registry did not exist yet at block {at} (deployed from block {start})"
    )
    if at < start:
        raise missing  # not asked of the node: one that prunes history refuses old blocks
    try:
        if block is not None and not runtime.chain.call(
            lambda: runtime.chain.w3.eth.get_code(contract, block_identifier=at)
        ):
            raise missing
        allowed = runtime.ledger.access.has_access(_bytes(dataset_hex), department, block=at)
    except (ChainUnavailableError, ContractRevertError):
        raise
    except ChainError as exc:  # e.g. a node that keeps no state that old (not an archive node)
        raise ResourceNotFoundError(
            f"the node has no state for block {at}: {exc.message} (ask an archive node)"
        ) from exc
    header = runtime.chain.call(lambda: runtime.chain.w3.eth.get_block(at))
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
