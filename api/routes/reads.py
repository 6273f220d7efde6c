"""Reading the ledger: datasets, versions, lineage and the audit trail, from the SQL index.

Every answer carries chain coordinates (tx hash, block number and hash, log index) so it can be
re-checked against any node; verification verdicts come from the chain itself (``/v1/verify``).
Visibility is token-scoped: governance and auditors see everything; a department sees its own
datasets, public and internal ones of others, and restricted or confidential ones only while
it holds a live grant. A grant must appear in the index *and* be live on the chain right now:
the index alone may lag a revocation, and a revocation takes effect on reads the moment it is
mined, not when the indexer catches up.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session, col, select

from api.auth import Principal
from api.deps import PrincipalDep, RuntimeDep
from api.models import MetadataDocument, PrincipalKind
from api.pagination import keyset_page
from api.routes.datasets import _path_id
from ledger.errors import ResourceNotFoundError
from ledger.index.models import (
    IndexAccessRequest,
    IndexDataset,
    IndexEvent,
    IndexVersion,
    IndexVersionParent,
)
from ledger.runtime import Runtime

router = APIRouter(tags=["read"])

OPEN_CLASSIFICATIONS = ("public", "internal")
Limit = Annotated[int, Query(ge=1, le=500)]


def _can_see(
    session: Session, runtime: Runtime, principal: Principal, dataset: IndexDataset
) -> bool:
    if principal.kind in (PrincipalKind.GOVERNANCE, PrincipalKind.AUDITOR):
        return True
    if dataset.owner == principal.department_id or dataset.classification in OPEN_CLASSIFICATIONS:
        return True
    grant = session.exec(
        select(IndexAccessRequest).where(
            IndexAccessRequest.dataset_id == dataset.dataset_id,
            IndexAccessRequest.requester == principal.department_id,
            IndexAccessRequest.status == "approved",
        )
    ).first()
    if grant is None or (grant.expires_at or 0) <= time.time():
        return False
    assert principal.department_id is not None
    return runtime.ledger.access.has_access(
        bytes.fromhex(dataset.dataset_id[2:]), principal.department_id
    )


def _coordinates(row: Any, prefix: str = "created") -> dict[str, Any]:
    return {
        "tx_hash": getattr(row, f"{prefix}_tx_hash"),
        "block_number": getattr(row, f"{prefix}_block_number"),
        "block_hash": getattr(row, f"{prefix}_block_hash"),
        "log_index": getattr(row, f"{prefix}_log_index"),
        "block_time": getattr(row, f"{prefix}_at"),
    }


def _dataset_public(session: Session, runtime: Any, row: IndexDataset) -> dict[str, Any]:
    document = session.get(MetadataDocument, row.metadata_hash)
    return {
        "dataset_id": row.dataset_id,
        "owner": row.owner,
        "classification": row.classification,
        "status": row.status,
        "version_count": row.version_count,
        "metadata_hash": row.metadata_hash,
        "metadata": json.loads(document.canonical_json) if document else None,
        "history_head": row.history_head,
        "anchoring": row.anchoring,
        "chain_id": runtime.chain.chain_id,
        "contract": runtime.ledger.datasets.address
        if row.anchoring == "chain"
        else runtime.ledger.anchors.address,
        "created": _coordinates(row, "created"),
        "updated": _coordinates(row, "updated"),
    }


def _visible_dataset(
    session: Session, runtime: Runtime, principal: Principal, dataset_id: str
) -> IndexDataset:
    row = session.get(IndexDataset, _path_id(dataset_id))
    if row is None or not _can_see(session, runtime, principal, row):
        raise ResourceNotFoundError(f"no dataset {dataset_id} visible to this token")
    return row


def _version_public(session: Session, row: IndexVersion) -> dict[str, Any]:
    parents = session.exec(
        select(IndexVersionParent)
        .where(
            IndexVersionParent.dataset_id == row.dataset_id,
            IndexVersionParent.version == row.version,
        )
        .order_by(col(IndexVersionParent.position))
    ).all()
    document = session.get(MetadataDocument, row.metadata_hash)
    return {
        "dataset_id": row.dataset_id,
        "version": row.version,
        "content_hash": row.content_hash,
        "metadata_hash": row.metadata_hash,
        "metadata": json.loads(document.canonical_json) if document else None,
        "department_id": row.department_id,
        "parents": [
            {"dataset_id": p.parent_dataset_id, "version": p.parent_version} for p in parents
        ],
        "history_head": row.history_head,
        "chain": _coordinates(row),
        # A batched version: the anchored root and its leaf (GET /v1/operations/{id} and
        # POST /v1/verify give the proof).
        "anchor": {
            "root": row.anchor_root,
            "leaf_index": row.leaf_index,
            "record_digest": row.record_digest,
        }
        if row.anchor_root
        else None,
    }


@router.get("/v1/datasets", summary="Datasets visible to this token, newest first")
def list_datasets(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    owner: int | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    with Session(runtime.engine) as session:
        query = select(IndexDataset)
        if owner is not None:
            query = query.where(IndexDataset.owner == owner)
        rows, next_cursor = keyset_page(
            session,
            query,
            key=[
                col(IndexDataset.created_block_number),
                col(IndexDataset.created_log_index),
                col(IndexDataset.dataset_id),
            ],
            key_of=lambda r: (r.created_block_number, r.created_log_index, r.dataset_id),
            cursor=cursor,
            limit=limit,
            descending=True,
            keep=lambda r: _can_see(session, runtime, principal, r),
        )
        items = [_dataset_public(session, runtime, row) for row in rows]
        return {
            "items": items,
            "next_cursor": next_cursor,
            "indexed_block": runtime.indexer.last_indexed_block(),
        }


@router.get("/v1/datasets/{dataset_id}", summary="A dataset and its versions")
def get_dataset(dataset_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    with Session(runtime.engine) as session:
        row = _visible_dataset(session, runtime, principal, dataset_id)
        versions = session.exec(
            select(IndexVersion)
            .where(IndexVersion.dataset_id == row.dataset_id)
            .order_by(col(IndexVersion.version))
        ).all()
        return {
            **_dataset_public(session, runtime, row),
            "versions": [_version_public(session, v) for v in versions],
        }


@router.get("/v1/datasets/{dataset_id}/versions/{number}", summary="One version of a dataset")
def get_version(
    dataset_id: str,
    number: int,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    with Session(runtime.engine) as session:
        row = _visible_dataset(session, runtime, principal, dataset_id)
        version = session.get(IndexVersion, (row.dataset_id, number))
        if version is None:
            raise ResourceNotFoundError(f"dataset {row.dataset_id} has no version {number}")
        return _version_public(session, version)


@router.get("/v1/datasets/{dataset_id}/lineage", summary="Ancestors and descendants, depth-bounded")
def get_lineage(
    dataset_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    version: int | None = None,
    depth: Annotated[int, Query(ge=1, le=20)] = 5,
) -> dict[str, Any]:
    """Edges between versions, walking parents (ancestors) and children (descendants) up to
    ``depth`` steps from the dataset's versions (or one ``version``)."""
    with Session(runtime.engine) as session:
        row = _visible_dataset(session, runtime, principal, dataset_id)
        start = (
            {(row.dataset_id, version)}
            if version
            else {(row.dataset_id, v) for v in range(1, row.version_count + 1)}
        )
        ancestors = _walk(session, start, depth, upward=True)
        descendants = _walk(session, start, depth, upward=False)
        return {
            "dataset_id": row.dataset_id,
            "version": version,
            "depth": depth,
            "ancestors": ancestors,
            "descendants": descendants,
        }


def _walk(
    session: Session, start: set[tuple[str, int]], depth: int, *, upward: bool
) -> list[dict[str, Any]]:
    edges: list[dict[str, Any]] = []
    frontier, seen = set(start), set(start)
    for level in range(1, depth + 1):
        next_frontier: set[tuple[str, int]] = set()
        for dataset_id, version in frontier:
            if upward:
                rows = session.exec(
                    select(IndexVersionParent).where(
                        IndexVersionParent.dataset_id == dataset_id,
                        IndexVersionParent.version == version,
                    )
                ).all()
                found = [((r.parent_dataset_id, r.parent_version), r) for r in rows]
            else:
                rows = session.exec(
                    select(IndexVersionParent).where(
                        IndexVersionParent.parent_dataset_id == dataset_id,
                        IndexVersionParent.parent_version == version,
                    )
                ).all()
                found = [((r.dataset_id, r.version), r) for r in rows]
            for node, row in found:
                edges.append(
                    {
                        "depth": level,
                        "child": {"dataset_id": row.dataset_id, "version": row.version},
                        "parent": {
                            "dataset_id": row.parent_dataset_id,
                            "version": row.parent_version,
                        },
                    }
                )
                if node not in seen:
                    seen.add(node)
                    next_frontier.add(node)
        frontier = next_frontier
        if not frontier:
            break
    return edges


@router.get("/v1/audit/events", summary="The ledger's event history, filtered")
def audit_events(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    dataset: str | None = None,
    department: int | None = None,
    kind: str | None = None,
    from_block: Annotated[int | None, Query(ge=0)] = None,
    to_block: Annotated[int | None, Query(ge=0)] = None,
    cursor: str | None = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Oldest first. Departments see only events naming them or their datasets."""
    with Session(runtime.engine) as session:
        if principal.kind == PrincipalKind.DEPARTMENT:
            if department is not None and department != principal.department_id:
                raise ResourceNotFoundError("a department sees only its own audit trail")
            department = principal.department_id
        query = select(IndexEvent)
        if kind is not None:
            query = query.where(IndexEvent.event == kind)
        if from_block is not None:
            query = query.where(col(IndexEvent.block_number) >= from_block)
        if to_block is not None:
            query = query.where(col(IndexEvent.block_number) <= to_block)
        wanted_dataset = _path_id(dataset) if dataset else None
        owned: set[str] = set()
        if department is not None:
            owned = set(
                session.exec(
                    select(IndexDataset.dataset_id).where(IndexDataset.owner == department)
                ).all()
            )

        def wanted(event: IndexEvent) -> bool:
            if wanted_dataset and event.args.get("datasetId") != wanted_dataset:
                return False
            return department is None or _names_department(event.args, department, owned)

        events, next_cursor = keyset_page(
            session,
            query,
            key=[col(IndexEvent.block_number), col(IndexEvent.log_index)],
            key_of=lambda e: (e.block_number, e.log_index),
            cursor=cursor,
            limit=limit,
            keep=wanted,
        )
        items = [
            {
                "event": event.event,
                "contract": event.contract,
                "args": event.args,
                "chain": {
                    "chain_id": runtime.chain.chain_id,
                    "address": event.address,
                    "tx_hash": event.tx_hash,
                    "block_number": event.block_number,
                    "block_hash": event.block_hash,
                    "log_index": event.log_index,
                    "block_time": event.block_time,
                },
            }
            for event in events
        ]
        return {
            "items": items,
            "next_cursor": next_cursor,
            "indexed_block": runtime.indexer.last_indexed_block(),
        }


def _names_department(args: dict[str, Any], department: int, owned: set[str]) -> bool:
    for key in ("departmentId", "department", "owner", "requester"):
        if key in args and int(args[key]) == department:
            return True
    return args.get("datasetId") in owned
