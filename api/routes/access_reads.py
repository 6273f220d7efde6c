"""Reading access requests: one from the chain, lists from the index.

An owner has to see the requests for its datasets (and their purpose) to answer them, and a
requester has to follow its own. A department's list holds the requests it made and those
made for its datasets; governance and auditors list all of them. Any token may read one
request's chain facts (they are on chain), but the text of its purpose and reasons only the
parties, governance and auditors (:mod:`ledger.service.visibility`).
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session, col, or_, select

from api.deps import PrincipalDep, RuntimeDep
from api.pagination import EventsCursor, keyset_page
from api.routes.common import coordinates, hex_bytes, path_id
from api.schemas import DatasetIdQuery, RequestIdPath
from ledger.chain.types import RequestStatus
from ledger.errors import ResourceNotFoundError
from ledger.index.models import IndexAccessRequest, IndexDataset
from ledger.service.documents import stored_text
from ledger.service.principal import Principal
from ledger.service.visibility import sees_everything

router = APIRouter(tags=["access"])


class Role(enum.StrEnum):
    """Which side of a request the calling department is on."""

    INCOMING = "incoming"  # made for one of its datasets: it answers them
    OUTGOING = "outgoing"  # made by it


class RequestStatusName(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


def _is_party(principal: Principal, requester: int, owner: int) -> bool:
    return sees_everything(principal) or principal.department_id in (requester, owner)


def _request_public(
    session: Session, row: IndexAccessRequest, owner: int, *, texts: bool = True
) -> dict[str, Any]:
    def text(commitment: str | None) -> str | None:
        return stored_text(session, commitment) if texts else None

    return {
        "request_id": row.request_id,
        "dataset_id": row.dataset_id,
        "owner": owner,
        "requester": row.requester,
        "status": row.status,
        "requested_duration": row.requested_duration,
        "expires_at": row.expires_at,
        "purpose_hash": row.purpose_hash,
        "purpose": text(row.purpose_hash),
        "deny_reason_hash": row.deny_reason_hash,
        "deny_reason": text(row.deny_reason_hash),
        "revoke_reason_hash": row.revoke_reason_hash,
        "revoke_reason": text(row.revoke_reason_hash),
        "superseded_by": row.superseded_by,
        "requested": coordinates(row, "created"),
        "updated": coordinates(row, "updated"),
    }


@router.get("/v1/access-requests", summary="Access requests visible to this token, newest first")
def list_access_requests(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    role: Role | None = None,
    status: RequestStatusName | None = None,
    dataset: DatasetIdQuery = None,
    cursor: EventsCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """From the index (``indexed_block`` says how far it has read). ``role`` narrows a
    department's view to requests for its datasets (``incoming``) or by it (``outgoing``)."""
    with Session(runtime.engine) as session:
        query = select(IndexAccessRequest).join(
            IndexDataset, col(IndexDataset.dataset_id) == col(IndexAccessRequest.dataset_id)
        )
        if not sees_everything(principal):
            me = principal.acting_department()
            if role is Role.INCOMING:
                query = query.where(IndexDataset.owner == me)
            elif role is Role.OUTGOING:
                query = query.where(IndexAccessRequest.requester == me)
            else:
                query = query.where(
                    or_(IndexDataset.owner == me, IndexAccessRequest.requester == me)
                )
        if status is not None:
            query = query.where(IndexAccessRequest.status == status.value)
        if dataset is not None:
            query = query.where(IndexAccessRequest.dataset_id == path_id(dataset))
        rows, next_cursor = keyset_page(
            session,
            query,
            key=[
                col(IndexAccessRequest.created_block_number),
                col(IndexAccessRequest.created_log_index),
            ],
            key_of=lambda r: (r.created_block_number, r.created_log_index),
            cursor=cursor,
            limit=limit,
            descending=True,
        )
        owners = dict(
            session.exec(
                select(IndexDataset.dataset_id, IndexDataset.owner).where(
                    col(IndexDataset.dataset_id).in_({r.dataset_id for r in rows})
                )
            ).all()
        )
        return {
            "items": [_request_public(session, row, owners[row.dataset_id]) for row in rows],
            "next_cursor": next_cursor,
            "indexed_block": runtime.indexer.last_indexed_block(),
        }


@router.get("/v1/access-requests/{request_id}", summary="One access request, as the chain has it")
def get_access_request(
    request_id: RequestIdPath, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Status, expiry and duration come from the contract at the latest block; the purpose and
    reasons (their text, when this service kept it) and chain coordinates from the index."""
    with Session(runtime.engine) as session:
        request_hex = path_id(request_id)
        record = runtime.ledger.access.access_request(hex_bytes(request_hex))
        owner = (
            runtime.ledger.datasets.dataset(record.dataset_id).owner
            if record.status != RequestStatus.NONE
            else None
        )
        if record.status == RequestStatus.NONE or owner is None:
            raise ResourceNotFoundError(f"no access request {request_hex}")
        party = _is_party(principal, record.requester, owner)
        indexed = session.get(IndexAccessRequest, request_hex)
        body: dict[str, Any] = (
            _request_public(session, indexed, owner, texts=party) if indexed else {}
        )
        return {
            **body,
            "request_id": request_hex,
            "dataset_id": "0x" + record.dataset_id.hex(),
            "owner": owner,
            "requester": record.requester,
            "status": record.status.name.lower(),
            "requested_duration": record.requested_duration,
            "expires_at": record.expires_at or None,
            "chain": {
                "chain_id": runtime.chain.chain_id,
                "contract": runtime.ledger.access.address,
                # Expiries are in chain time, which need not match the caller's clock.
                "block_time": runtime.chain.block_time(),
            },
            "indexed": indexed is not None,
            "texts_visible": party,
        }
