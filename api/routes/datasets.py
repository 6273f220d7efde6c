"""Departments register datasets, append versions, withdraw datasets."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session

from api.bodies import Body, takes
from api.deps import IdempotencyKey, PrincipalDep, RuntimeDep
from api.idempotency import Idempotency
from api.routes.common import (
    Intent,
    accept_queued,
    acknowledge_record,
    client_signature,
    hex_bytes,
    idempotent_write,
    intent_of,
    path_id,
    refs,
    sealed_content,
    validated,
)
from api.schemas import (
    Accepted,
    DatasetCreate,
    DatasetIdPath,
    VersionCreate,
    Withdrawal,
)
from api.uploads import hash_upload
from ledger.anchoring.queue import batched_dataset
from ledger.errors import (
    InvalidInputError,
    JsonTooDeepError,
)
from ledger.jsonguard import loads
from ledger.runtime import Runtime
from ledger.service import batched
from ledger.service import datasets as cases
from ledger.service.principal import Principal

router = APIRouter(tags=["datasets"])
M = TypeVar("M", bound=BaseModel)


async def _parse(request: Request, runtime: Runtime, model: type[M]) -> tuple[M, bytes]:
    """The body as ``model``, from JSON or from a multipart upload whose file is hashed while it
    streams (its SHA-256 becomes ``content_hash``; other parts are the JSON fields). Returns the
    model and the bytes that identify the request for idempotency."""
    if request.headers.get("content-type", "").startswith("application/json"):
        raw = await request.body()
        return validated(model, raw), raw
    upload = await hash_upload(request, max_bytes=runtime.settings.max_upload_bytes)
    document: dict[str, Any] = {"content_hash": upload.digest.hex()}
    for name, text in upload.fields.items():
        if name == "content_hash":
            raise InvalidInputError("send either a file or content_hash, not both")
        if name == "signature":
            raise InvalidInputError(
                "a department's own signature comes with JSON and content_hash: it signs a "
                "hash it computed itself, so it has no need to upload the bytes"
            )
        if name == "sealed":
            raise InvalidInputError(
                "a sealed version comes with JSON and content_hash: it is sealed in the "
                "department's client (PUT /v1/blobs/sha256/…), and the service never sees the "
                "plaintext"
            )
        try:
            document[name] = (
                loads(text, max_depth=runtime.settings.max_json_depth)
                if name in _JSON_FIELDS
                else text
            )
        except JsonTooDeepError:
            raise
        except ValueError as exc:
            raise InvalidInputError(f"form field {name!r} must be JSON: {exc}") from exc
    return validated(model, document), json.dumps(document, sort_keys=True).encode()


_JSON_FIELDS = {"metadata", "parents"}


def _upload_body(model: type[BaseModel]) -> dict[str, Any]:
    """The request body of an upload route for the OpenAPI document: ``model`` as JSON, or as
    multipart with the file in place of ``content_hash``, derived from ``model`` so the two
    never disagree. Objects and lists travel as JSON text parts (``encoding``), as
    :func:`_parse` reads them; a multipart part cannot be null, so optional parts are omitted
    instead. An upload carries no ``signature``: a department holding its own key signs a hash
    it computed itself and sends JSON; nor ``sealed``: sealed bytes are sealed in the
    department's client, and the service never sees the plaintext."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    parts: dict[str, Any] = {"file": {"type": "string", "format": "binary"}}
    encoding: dict[str, Any] = {}
    for name, field in schema["properties"].items():
        if name in ("content_hash", "signature", "sealed"):
            continue
        options = [o for o in field.get("anyOf", [field]) if o.get("type") != "null"]
        part = {**options[0], **{k: v for k, v in field.items() if k in ("description", "title")}}
        parts[name] = part
        if name in _JSON_FIELDS:
            encoding[name] = {"contentType": "application/json"}
    required = ["file", *(n for n in schema.get("required", []) if n != "content_hash")]
    multipart = {
        "type": "object",
        "description": "The file is hashed while it streams; the other parts are the JSON "
        "body's fields (objects and lists as JSON text).",
        "properties": parts,
        "required": required,
        "additionalProperties": False,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}},
                "multipart/form-data": {"schema": multipart, "encoding": encoding},
            },
        }
    }


async def _write_parsed(
    request: Request,
    runtime: Runtime,
    principal: Principal,
    idempotency_key: str | None,
    model: type[M],
    write: Callable[[M, Session, Idempotency], JSONResponse],
) -> JSONResponse:
    """Read the body as ``model`` (:func:`_parse`) and run ``write`` with it, once per
    Idempotency-Key. The checks and signing wait on the node and the database: off the event
    loop, which keeps reading other requests meanwhile."""
    body, identity = await _parse(request, runtime, model)
    intent = Intent.of(request, identity)
    return await run_in_threadpool(
        idempotent_write, runtime, principal, idempotency_key, intent, partial(write, body)
    )


@router.post(
    "/v1/datasets",
    status_code=202,
    response_model=Accepted,
    summary="Register a dataset and its first version (JSON with content_hash, or a file upload)",
    openapi_extra=_upload_body(DatasetCreate),
)
@takes(Body.UPLOAD)
async def create_dataset(
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    principal.acting_department()  # a non-department is refused before its upload is read

    def write(body: DatasetCreate, session: Session, idempotency: Idempotency) -> JSONResponse:
        if body.anchoring == "batch":
            entry = batched.BatchedEntry(
                content_hash=hex_bytes(body.content_hash),
                metadata={"classification": body.classification, **body.metadata.model_dump()},
                classification=body.classification,
                parents=refs(body.parents),
                salt=hex_bytes(body.salt) if body.salt else None,
            )
            records = batched.register_one(session, runtime, principal, entry)
            return acknowledge_record(request, session, idempotency, records)
        queued = cases.register_dataset(session, runtime, principal, _new_dataset(body))
        return accept_queued(request, session, idempotency, queued)

    return await _write_parsed(request, runtime, principal, idempotency_key, DatasetCreate, write)


def _new_dataset(body: DatasetCreate) -> cases.NewDataset:
    return cases.NewDataset(
        content_hash=hex_bytes(body.content_hash),
        metadata=body.metadata.model_dump(),
        classification=body.classification,
        parents=refs(body.parents),
        salt=hex_bytes(body.salt) if body.salt else None,
        signature=client_signature(body.signature),
        sealed=sealed_content(body.sealed),
    )


@router.post(
    "/v1/datasets/{dataset_id}/versions",
    status_code=202,
    response_model=Accepted,
    summary="Append a version to one of the department's datasets (JSON or a file upload)",
    openapi_extra=_upload_body(VersionCreate),
)
@takes(Body.UPLOAD)
async def add_version(
    dataset_id: DatasetIdPath,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    principal.acting_department()  # a non-department is refused before its upload is read
    dataset_hex = path_id(dataset_id)

    def write(body: VersionCreate, session: Session, idempotency: Idempotency) -> JSONResponse:
        if batched_dataset(session, dataset_hex) is not None:
            if body.sealed is not None:
                raise InvalidInputError(
                    f"dataset {dataset_hex} is batched: sealed versions are shared under grants "
                    "of the access contract, which knows only datasets on chain"
                )
            if body.signature is not None:
                raise InvalidInputError(
                    f"dataset {dataset_hex} is batched: its records are signed as a batch root "
                    "by the custodial key, send no signature"
                )
            entry = batched.BatchedEntry(
                dataset_id=hex_bytes(dataset_hex),
                content_hash=hex_bytes(body.content_hash),
                metadata=body.metadata.model_dump(),
                parents=refs(body.parents),
            )
            records = batched.append_one(session, runtime, principal, entry)
            return acknowledge_record(request, session, idempotency, records)
        command = _new_version(dataset_hex, body)
        queued = cases.append_version(session, runtime, principal, command)
        return accept_queued(request, session, idempotency, queued)

    return await _write_parsed(request, runtime, principal, idempotency_key, VersionCreate, write)


def _new_version(dataset_hex: str, body: VersionCreate) -> cases.AppendVersion:
    return cases.AppendVersion(
        dataset_id=hex_bytes(dataset_hex),
        content_hash=hex_bytes(body.content_hash),
        metadata=body.metadata.model_dump(),
        parents=refs(body.parents),
        signature=client_signature(body.signature),
        sealed=sealed_content(body.sealed),
    )


@router.post(
    "/v1/datasets/{dataset_id}/withdraw",
    status_code=202,
    response_model=Accepted,
    summary="Withdraw one of the department's datasets (an event; nothing is deleted)",
)
def withdraw_dataset(
    dataset_id: DatasetIdPath,
    body: Withdrawal,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    principal.acting_department()  # refused before anything is claimed
    dataset_hex = path_id(dataset_id)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        if batched_dataset(session, dataset_hex) is not None:
            if body.signature is not None:
                raise InvalidInputError(f"dataset {dataset_hex} is batched: send no signature")
            records = batched.withdraw_one(
                session, runtime, principal, hex_bytes(dataset_hex), body.reason
            )
            return acknowledge_record(request, session, idempotency, records)
        command = cases.WithdrawDataset(
            dataset_id=hex_bytes(dataset_hex),
            reason=body.reason,
            signature=client_signature(body.signature),
        )
        queued = cases.withdraw_dataset(session, runtime, principal, command)
        return accept_queued(request, session, idempotency, queued)

    return idempotent_write(runtime, principal, idempotency_key, intent_of(request, body), write)
