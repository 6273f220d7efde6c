"""Reading access: requests from the index and the chain, and whether a department has access
per the contract.

An owner has to see the requests for its datasets (and their purpose) to answer them, and a
requester has to follow its own. A department's list holds the requests it made and those
made for its datasets; governance and auditors list all of them. Any principal may read one
request's chain facts (they are on chain), but the text of its purpose and reasons only the
parties, governance and auditors (:mod:`ledger.service.visibility`).

Who held access to a dataset at a given time (:func:`grants_at`) is the chain's record, read
from the index's events: any principal, the anonymous one included, may ask it of any dataset
it may read, and it carries no purposes or reasons.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from ledger.chain.types import RequestStatus
from ledger.errors import (
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    InvalidInputError,
    ResourceNotFoundError,
)
from ledger.index.models import IndexAccessRequest, IndexDataset, IndexDepartment, IndexEvent
from ledger.runtime import Runtime
from ledger.service.documents import stored_text
from ledger.service.pagination import keyset_page, page
from ledger.service.principal import Principal
from ledger.service.views import coordinates, event_coordinates
from ledger.service.visibility import may_read, sees_everything


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


@dataclass(frozen=True, slots=True)
class RequestListing:
    role: Role | None = None
    status: RequestStatusName | None = None
    dataset_id: str | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class AccessQuestion:
    dataset_id: str  # 0x + 64 lower-case hex digits
    department_id: int
    block: int | None = None  # None: the latest block


@dataclass(frozen=True, slots=True)
class GrantsAt:
    dataset_id: str  # 0x + 64 lower-case hex digits
    at: int | None = None  # Unix seconds; None: the chain's latest block time


#: The first and last seconds of the years 1 to 9999 (UTC), the years a date names.
FIRST_DATED, LAST_DATED = -62_135_596_800, 253_402_300_799
#: The times :func:`grants_at` is asked about: the years 1 to 9999 in any time zone (a day of
#: offset either side), as far as a date and time with its offset reaches.
MIN_INSTANT, MAX_INSTANT = FIRST_DATED - 24 * 3600, LAST_DATED + 24 * 3600

#: The events that start and end a grant.
_GRANT_EVENTS = ("AccessApproved", "AccessRevoked", "AccessSuperseded")


def list_access_requests(
    session: Session, runtime: Runtime, principal: Principal, query: RequestListing
) -> dict[str, Any]:
    """Newest first, from the index. ``role`` narrows a department's view to requests for its
    datasets (``incoming``) or by it (``outgoing``)."""
    requests = select(IndexAccessRequest).join(
        IndexDataset, col(IndexDataset.dataset_id) == col(IndexAccessRequest.dataset_id)
    )
    if not sees_everything(principal):
        me = principal.acting_department()
        if query.role is Role.INCOMING:
            requests = requests.where(IndexDataset.owner == me)
        elif query.role is Role.OUTGOING:
            requests = requests.where(IndexAccessRequest.requester == me)
        else:
            requests = requests.where(
                or_(IndexDataset.owner == me, IndexAccessRequest.requester == me)
            )
    if query.status is not None:
        requests = requests.where(IndexAccessRequest.status == query.status.value)
    if query.dataset_id is not None:
        requests = requests.where(IndexAccessRequest.dataset_id == query.dataset_id)
    rows, next_cursor = keyset_page(
        session,
        requests,
        key=[
            col(IndexAccessRequest.created_block_number),
            col(IndexAccessRequest.created_log_index),
        ],
        key_of=lambda r: (r.created_block_number, r.created_log_index),
        cursor=query.cursor,
        limit=query.limit,
        descending=True,
    )
    owners = dict(
        session.exec(
            select(IndexDataset.dataset_id, IndexDataset.owner).where(
                col(IndexDataset.dataset_id).in_({r.dataset_id for r in rows})
            )
        ).all()
    )
    items = [_request_view(session, row, owners[row.dataset_id]) for row in rows]
    return page(items, next_cursor, runtime.indexer.last_indexed_block())


def get_access_request(
    session: Session, runtime: Runtime, principal: Principal, request_id: str
) -> dict[str, Any]:
    """One request: status, expiry and duration from the contract at the latest block; the
    purpose and reasons (their text, when this service kept it) and chain coordinates from
    the index."""
    record = runtime.ledger.access.access_request(bytes.fromhex(request_id[2:]))
    owner = (
        runtime.ledger.datasets.dataset(record.dataset_id).owner
        if record.status != RequestStatus.NONE
        else None
    )
    if record.status == RequestStatus.NONE or owner is None:
        raise ResourceNotFoundError(f"no access request {request_id}")
    party = sees_everything(principal) or principal.department_id in (record.requester, owner)
    indexed = session.get(IndexAccessRequest, request_id)
    body = _request_view(session, indexed, owner, texts=party) if indexed else {}
    return {
        **body,
        "request_id": request_id,
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


def has_access(
    session: Session, runtime: Runtime, principal: Principal, question: AccessQuestion
) -> dict[str, Any]:
    """The contract's ``hasAccess`` at the latest block, or at ``block``. Any principal may
    ask: the contract answers anyone who reads the chain (:mod:`ledger.service.visibility`)."""
    chain, access = runtime.chain, runtime.ledger.access
    head, _ = chain.head()
    block = question.block
    if block is not None and block > head:
        raise ResourceNotFoundError(f"block {block} is not mined yet (the head is {head})")
    at = block if block is not None else head
    start = runtime.ledger.deployment.start_block
    missing = ResourceNotFoundError(
        f"the access registry did not exist yet at block {at} (deployed from block {start})"
    )
    if at < start:
        raise missing  # not asked of the node: one that prunes history refuses old blocks
    dataset = bytes.fromhex(question.dataset_id[2:])
    try:
        if block is not None and not chain.call(
            lambda: chain.w3.eth.get_code(access.address, block_identifier=at)
        ):
            raise missing
        allowed = access.has_access(dataset, question.department_id, block=at)
    except (ChainUnavailableError, ContractRevertError):
        raise
    except ChainError as exc:  # e.g. a node that keeps no state that old (not an archive node)
        raise ResourceNotFoundError(
            f"the node has no state for block {at}: {exc.message} (ask an archive node)"
        ) from exc
    header = chain.call(lambda: chain.w3.eth.get_block(at))
    return {
        "dataset_id": question.dataset_id,
        "department_id": question.department_id,
        "has_access": allowed,
        "chain": {
            "chain_id": chain.chain_id,
            "contract": access.address,
            "block_number": at,
            "block_hash": header["hash"].to_0x_hex(),
            "block_time": header["timestamp"],
        },
    }


def grants_at(
    session: Session, runtime: Runtime, principal: Principal, query: GrantsAt
) -> dict[str, Any]:
    """Every grant of the dataset in force at ``at`` (Unix seconds; by default the chain's
    latest block time), oldest approval first, from the index's events of the access registry.

    A grant is in force at ``at`` as the contract's ``hasAccess`` would find it in a block of
    that time: approved in a block of time at or before ``at``; not expired (the contract's
    ``block.timestamp < expiresAt``: a grant is over at the very second of its ``expiresAt``);
    not revoked, nor superseded by a newer approval for the same department, in a block of time
    at or before ``at``. Requests never approved (pending, denied, cancelled) are never grants.
    A grant that ended after ``at`` says how and where (``ended``). ``hasAccess`` asks two more
    things of the moment it is asked, which are not grants' terms and so not weighed here: that
    the dataset is not withdrawn and the requester is an active department
    (``has_access`` asks the contract itself, at a block).

    Chain facts only: the purposes and reasons of the requests are not part of the answer, so
    any principal that may read the dataset (:mod:`ledger.service.visibility`) may ask. A time
    after the latest indexed block (``indexed_block``) is answered from what the index holds.
    """
    row = session.get(IndexDataset, query.dataset_id)
    if row is None or not may_read(session, runtime, principal, row):
        raise ResourceNotFoundError(f"no dataset {query.dataset_id} visible to this token")
    at = query.at if query.at is not None else runtime.chain.block_time()
    if not MIN_INSTANT <= at <= MAX_INSTANT:
        raise InvalidInputError(
            f"at must be a time of the years 1 to 9999 ({MIN_INSTANT} to {MAX_INSTANT} in Unix "
            f"seconds), got {at}"
        )
    events = session.exec(
        select(IndexEvent)
        .where(
            IndexEvent.contract == "AccessRegistry",
            col(IndexEvent.event).in_(_GRANT_EVENTS),
            col(IndexEvent.args)["datasetId"].as_string() == query.dataset_id,
        )
        .order_by(col(IndexEvent.block_number), col(IndexEvent.log_index))
    ).all()
    approvals: dict[str, IndexEvent] = {}
    endings: dict[str, IndexEvent] = {}
    for event in events:
        request_id = event.args["requestId"]
        if event.event == "AccessApproved":
            approvals[request_id] = event
        else:
            endings.setdefault(request_id, event)  # a grant ends once
    in_force = [
        (approval, endings.get(request_id))
        for request_id, approval in approvals.items()
        if approval.block_time <= at < int(approval.args["expiresAt"])
        and (request_id not in endings or endings[request_id].block_time > at)
    ]
    requesters = {int(approval.args["requester"]) for approval, _ in in_force}
    names = dict(
        session.exec(
            select(IndexDepartment.department_id, IndexDepartment.name).where(
                col(IndexDepartment.department_id).in_(requesters)
            )
        ).all()
    )
    return {
        "dataset_id": query.dataset_id,
        "as_of": at,
        "as_of_utc": _utc(at),
        "chain": {"chain_id": runtime.chain.chain_id, "contract": runtime.ledger.access.address},
        "indexed_block": runtime.indexer.last_indexed_block(),
        "grants": [_grant_view(approval, ending, names) for approval, ending in in_force],
    }


def _grant_view(
    approval: IndexEvent, ending: IndexEvent | None, names: dict[int, str]
) -> dict[str, Any]:
    requester = int(approval.args["requester"])
    expires_at = int(approval.args["expiresAt"])
    return {
        "request_id": approval.args["requestId"],
        "requester": {"department_id": requester, "name": names.get(requester)},
        "approved_at": approval.block_time,
        "approved_at_utc": _utc(approval.block_time),
        "expires_at": expires_at,
        "expires_at_utc": _utc(expires_at),
        "approved": event_coordinates(approval),
        "ended": None
        if ending is None
        else {
            "how": "revoked" if ending.event == "AccessRevoked" else "superseded",
            "at": ending.block_time,
            "at_utc": _utc(ending.block_time),
            "superseded_by": ending.args.get("supersededBy"),
            "chain": event_coordinates(ending),
        },
    }


def _utc(seconds: int) -> str | None:
    """ISO 8601 in UTC (``2026-01-31T09:30:00Z``); None for a time outside the years 1 to 9999
    (an ``expiresAt`` may be any 64-bit number)."""
    if not FIRST_DATED <= seconds <= LAST_DATED:
        return None
    return (datetime(1970, 1, 1) + timedelta(seconds=seconds)).isoformat() + "Z"


def _request_view(
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
