"""``POST /v1/datasets/batch``: many records in one request, queued for their departments'
next Merkle batches (the rules: :mod:`ledger.service.batched`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlmodel import Session

from api.bodies import Body, takes
from api.deps import IdempotencyKey, PrincipalDep, RuntimeDep
from api.idempotency import Idempotency
from api.routes.common import (
    Intent,
    acknowledge_records,
    hex_bytes,
    idempotent_write,
    refs,
    validated,
)
from api.schemas import BatchAccepted, BatchEntry, BatchRegistration
from ledger.service import batched as cases

router = APIRouter(tags=["datasets"])


@router.post(
    "/v1/datasets/batch",
    status_code=202,
    response_model=BatchAccepted,
    summary="Register many records at once (new datasets and versions), anchored in batches",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BatchRegistration"}}
            },
        }
    },
)
@takes(Body.BULK)
async def register_batch(
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """All or nothing: the records are checked in order (a record may name a dataset created
    earlier in the same request) and stored together, or a problem names the first bad one
    (``records[i]: …``) and nothing is stored. Up to 10,000 records per request; each gets an
    operation id that becomes ``confirmed`` with its inclusion proof."""
    principal.acting_department()  # refused before its body is read
    raw = await request.body()
    body = validated(BatchRegistration, raw)
    entries = [_entry(record) for record in body.records]

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        queued = cases.register_records(session, runtime, principal, entries)
        return acknowledge_records(session, idempotency, _accepted(queued))

    # The checks wait on the node and the database: off the event loop, which keeps reading
    # other requests meanwhile.
    intent = Intent.of(request, raw)
    return await run_in_threadpool(
        idempotent_write, runtime, principal, idempotency_key, intent, write
    )


def _entry(record: BatchEntry) -> cases.BatchedEntry:
    return cases.BatchedEntry(
        content_hash=hex_bytes(record.content_hash),
        metadata=record.metadata_document(),
        dataset_id=hex_bytes(record.dataset_id) if record.dataset_id else None,
        classification=record.classification,
        parents=refs(record.parents),
        salt=hex_bytes(record.salt) if record.salt else None,
    )


#: What the answer says of each record (the operation holds the rest).
_SUMMARY = ("dataset_id", "version", "content_hash")


def _accepted(queued: cases.QueuedRecords) -> dict[str, Any]:
    records = [
        {"operation_id": op_id, **{key: result[key] for key in _SUMMARY}}
        for op_id, result in zip(queued.operation_ids, queued.results, strict=True)
    ]
    return BatchAccepted(count=len(records), status="pending", records=records).model_dump()
