"""Reading the ledger: datasets, versions, lineage and the audit trail, from the SQL index.

Every answer carries chain coordinates (tx hash, block number and hash, log index) so it can be
re-checked against any node; verification verdicts come from the chain itself (``/v1/verify``).
Who sees what is :mod:`ledger.service.visibility`: the chain's facts about a dataset (ids, owner,
classification, versions, hashes, lineage) for every token; its metadata, and batched datasets
at all, on a need to know.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session, col, select

from api.deps import PrincipalDep, RuntimeDep
from api.pagination import DatasetsCursor, EventsCursor, keyset_page
from api.routes.common import coordinates, path_id
from api.schemas import (
    BlockQuery,
    DatasetIdPath,
    DatasetIdQuery,
    OptionalDepartmentIdQuery,
    VersionPath,
    VersionQuery,
)
from ledger.errors import ResourceNotFoundError
from ledger.index.models import (
    IndexDataset,
    IndexEvent,
    IndexVersion,
    IndexVersionParent,
)
from ledger.runtime import Runtime
from ledger.service.documents import MetadataDocument
from ledger.service.principal import Principal, PrincipalKind
from ledger.service.visibility import may_read_content

router = APIRouter(tags=["read"])

Limit = Annotated[int, Query(ge=1, le=500)]


class _Reader:
    """One request's view of the ledger: applies :mod:`ledger.service.visibility`, remembering
    its verdicts for the datasets it has looked at (a lineage walk meets the same ones again)."""

    def __init__(self, session: Session, runtime: Runtime, principal: Principal) -> None:
        self.session, self.runtime, self.principal = session, runtime, principal
        self._content: dict[str, bool] = {}
        self._readable: dict[str, bool] = {}

    def content(self, row: IndexDataset) -> bool:
        if row.dataset_id not in self._content:
            self._content[row.dataset_id] = may_read_content(
                self.session, self.runtime, self.principal, row
            )
        return self._content[row.dataset_id]

    def readable(self, row: IndexDataset) -> bool:
        return row.anchoring == "chain" or self.content(row)

    def readable_id(self, dataset_id: str) -> bool:
        if dataset_id not in self._readable:
            row = self.session.get(IndexDataset, dataset_id)
            self._readable[dataset_id] = row is not None and self.readable(row)
        return self._readable[dataset_id]

    def dataset(self, dataset_id: str) -> IndexDataset:
        """The dataset, or 404 if it does not exist for this caller."""
        row = self.session.get(IndexDataset, path_id(dataset_id))
        if row is None or not self.readable(row):
            raise ResourceNotFoundError(f"no dataset {dataset_id} visible to this token")
        return row


def _metadata(session: Session, metadata_hash: str, visible: bool) -> Any:
    if not visible:
        return None
    document = session.get(MetadataDocument, metadata_hash)
    return json.loads(document.canonical_json) if document else None


def _dataset_public(reader: _Reader, row: IndexDataset) -> dict[str, Any]:
    session, runtime = reader.session, reader.runtime
    visible = reader.content(row)
    return {
        "dataset_id": row.dataset_id,
        "owner": row.owner,
        "classification": row.classification,
        "status": row.status,
        "version_count": row.version_count,
        "metadata_hash": row.metadata_hash,
        "metadata": _metadata(session, row.metadata_hash, visible),
        "metadata_visible": visible,
        "history_head": row.history_head,
        "anchoring": row.anchoring,
        "chain_id": runtime.chain.chain_id,
        "contract": runtime.ledger.datasets.address
        if row.anchoring == "chain"
        else runtime.ledger.anchors.address,
        "created": coordinates(row, "created"),
        "updated": coordinates(row, "updated"),
    }


def _version_public(reader: _Reader, dataset: IndexDataset, row: IndexVersion) -> dict[str, Any]:
    session = reader.session
    visible = reader.content(dataset)
    parents = session.exec(
        select(IndexVersionParent)
        .where(
            IndexVersionParent.dataset_id == row.dataset_id,
            IndexVersionParent.version == row.version,
        )
        .order_by(col(IndexVersionParent.position))
    ).all()
    return {
        "dataset_id": row.dataset_id,
        "version": row.version,
        "content_hash": row.content_hash,
        "metadata_hash": row.metadata_hash,
        "metadata": _metadata(session, row.metadata_hash, visible),
        "metadata_visible": visible,
        "department_id": row.department_id,
        "parents": [
            {"dataset_id": p.parent_dataset_id, "version": p.parent_version}
            for p in parents
            if reader.readable_id(p.parent_dataset_id)
        ],
        "history_head": row.history_head,
        "chain": coordinates(row),
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
    owner: OptionalDepartmentIdQuery = None,
    cursor: DatasetsCursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    with Session(runtime.engine) as session:
        reader = _Reader(session, runtime, principal)
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
            keep=reader.readable,
        )
        items = [_dataset_public(reader, row) for row in rows]
        return {
            "items": items,
            "next_cursor": next_cursor,
            "indexed_block": runtime.indexer.last_indexed_block(),
        }


@router.get("/v1/datasets/{dataset_id:dataset}", summary="A dataset and its versions")
def get_dataset(
    dataset_id: DatasetIdPath, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    with Session(runtime.engine) as session:
        reader = _Reader(session, runtime, principal)
        row = reader.dataset(dataset_id)
        versions = session.exec(
            select(IndexVersion)
            .where(IndexVersion.dataset_id == row.dataset_id)
            .order_by(col(IndexVersion.version))
        ).all()
        return {
            **_dataset_public(reader, row),
            "versions": [_version_public(reader, row, v) for v in versions],
        }


@router.get("/v1/datasets/{dataset_id}/versions/{number}", summary="One version of a dataset")
def get_version(
    dataset_id: DatasetIdPath,
    number: VersionPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    with Session(runtime.engine) as session:
        reader = _Reader(session, runtime, principal)
        row = reader.dataset(dataset_id)
        version = session.get(IndexVersion, (row.dataset_id, number))
        if version is None:
            raise ResourceNotFoundError(f"dataset {row.dataset_id} has no version {number}")
        return _version_public(reader, row, version)


@router.get("/v1/datasets/{dataset_id}/lineage", summary="Ancestors and descendants, depth-bounded")
def get_lineage(
    dataset_id: DatasetIdPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    version: VersionQuery = None,
    depth: Annotated[int, Query(ge=1, le=20)] = 5,
) -> dict[str, Any]:
    """Edges between versions, walking parents (ancestors) and children (descendants) up to
    ``depth`` steps from the dataset's versions (or one ``version``). A walk stops at datasets
    the token may not see (batched ones it has no need to know): neither they nor what lies
    beyond them is listed."""
    with Session(runtime.engine) as session:
        reader = _Reader(session, runtime, principal)
        row = reader.dataset(dataset_id)
        start = (
            {(row.dataset_id, version)}
            if version
            else {(row.dataset_id, v) for v in range(1, row.version_count + 1)}
        )
        ancestors = _walk(reader, start, depth, upward=True)
        descendants = _walk(reader, start, depth, upward=False)
        return {
            "dataset_id": row.dataset_id,
            "version": version,
            "depth": depth,
            "ancestors": ancestors,
            "descendants": descendants,
        }


def _walk(
    reader: _Reader, start: set[tuple[str, int]], depth: int, *, upward: bool
) -> list[dict[str, Any]]:
    session = reader.session
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
                if not reader.readable_id(node[0]):
                    continue
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
    dataset: DatasetIdQuery = None,
    department: OptionalDepartmentIdQuery = None,
    kind: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{1,64}$", description="An event name")
    ] = None,
    from_block: BlockQuery = None,
    to_block: BlockQuery = None,
    cursor: EventsCursor = None,
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
        wanted_dataset = path_id(dataset) if dataset else None
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
