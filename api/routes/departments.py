"""Governance: enrol, rotate keys of, suspend and reactivate departments; issue and revoke
tokens."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from api.auth import issue_token, revoke_token
from api.deps import IdempotencyKey, PrincipalDep, RuntimeDep, Writer, WriterDep
from api.idempotency import Idempotency
from api.routes.common import accepted, idempotent_write, intent_of, queue_write
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
from ledger.runtime import Runtime
from ledger.service import departments as cases
from ledger.service.principal import PrincipalKind

router = APIRouter(tags=["departments"])


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
    command = cases.EnrolDepartment(
        department_id=body.department_id, name=body.name, signer_address=body.signer_address
    )

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        queued = cases.enrol_department(session, runtime, principal, command)
        token_id, token = issue_token(
            session, PrincipalKind.DEPARTMENT, department_id=body.department_id, label=body.name
        )
        op = queued.operation
        payload = DepartmentEnrolled(
            department_id=body.department_id,
            name=body.name,
            address=queued.resource["address"],
            custodial=queued.resource["custodial"],
            token_id=token_id,
            token=token,
            operation_id=op.id,
        ).model_dump()
        payload["operation_url"] = str(request.url_for("get_operation", operation_id=op.id))
        return accepted(request, session, idempotency, op, body=payload)

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)


@router.post(
    "/v1/departments/{department_id}/rotate-key",
    status_code=202,
    response_model=Accepted,
    summary="Rotate a department's signing key (governance)",
)
def rotate_department_key(
    department_id: DepartmentIdPath,
    writer: WriterDep,
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
    writer.principal.require(PrincipalKind.GOVERNANCE)
    own_key = body.signer_address if body is not None else None
    command = cases.RotateKey(department_id=department_id, signer_address=own_key)
    return queue_write(writer, body, cases.rotate_key, command)


@router.post(
    "/v1/departments/{department_id}/suspend",
    status_code=202,
    response_model=Accepted,
    summary="Suspend a department (governance)",
)
def suspend_department(
    department_id: DepartmentIdPath,
    body: Suspension,
    writer: WriterDep,
) -> JSONResponse:
    writer.principal.require(PrincipalKind.GOVERNANCE)
    command = cases.SuspendDepartment(department_id=department_id, reason=body.reason)
    return queue_write(writer, body, cases.suspend_department, command)


@router.post(
    "/v1/departments/{department_id}/reactivate",
    status_code=202,
    response_model=Accepted,
    summary="Reactivate a suspended department (governance)",
)
def reactivate_department(
    department_id: DepartmentIdPath,
    writer: WriterDep,
) -> JSONResponse:
    writer.principal.require(PrincipalKind.GOVERNANCE)
    command = cases.ReactivateDepartment(department_id=department_id)
    return queue_write(writer, None, cases.reactivate_department, command)


@router.post(
    "/v1/departments/{department_id}/tokens",
    status_code=201,
    response_model=TokenIssued,
    summary="Issue another token for a department (governance)",
)
def issue_department_token(
    department_id: DepartmentIdPath,
    body: TokenIssue,
    writer: WriterDep,
) -> JSONResponse:
    def issue(session: Session, runtime: Runtime) -> TokenIssued:
        cases.require_known(session, runtime, department_id)
        token_id, token = issue_token(
            session, PrincipalKind.DEPARTMENT, department_id=department_id, label=body.label
        )
        return TokenIssued(
            token_id=token_id, token=token, kind="department", department_id=department_id
        )

    return _issue_once(writer, body, issue)


@router.post(
    "/v1/auditors",
    status_code=201,
    response_model=TokenIssued,
    summary="Issue an auditor token: read and verify only (governance)",
)
def issue_auditor_token(body: TokenIssue, writer: WriterDep) -> JSONResponse:
    def issue(session: Session, runtime: Runtime) -> TokenIssued:
        token_id, token = issue_token(session, PrincipalKind.AUDITOR, label=body.label)
        return TokenIssued(token_id=token_id, token=token, kind="auditor", department_id=None)

    return _issue_once(writer, body, issue)


def _issue_once(
    writer: Writer, body: TokenIssue, issue: Callable[[Session, Runtime], TokenIssued]
) -> JSONResponse:
    """Governance only: run ``issue`` once per Idempotency-Key, and commit the new token with
    its idempotency record (which never holds the secret)."""
    writer.principal.require(PrincipalKind.GOVERNANCE)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        payload = issue(session, writer.runtime).model_dump(mode="json")
        idempotency.remember(201, payload)
        session.commit()
        return JSONResponse(payload, status_code=201)

    intent = intent_of(writer.request, body)
    return idempotent_write(writer.runtime, writer.principal, writer.idempotency_key, intent, write)


@router.get("/v1/token", summary="Whom this token speaks for")
async def whoami(principal: PrincipalDep) -> dict[str, object]:
    """The token's kind, its department (a department's token; otherwise null) and its public
    id: how a client acting "as its token" learns which department it is."""
    return {
        "kind": principal.kind.value,
        "department_id": principal.department_id,
        "token_id": principal.token_id,
    }


@router.post("/v1/tokens/{token_id}/revoke", summary="Revoke a token (governance)")
def revoke(
    token_id: TokenIdPath, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, object]:
    with Session(runtime.engine) as session:
        principal.require(PrincipalKind.GOVERNANCE)
        token = revoke_token(session, token_id)
        session.commit()
        return {"token_id": token.id, "revoked_at": token.revoked_at}
