"""Reading departments: who is in the consortium, their keys past and present, their status.

Any principal may read these: departments must know whom they share with, and auditors whose
key spoke for whom at which block. A department's status and current key come from the
contract; its name and key history from the index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from sqlmodel import Session, col, select

from ledger.chain.clients.base import SignedActionsClient
from ledger.chain.types import DepartmentStatus
from ledger.errors import ResourceNotFoundError
from ledger.index.models import IndexDepartment, IndexDepartmentKey
from ledger.relayer import next_signature_nonce
from ledger.runtime import Runtime
from ledger.service.pagination import keyset_page, page
from ledger.service.principal import Principal, PrincipalKind
from ledger.service.views import coordinates


@dataclass(frozen=True, slots=True)
class DepartmentListing:
    cursor: str | None = None
    limit: int = 100


def list_departments(
    session: Session, runtime: Runtime, principal: Principal, query: DepartmentListing
) -> dict[str, Any]:
    """Enrolled departments by id, from the index."""
    rows, next_cursor = keyset_page(
        session,
        select(IndexDepartment),
        key=[col(IndexDepartment.department_id)],
        key_of=lambda r: (r.department_id,),
        cursor=query.cursor,
        limit=query.limit,
    )
    items = [_department_view(row) for row in rows]
    return page(items, next_cursor, runtime.indexer.last_indexed_block())


def get_department(
    session: Session, runtime: Runtime, principal: Principal, department_id: int
) -> dict[str, Any]:
    """Status and current key from the contract at the latest block; name, enrolment and the
    keys it had (with the blocks each was valid in) from the index."""
    record = runtime.ledger.departments.department(department_id)
    if record.status == DepartmentStatus.NONE:
        raise ResourceNotFoundError(f"no department {department_id} is enrolled")
    indexed = session.get(IndexDepartment, department_id)
    return {
        **(_department_view(indexed) if indexed is not None else {}),
        "department_id": department_id,
        "signer": record.signer,
        "status": record.status.name.lower(),
        "enrolled_at": record.enrolled_at,
        "keys": _keys(session, department_id),
        "chain": {
            "chain_id": runtime.chain.chain_id,
            "contract": runtime.ledger.departments.address,
        },
        "indexed": indexed is not None,
    }


def _department_view(row: IndexDepartment) -> dict[str, Any]:
    return {
        "department_id": row.department_id,
        "name": row.name,
        "signer": to_checksum_address(row.signer),
        "status": row.status,
        "enrolled": coordinates(row, "created"),
        "updated": coordinates(row, "updated"),
    }


def _keys(session: Session, department_id: int) -> list[dict[str, Any]]:
    keys = session.exec(
        select(IndexDepartmentKey)
        .where(IndexDepartmentKey.department_id == department_id)
        .order_by(col(IndexDepartmentKey.valid_from_block))
    ).all()
    return [
        {
            "signer": to_checksum_address(key.signer),
            "valid_from_block": key.valid_from_block,
            "valid_until_block": key.valid_until_block,
            "valid_until_time": key.valid_until_time,
        }
        for key in keys
    ]


def signature_nonces(
    session: Session, runtime: Runtime, principal: Principal, department_id: int
) -> dict[str, Any]:
    """The nonce the department's next signature must carry, per contract, counting what the
    service has queued (departments that hold their own key sign with these). A department
    asks only for its own; the anonymous reader not at all (the count holds what this
    service has queued)."""
    principal.require(PrincipalKind.GOVERNANCE, PrincipalKind.AUDITOR, PrincipalKind.DEPARTMENT)
    if principal.kind == PrincipalKind.DEPARTMENT and principal.department_id != department_id:
        raise ResourceNotFoundError(f"no department {department_id} visible to this token")
    ledger = runtime.ledger
    clients: list[SignedActionsClient] = [ledger.datasets, ledger.access, ledger.anchors]
    if ledger.deployment.key_directory is not None:  # absent from older deployments
        clients.append(ledger.keys)
    return {
        "department_id": department_id,
        "chain_id": runtime.chain.chain_id,
        "nonces": {
            client.artifact_name: {
                "contract": client.address,
                "next_nonce": next_signature_nonce(session, client, department_id),
            }
            for client in clients
        },
    }


def who_am_i(session: Session, runtime: Runtime, principal: Principal, _: None) -> dict[str, Any]:
    """Who the token is, and the deployment it acts on: what a client needs to derive ids and
    sign in the right context (chain id, contract addresses)."""
    return {
        "kind": principal.kind.value,
        "token_id": principal.token_id,
        "department_id": principal.department_id,
        "deployment": json.loads(runtime.ledger.deployment.to_json()),
    }
