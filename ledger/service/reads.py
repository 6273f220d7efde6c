"""Reading the ledger: datasets, versions, lineage and the audit trail, from the SQL index.

Every answer carries chain coordinates (tx hash, block number and hash, log index) so it can be
re-checked against any node; verification verdicts come from the chain itself
(:mod:`ledger.service.verification`). Who sees what is :mod:`ledger.service.visibility`: the
chain's facts about a dataset (ids, owner, classification, versions, hashes, lineage) for every
principal; its metadata, and batched datasets at all, on a need to know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlmodel import Session, col, select

from ledger.artifacts import load_artifact
from ledger.errors import InvalidInputError, ResourceNotFoundError
from ledger.index.models import IndexDataset, IndexEvent, IndexVersion, IndexVersionParent
from ledger.runtime import Runtime
from ledger.service.documents import MetadataDocument
from ledger.service.pagination import keyset_page, page
from ledger.service.principal import Principal, PrincipalKind
from ledger.service.views import coordinates, event_coordinates
from ledger.service.visibility import may_read_content


@dataclass(frozen=True, slots=True)
class DatasetListing:
    owner: int | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class VersionLookup:
    dataset_id: str  # 0x + 64 lower-case hex digits
    version: int


@dataclass(frozen=True, slots=True)
class LineageWalk:
    dataset_id: str
    version: int | None = None  # None: from every version of the dataset
    depth: int = 5


@dataclass(frozen=True, slots=True)
class AuditQuery:
    dataset_id: str | None = None
    department_id: int | None = None
    event: str | None = None
    from_block: int | None = None
    to_block: int | None = None
    cursor: str | None = None
    limit: int = 100


#: ``kind`` in the audit trail may name a contract's events together (case-insensitive).
EVENT_CATEGORIES = {
    "access": "AccessRegistry",
    "anchor": "AnchorRegistry",
    "dataset": "DatasetRegistry",
    "department": "DepartmentRegistry",
}


@cache
def _contract_events(contract: str) -> frozenset[str]:
    return frozenset(e["name"] for e in load_artifact(contract).abi if e["type"] == "event")


def event_kinds() -> tuple[str, ...]:
    """Every ``kind`` the audit trail takes: the categories, then each event name."""
    names = frozenset().union(*(_contract_events(c) for c in EVENT_CATEGORIES.values()))
    return (*sorted(EVENT_CATEGORIES), *sorted(names))


def events_of_kind(kind: str) -> frozenset[str]:
    """The event names ``kind`` stands for: one event (``AccessRequested``) or a category
    (``access``, ``dataset``, ``department``, ``anchor``); InvalidInputError for anything
    else, so a typo is not an empty trail."""
    contract = EVENT_CATEGORIES.get(kind.lower())
    if contract is not None:
        return _contract_events(contract)
    known = frozenset().union(*(_contract_events(c) for c in EVENT_CATEGORIES.values()))
    if kind in known:
        return frozenset({kind})
    matching = [name for name in known if name.lower() == kind.lower()]
    hint = f"; did you mean {matching[0]}?" if matching else ""
    raise InvalidInputError(
        f"no events of kind {kind[:64]!r}{hint or '.'} A kind is a category "
        f"({', '.join(sorted(EVENT_CATEGORIES))}) or an event name, e.g. VersionAdded"
    )


class Reader:
    """One read's view of the ledger: applies :mod:`ledger.service.visibility`, remembering
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
        """The dataset, or ``ResourceNotFoundError`` if it does not exist for this principal
        (one it may not see is reported exactly like a missing one)."""
        row = self.session.get(IndexDataset, dataset_id)
        if row is None or not self.readable(row):
            raise ResourceNotFoundError(f"no dataset {dataset_id} visible to this token")
        return row


def list_datasets(
    session: Session, runtime: Runtime, principal: Principal, query: DatasetListing
) -> dict[str, Any]:
    """Datasets visible to ``principal``, newest first."""
    reader = Reader(session, runtime, principal)
    rows, next_cursor = visible_datasets(reader, query)
    items = [_dataset_view(reader, row) for row in rows]
    return page(items, next_cursor, runtime.indexer.last_indexed_block())


def visible_datasets(
    reader: Reader, query: DatasetListing
) -> tuple[list[IndexDataset], str | None]:
    """One page of the datasets ``reader`` may see, newest first, and the next page's cursor:
    the order and cursors of every listing of datasets (``/v1/datasets``, the catalogue)."""
    select_datasets = select(IndexDataset)
    if query.owner is not None:
        select_datasets = select_datasets.where(IndexDataset.owner == query.owner)
    return keyset_page(
        reader.session,
        select_datasets,
        key=[
            col(IndexDataset.created_block_number),
            col(IndexDataset.created_log_index),
            col(IndexDataset.dataset_id),
        ],
        key_of=lambda r: (r.created_block_number, r.created_log_index, r.dataset_id),
        cursor=query.cursor,
        limit=query.limit,
        descending=True,
        keep=reader.readable,
    )


def get_dataset(
    session: Session, runtime: Runtime, principal: Principal, dataset_id: str
) -> dict[str, Any]:
    """A dataset and its versions."""
    reader = Reader(session, runtime, principal)
    row = reader.dataset(dataset_id)
    versions = session.exec(
        select(IndexVersion)
        .where(IndexVersion.dataset_id == row.dataset_id)
        .order_by(col(IndexVersion.version))
    ).all()
    return {
        **_dataset_view(reader, row),
        "versions": [_version_view(reader, row, v) for v in versions],
    }


def get_version(
    session: Session, runtime: Runtime, principal: Principal, lookup: VersionLookup
) -> dict[str, Any]:
    reader = Reader(session, runtime, principal)
    row = reader.dataset(lookup.dataset_id)
    version = session.get(IndexVersion, (row.dataset_id, lookup.version))
    if version is None:
        raise ResourceNotFoundError(f"dataset {row.dataset_id} has no version {lookup.version}")
    return _version_view(reader, row, version)


def get_lineage(
    session: Session, runtime: Runtime, principal: Principal, walk: LineageWalk
) -> dict[str, Any]:
    """Edges between versions, walking parents (ancestors) and children (descendants) up to
    ``depth`` steps from the dataset's versions (or one ``version``). A walk stops at datasets
    the principal may not see (batched ones it has no need to know): neither they nor what
    lies beyond them is listed."""
    reader = Reader(session, runtime, principal)
    row = reader.dataset(walk.dataset_id)
    start = (
        {(row.dataset_id, walk.version)}
        if walk.version
        else {(row.dataset_id, v) for v in range(1, row.version_count + 1)}
    )
    within = [
        _edge_view(row_, 0)
        for node in sorted(start)
        for other, row_ in _edges(session, node, upward=True)
        if other in start
    ]
    return {
        "dataset_id": row.dataset_id,
        "version": walk.version,
        "depth": walk.depth,
        "ancestors": _walk(reader, start, walk.depth, upward=True),
        "descendants": _walk(reader, start, walk.depth, upward=False),
        # A version derived from an earlier version of the same dataset, when the walk starts
        # from all of them: neither an ancestor nor a descendant of the dataset, listed once
        # (it used to appear under both).
        "within": within,
    }


def audit_events(
    session: Session, runtime: Runtime, principal: Principal, query: AuditQuery
) -> dict[str, Any]:
    """The ledger's events, oldest first. A department sees only events naming it or its
    datasets; the anonymous reader none (a department's trail is need-to-know)."""
    principal.require(PrincipalKind.GOVERNANCE, PrincipalKind.AUDITOR, PrincipalKind.DEPARTMENT)
    department = query.department_id
    if principal.kind == PrincipalKind.DEPARTMENT:
        if department is not None and department != principal.department_id:
            raise ResourceNotFoundError("a department sees only its own audit trail")
        department = principal.department_id
    select_events = select(IndexEvent)
    if query.event is not None:
        select_events = select_events.where(col(IndexEvent.event).in_(events_of_kind(query.event)))
    if query.from_block is not None:
        select_events = select_events.where(col(IndexEvent.block_number) >= query.from_block)
    if query.to_block is not None:
        select_events = select_events.where(col(IndexEvent.block_number) <= query.to_block)
    owned: set[str] = set()
    if department is not None:
        owned = set(
            session.exec(
                select(IndexDataset.dataset_id).where(IndexDataset.owner == department)
            ).all()
        )

    def wanted(event: IndexEvent) -> bool:
        if query.dataset_id and event.args.get("datasetId") != query.dataset_id:
            return False
        return department is None or _names_department(event.args, department, owned)

    events, next_cursor = keyset_page(
        session,
        select_events,
        key=[col(IndexEvent.block_number), col(IndexEvent.log_index)],
        key_of=lambda e: (e.block_number, e.log_index),
        cursor=query.cursor,
        limit=query.limit,
        keep=wanted,
    )
    items = [_event_view(runtime, event) for event in events]
    return page(items, next_cursor, runtime.indexer.last_indexed_block())


def _metadata(session: Session, metadata_hash: str, visible: bool) -> Any:
    if not visible:
        return None
    document = session.get(MetadataDocument, metadata_hash)
    return json.loads(document.canonical_json) if document else None


def _dataset_view(reader: Reader, row: IndexDataset) -> dict[str, Any]:
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


def _version_view(reader: Reader, dataset: IndexDataset, row: IndexVersion) -> dict[str, Any]:
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
        # A batched version: the anchored root and its leaf (the operation and verification
        # give the proof).
        "anchor": {
            "root": row.anchor_root,
            "leaf_index": row.leaf_index,
            "record_digest": row.record_digest,
        }
        if row.anchor_root
        else None,
    }


def _edges(
    session: Session, node: tuple[str, int], *, upward: bool
) -> list[tuple[tuple[str, int], IndexVersionParent]]:
    """The lineage edges at one version: to its parents (``upward``) or to its children, each
    with the version at its other end."""
    dataset_id, version = node
    if upward:
        where = (IndexVersionParent.dataset_id == dataset_id,
                 IndexVersionParent.version == version)  # fmt: skip
    else:
        where = (IndexVersionParent.parent_dataset_id == dataset_id,
                 IndexVersionParent.parent_version == version)  # fmt: skip
    rows = session.exec(select(IndexVersionParent).where(*where)).all()
    if upward:
        return [((r.parent_dataset_id, r.parent_version), r) for r in rows]
    return [((r.dataset_id, r.version), r) for r in rows]


def _walk(
    reader: Reader, start: set[tuple[str, int]], depth: int, *, upward: bool
) -> list[dict[str, Any]]:
    edges: list[dict[str, Any]] = []
    frontier, seen = set(start), set(start)
    for level in range(1, depth + 1):
        next_frontier: set[tuple[str, int]] = set()
        for node in sorted(frontier):
            for other, row in _edges(reader.session, node, upward=upward):
                if other in start or not reader.readable_id(other[0]):
                    continue  # an edge between starting versions is listed under "within"
                edges.append(_edge_view(row, level))
                if other not in seen:
                    seen.add(other)
                    next_frontier.add(other)
        frontier = next_frontier
        if not frontier:
            break
    return edges


def _edge_view(row: IndexVersionParent, depth: int) -> dict[str, Any]:
    return {
        "depth": depth,
        "child": {"dataset_id": row.dataset_id, "version": row.version},
        "parent": {"dataset_id": row.parent_dataset_id, "version": row.parent_version},
    }


def _event_view(runtime: Runtime, event: IndexEvent) -> dict[str, Any]:
    return {
        "event": event.event,
        "contract": event.contract,
        "args": event.args,
        "chain": {
            "chain_id": runtime.chain.chain_id,
            "address": event.address,
            **event_coordinates(event),
        },
    }


def _names_department(args: dict[str, Any], department: int, owned: set[str]) -> bool:
    for key in ("departmentId", "department", "owner", "requester"):
        if key in args and int(args[key]) == department:
            return True
    return args.get("datasetId") in owned
