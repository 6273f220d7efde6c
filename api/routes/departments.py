"""Governance: enrol, rotate keys of, suspend and reactivate departments; issue and revoke
tokens."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session, col, select

from api.auth import issue_token, revoke_token
from api.deps import IdempotencyKey, PrincipalDep, RuntimeDep
from api.idempotency import Idempotency
from api.routes.common import accepted, idempotent_write, intent_of
from api.schemas import (
    Accepted,
    DepartmentCreate,
    DepartmentEnrolled,
    DepartmentIdPath,
    KeyRotation,
    Suspension,
    TokenIdPath,
    TokenIssue,
    TokenIssued,
)
from ledger.chain.types import DepartmentStatus
from ledger.errors import (
    ConflictError,
    DepartmentSignerUnavailableError,
    KeystoreExistsError,
    ResourceNotFoundError,
)
from ledger.relayer import Operation, OperationStatus, enqueue, queued_key_claim
from ledger.runtime import Runtime
from ledger.service.documents import text_commitment
from ledger.service.principal import Principal, PrincipalKind

router = APIRouter(tags=["departments"])


def _queued_enrolment(session: Session, department_id: int) -> Operation | None:
    return session.exec(
        select(Operation).where(
            Operation.kind == "departments.enrol",
            Operation.department_id == department_id,
            col(Operation.status).in_([OperationStatus.PENDING, OperationStatus.SUBMITTED]),
        )
    ).first()


@router.post(
    "/v1/departments",
    status_code=202,
    response_model=DepartmentEnrolled,
    summary="Enrol a department (governance)",
)
def enrol_department(
    body: DepartmentCreate,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    principal.require(PrincipalKind.GOVERNANCE)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        on_chain = runtime.ledger.departments.department(body.department_id)
        if on_chain.status != DepartmentStatus.NONE or _queued_enrolment(
            session, body.department_id
        ):
            raise ConflictError(
                {"departmentId": body.department_id},
                message=f"department {body.department_id} is enrolled already (or being enrolled)",
            )
        custodial = body.signer_address is None
        if body.signer_address is not None:
            address = runtime.chain.w3.to_checksum_address(body.signer_address)
        else:
            try:
                address = runtime.keystore.create(body.department_id, runtime.passphrase)
            except KeystoreExistsError:  # an earlier enrolment of this id failed on chain
                address = runtime.keystore.address(body.department_id)
        op = enqueue(
            session,
            kind="departments.enrol",
            contract="DepartmentRegistry",
            function="enrolDepartment",
            args=[body.department_id, body.name, address],
            department_id=body.department_id,
            result={"department_id": body.department_id, "address": address},
        )
        token_id, token = issue_token(
            session, PrincipalKind.DEPARTMENT, department_id=body.department_id, label=body.name
        )
        payload = DepartmentEnrolled(
            department_id=body.department_id,
            name=body.name,
            address=address,
            custodial=custodial,
            token_id=token_id,
            token=token,
            operation_id=op.id,
        ).model_dump()
        payload["operation_url"] = str(request.url_for("get_operation", operation_id=op.id))
        return accepted(request, session, idempotency, op, body=payload)

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)


def _require_enrolled(runtime: Runtime, department_id: int) -> None:
    if runtime.ledger.departments.department(department_id).status == DepartmentStatus.NONE:
        raise ResourceNotFoundError(f"no department {department_id} is enrolled")


def _governance_call(
    request: Request,
    runtime: Runtime,
    principal: Principal,
    idempotency_key: str | None,
    body: BaseModel | None,
    *,
    department_id: int,
    kind: str,
    function: str,
    args: Callable[[Session], list[object]],
) -> JSONResponse:
    principal.require(PrincipalKind.GOVERNANCE)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        _require_enrolled(runtime, department_id)
        op = enqueue(
            session,
            kind=kind,
            contract="DepartmentRegistry",
            function=function,
            args=args(session),
            department_id=department_id,
            result={"department_id": department_id},
        )
        return accepted(
            request, session, idempotency, op, resource={"department_id": department_id}
        )

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)


@router.post(
    "/v1/departments/{department_id}/rotate-key",
    status_code=202,
    response_model=Accepted,
    summary="Rotate a department's signing key (governance)",
)
def rotate_department_key(
    department_id: DepartmentIdPath,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
    body: KeyRotation | None = None,
) -> JSONResponse:
    """Give the department a new signing key; its id, datasets and history stay.

    Without ``signer_address`` the service generates a new custodial key; with it the
    department holds its own key from then on. The old custodial key is archived, never
    deleted: actions queued before the rotation are still signed with it (the outbox is mined
    in order), and old signatures stay explainable. A suspended department may be rotated, as
    the contract allows. A key any department ever used, or one a queued enrolment or rotation
    claims, is refused with 409 ``DepartmentSignerUnavailable``.
    """
    principal.require(PrincipalKind.GOVERNANCE)
    own_key = body.signer_address if body is not None else None

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        _require_enrolled(runtime, department_id)
        if own_key is None:
            address = runtime.keystore.rotate(department_id, runtime.passphrase)
        else:
            address = runtime.chain.w3.to_checksum_address(own_key)
            if queued_key_claim(session, address) is not None:
                raise DepartmentSignerUnavailableError(
                    {"signer": address},
                    message=f"key {address} is claimed by a queued enrolment or rotation",
                )
        op = enqueue(
            session,
            kind="departments.rotate_key",
            contract="DepartmentRegistry",
            function="rotateDepartmentKey",
            args=[department_id, address],
            department_id=department_id,
            result={"department_id": department_id, "address": address},
        )
        if own_key is not None:
            # The contract's own verdict now (a key used before → DepartmentSignerUnavailable),
            # before the custodial key is archived; nothing queued can make a used key free.
            runtime.relayer.dry_run(op)
            if runtime.keystore.path(department_id).exists():
                runtime.keystore.retire(department_id)
        resource = {
            "department_id": department_id,
            "address": address,
            "custodial": own_key is None,
        }
        return accepted(request, session, idempotency, op, resource=resource)

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)


@router.post(
    "/v1/departments/{department_id}/suspend",
    status_code=202,
    response_model=Accepted,
    summary="Suspend a department (governance)",
)
def suspend_department(
    department_id: DepartmentIdPath,
    body: Suspension,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return _governance_call(
        request,
        runtime,
        principal,
        idempotency_key,
        body,
        department_id=department_id,
        kind="departments.suspend",
        function="suspendDepartment",
        args=lambda session: [department_id, text_commitment(session, body.reason)],
    )


@router.post(
    "/v1/departments/{department_id}/reactivate",
    status_code=202,
    response_model=Accepted,
    summary="Reactivate a suspended department (governance)",
)
def reactivate_department(
    department_id: DepartmentIdPath,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return _governance_call(
        request,
        runtime,
        principal,
        idempotency_key,
        None,
        department_id=department_id,
        kind="departments.reactivate",
        function="reactivateDepartment",
        args=lambda _: [department_id],
    )


@router.post(
    "/v1/departments/{department_id}/tokens",
    status_code=201,
    response_model=TokenIssued,
    summary="Issue another token for a department (governance)",
)
def issue_department_token(
    department_id: DepartmentIdPath,
    body: TokenIssue,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    principal.require(PrincipalKind.GOVERNANCE)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        known = runtime.ledger.departments.department(department_id).status
        if known == DepartmentStatus.NONE and _queued_enrolment(session, department_id) is None:
            raise ResourceNotFoundError(f"no department {department_id}")
        token_id, token = issue_token(
            session, PrincipalKind.DEPARTMENT, department_id=department_id, label=body.label
        )
        issued = TokenIssued(
            token_id=token_id, token=token, kind="department", department_id=department_id
        )
        return _token_issued(session, idempotency, issued)

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)


@router.post(
    "/v1/auditors",
    status_code=201,
    response_model=TokenIssued,
    summary="Issue an auditor token: read and verify only (governance)",
)
def issue_auditor_token(
    body: TokenIssue,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    principal.require(PrincipalKind.GOVERNANCE)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        token_id, token = issue_token(session, PrincipalKind.AUDITOR, label=body.label)
        issued = TokenIssued(token_id=token_id, token=token, kind="auditor", department_id=None)
        return _token_issued(session, idempotency, issued)

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)


def _token_issued(session: Session, idempotency: Idempotency, issued: TokenIssued) -> JSONResponse:
    """Commit the new token with its idempotency record (which never holds the secret)."""
    payload = issued.model_dump(mode="json")
    idempotency.remember(201, payload)
    session.commit()
    return JSONResponse(payload, status_code=201)


@router.post("/v1/tokens/{token_id}/revoke", summary="Revoke a token (governance)")
def revoke(
    token_id: TokenIdPath, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, object]:
    with Session(runtime.engine) as session:
        principal.require(PrincipalKind.GOVERNANCE)
        token = revoke_token(session, token_id)
        session.commit()
        return {"token_id": token.id, "revoked_at": token.revoked_at}


@router.get("/v1/departments/{department_id}/nonces", summary="Nonces for self-signed actions")
def department_nonces(
    department_id: DepartmentIdPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, object]:
    """The nonce the department's next signature must carry, per contract, counting what the
    service has queued. Departments that hold their own key sign with these."""
    with Session(runtime.engine) as session:
        if principal.kind == PrincipalKind.DEPARTMENT and principal.department_id != department_id:
            raise ResourceNotFoundError(f"no department {department_id} visible to this token")
        from ledger.relayer import next_signature_nonce

        ledger = runtime.ledger
        return {
            "department_id": department_id,
            "chain_id": runtime.chain.chain_id,
            "nonces": {
                client.artifact_name: {
                    "contract": client.address,
                    "next_nonce": next_signature_nonce(session, client, department_id),
                }
                for client in (ledger.datasets, ledger.access, ledger.anchors)
            },
        }
