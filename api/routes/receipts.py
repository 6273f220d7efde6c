"""Delivery receipts over HTTP: a department acknowledges a sealed version it fetched; the
dataset's owner and auditors read them, and anyone allowed gets one as an offline proof bundle
(the rules are :mod:`ledger.service.receipts`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlmodel import Session

from api.deps import AskerDep, PrincipalDep, RuntimeDep
from api.routes.common import hex_bytes, path_id
from api.schemas import DatasetIdPath, ReceiptBody, ReceiptIdPath
from ledger.service import receipts as cases

router = APIRouter(tags=["receipts"])


@router.post(
    "/v1/receipts",
    status_code=201,
    summary="Acknowledge, signed, a sealed version this department fetched",
    responses={200: {"description": "The same receipt was recorded before"}},
)
def post_receipt(body: ReceiptBody, runtime: RuntimeDep, principal: PrincipalDep) -> Any:
    """Only while the chain grants the department access to the dataset; the version, content
    hash and sealed bytes' hash must be the version's, the request the department's grant in
    force, the time within minutes of the chain's. Signed by the department's own key
    (``signature``) or, when absent, by its custodial key; custodial receipts are anchored in
    batches (``status`` queued, then batched, then anchored)."""
    command = cases.RecordReceipt(
        dataset_id=hex_bytes(body.dataset_id),
        version=body.version,
        content_hash=hex_bytes(body.content_hash),
        sealed_sha256=hex_bytes(body.sealed_sha256),
        request_id=None if body.request_id is None else hex_bytes(body.request_id),
        time=body.time,
        signature=None if body.signature is None else hex_bytes(body.signature.signature),
    )
    with Session(runtime.engine) as session:
        recorded = cases.record_receipt(session, runtime, principal, command)
        session.commit()
    return JSONResponse(recorded.receipt, status_code=201 if recorded.created else 200)


@router.get(
    "/v1/datasets/{dataset_id}/receipts",
    summary="Delivery receipts of a dataset (its owner and auditors: all; a department: its own)",
)
def list_receipts(
    dataset_id: DatasetIdPath,
    ask: AskerDep,
    limit: Annotated[int, Query(ge=1, le=cases.MAX_LISTED)] = 100,
) -> Any:
    """Newest first."""
    return ask(cases.dataset_receipts, cases.DatasetReceipts(hex_bytes(path_id(dataset_id)), limit))


@router.get(
    "/v1/receipts/{receipt_id}",
    summary="One delivery receipt, as an offline proof bundle once its batch is anchored",
)
def get_receipt(receipt_id: ReceiptIdPath, ask: AskerDep) -> Any:
    """The typed data, its signature and signer; once anchored, the inclusion proof and the
    anchor (root, transaction, block, the department's signature of the root):
    ``provledger receipts check`` checks it against any node."""
    return ask(cases.receipt_bundle, path_id(receipt_id))
