"""Departments' encryption keys: publish (the rules are :mod:`ledger.service.encryption_keys`),
the key in force, the keys published before it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import ReaderAskerDep, WriterDep
from api.errors import PROBLEM_JSON
from api.pagination import SerialCursor
from api.routes.common import client_signature, queue_write
from api.schemas import Accepted, DepartmentIdPath, EncryptionKeyPublish
from ledger.chain.types import Kem
from ledger.service import encryption_keys as cases

router = APIRouter(tags=["departments"])

#: Every route here needs the key directory, which deployments from before it lack.
_TOO_OLD: dict[int | str, dict[str, Any]] = {
    501: {
        "description": "The deployment predates the key directory (`deployment-too-old`)",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}


@router.post(
    "/v1/departments/{department_id}/encryption-keys",
    status_code=202,
    response_model=Accepted,
    summary="Publish the department's encryption key (rotates the one in force)",
    responses=_TOO_OLD,
)
def publish_encryption_key(
    department_id: DepartmentIdPath, body: EncryptionKeyPublish, writer: WriterDep
) -> JSONResponse:
    """A department publishes for itself only. Without ``public_key`` the service generates the
    key pair and keeps its private half (``resource.custodial`` true). The resource's
    ``public_key`` is in the same encoding as the request's: KEM id (2 bytes), then the key."""
    cases.acting_for(writer.principal, department_id)  # refused before anything is parsed
    kem: Kem | int | None = None if body.kem is None else cases.kem_named(body.kem)
    public_key = None
    if body.public_key is not None:
        kem, public_key = cases.split_encoding(bytes.fromhex(body.public_key[2:]), kem)
    command = cases.PublishEncryptionKey(
        kem=kem,
        public_key=public_key,
        signature=client_signature(body.signature),
        department_id=department_id,
    )
    return queue_write(writer, body, cases.publish_encryption_key, command)


@router.get(
    "/v1/departments/{department_id}/encryption-key",
    summary="The department's encryption key in force",
    responses=_TOO_OLD,
)
def current_encryption_key(department_id: DepartmentIdPath, ask: ReaderAskerDep) -> dict[str, Any]:
    """Serial and hash from the key directory now; the key from the index (or the chain's log),
    re-hashed against that hash. 404 ``encryption-key-not-published`` if it has none."""
    return ask(cases.current_encryption_key, department_id)


@router.get(
    "/v1/departments/{department_id}/encryption-keys",
    summary="Every encryption key the department published, newest first",
    responses=_TOO_OLD,
)
def encryption_key_history(
    department_id: DepartmentIdPath,
    ask: ReaderAskerDep,
    cursor: SerialCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """From the index (``indexed_block`` says how far it has read)."""
    return ask(
        cases.encryption_key_history, cases.EncryptionKeyListing(department_id, cursor, limit)
    )
