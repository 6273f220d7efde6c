"""Reading the ledger: datasets, versions, lineage and the audit trail (the rules, and who sees
what, are :mod:`ledger.service.reads`). One dataset, its versions and its lineage are public
reads (:data:`api.deps.ReaderAskerDep`); listings and the audit trail need a token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AskerDep, ReaderAskerDep
from api.pagination import DatasetsCursor, EventsCursor
from api.routes.common import path_id
from api.schemas import (
    BlockQuery,
    DatasetIdPath,
    DatasetIdQuery,
    OptionalDepartmentIdQuery,
    VersionPath,
    VersionQuery,
)
from ledger.service import reads

router = APIRouter(tags=["read"])

Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/v1/datasets", summary="Datasets visible to this token, newest first")
def list_datasets(
    ask: AskerDep,
    owner: OptionalDepartmentIdQuery = None,
    cursor: DatasetsCursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    return ask(reads.list_datasets, reads.DatasetListing(owner, cursor, limit))


@router.get("/v1/datasets/{dataset_id:dataset}", summary="A dataset and its versions")
def get_dataset(dataset_id: DatasetIdPath, ask: ReaderAskerDep) -> dict[str, Any]:
    return ask(reads.get_dataset, path_id(dataset_id))


@router.get("/v1/datasets/{dataset_id}/versions/{number}", summary="One version of a dataset")
def get_version(
    dataset_id: DatasetIdPath, number: VersionPath, ask: ReaderAskerDep
) -> dict[str, Any]:
    return ask(reads.get_version, reads.VersionLookup(path_id(dataset_id), number))


@router.get("/v1/datasets/{dataset_id}/lineage", summary="Ancestors and descendants, depth-bounded")
def get_lineage(
    dataset_id: DatasetIdPath,
    ask: ReaderAskerDep,
    version: VersionQuery = None,
    depth: Annotated[int, Query(ge=1, le=20)] = 5,
) -> dict[str, Any]:
    """Edges between versions, walking parents (ancestors) and children (descendants) up to
    ``depth`` steps from the dataset's versions (or one ``version``). A walk stops at datasets
    the token may not see (batched ones it has no need to know): neither they nor what lies
    beyond them is listed."""
    return ask(reads.get_lineage, reads.LineageWalk(path_id(dataset_id), version, depth))


@router.get("/v1/audit/events", summary="The ledger's event history, filtered")
def audit_events(
    ask: AskerDep,
    dataset: DatasetIdQuery = None,
    department: OptionalDepartmentIdQuery = None,
    kind: Annotated[
        str | None,
        Query(
            # Exactly the kinds there are, so the document says what is accepted.
            pattern="^(" + "|".join(reads.event_kinds()) + ")$",
            description="An event name (e.g. VersionAdded) or a contract's events together: "
            "access, anchor, dataset, department.",
        ),
    ] = None,
    from_block: BlockQuery = None,
    to_block: BlockQuery = None,
    cursor: EventsCursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Oldest first. Departments see only events naming them or their datasets."""
    dataset_id = path_id(dataset) if dataset else None
    query = reads.AuditQuery(dataset_id, department, kind, from_block, to_block, cursor, limit)
    return ask(reads.audit_events, query)
