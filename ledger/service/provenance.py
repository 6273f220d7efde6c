"""A dataset's provenance as a W3C PROV document (PROV-JSON, PROV-N or PROV-O in Turtle).

The document holds the dataset's versions (or one of them) and their ancestors, up to ``depth``
derivation steps, across datasets and departments, as PROV-literate tools expect them:

* **entities**: each version (``pl:dataset/0x…/v/3``, ``prov:type pl:DatasetVersion``) with its
  content hash (SHA-256 of the bytes), metadata hash, history head, and for a batched version
  its anchored root, leaf index and record digest; each dataset (``pl:dataset/0x…``,
  ``pl:Dataset``) with its classification, anchoring and status, of which its versions are
  ``specializationOf``;
* **agents**: each department (``pl:department/21``, ``prov:Organization``), to which the
  datasets and versions are ``wasAttributedTo``;
* **activities**: each transaction that put a version on chain (``pl:tx/0x…``): a
  ``pl:Registration``, or a ``pl:BatchAnchoring`` for batched records, ``wasAssociatedWith``
  the department, its chain coordinates (chain id, contract, tx hash, block number and hash)
  as attributes and its block time as ``prov:startTime`` and ``prov:endTime``; each version
  ``wasGeneratedBy`` it at that time, the event's log index on the generation;
* **derivations**: ``wasDerivedFrom`` for every parent a version declared (also across
  departments), ``wasRevisionOf`` between consecutive versions of one dataset;
* **withdrawal**: the dataset and its versions ``wasInvalidatedBy`` the withdrawing transaction
  (``pl:Withdrawal``, or the batch anchoring that carried the withdrawal record) at its time.

The names are :mod:`ledger.service.vocabulary`'s. Only chain facts are shown (no metadata
documents), so who sees what is the lineage's rule: a walk stops at a dataset the principal
may not read (a batched one it has no need to know), and neither it nor what lies beyond it is
in the document.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prov.constants import PROV, PROV_LABEL, PROV_TYPE
from prov.identifier import QualifiedName
from prov.model import ProvDocument
from sqlmodel import Session, col, select

from ledger.errors import ExportTooLargeError, ResourceNotFoundError
from ledger.index.models import IndexDataset, IndexDepartment, IndexVersion, IndexVersionParent
from ledger.runtime import Runtime
from ledger.service.principal import Principal
from ledger.service.reads import Reader
from ledger.service.views import coordinates
from ledger.service.vocabulary import (
    NAMESPACE,
    PREFIX,
    dataset_name,
    department_name,
    transaction_name,
    version_name,
)

#: The most versions one document holds; beyond it, ask for one version or a smaller depth.
MAX_VERSIONS = 2_000

Node = tuple[str, int]  # (dataset id, version)


class ProvFormat(enum.Enum):
    """The serialisations of a PROV document the service gives, by their ``format`` name."""

    JSON = "prov-json"
    PROVN = "prov-n"
    TURTLE = "turtle"

    @property
    def media_type(self) -> str:
        """The media type of the serialisation (PROV-JSON's is JSON's)."""
        return {
            ProvFormat.JSON: "application/json",
            ProvFormat.PROVN: "text/provenance-notation",
            ProvFormat.TURTLE: "text/turtle",
        }[self]


@dataclass(frozen=True, slots=True)
class ProvenanceQuery:
    dataset_id: str  # 0x + 64 lower-case hex digits
    version: int | None = None  # None: every version of the dataset
    depth: int = 5
    format: ProvFormat = ProvFormat.JSON


def get_provenance(
    session: Session, runtime: Runtime, principal: Principal, query: ProvenanceQuery
) -> str:
    """The dataset's provenance, serialised in ``query.format``; ``ResourceNotFoundError`` if
    the dataset (or the version) does not exist for ``principal``, ``ExportTooLargeError`` if
    the document would hold more than :data:`MAX_VERSIONS` versions."""
    reader = Reader(session, runtime, principal)
    dataset = reader.dataset(query.dataset_id)
    if query.version is None:
        start = _versions(session, {dataset.dataset_id: None})
    else:
        found = session.get(IndexVersion, (dataset.dataset_id, query.version))
        if found is None:
            raise ResourceNotFoundError(
                f"dataset {dataset.dataset_id} has no version {query.version}"
            )
        start = [found]
    versions, edges = _ancestry(reader, start, query.depth)
    document = _Builder(runtime).build(reader, versions, edges)
    return serialize(document, query.format)


def serialize(document: ProvDocument, fmt: ProvFormat) -> str:
    """``document`` in one of the formats, written by ``prov`` itself."""
    if fmt is ProvFormat.TURTLE:
        text = document.serialize(format="rdf", rdf_format="turtle")
    else:
        text = document.serialize(format="json" if fmt is ProvFormat.JSON else "provn")
    assert text is not None  # no destination: the text is returned
    return text


# --- the walk ----------------------------------------------------------------------------------


def _ancestry(
    reader: Reader, start: list[IndexVersion], depth: int
) -> tuple[dict[Node, IndexVersion], list[IndexVersionParent]]:
    """The versions from ``start`` up to ``depth`` parent steps, and the edges between them,
    leaving out any dataset the reader may not see (and so what lies beyond it)."""
    versions = {(v.dataset_id, v.version): v for v in start}
    edges: list[IndexVersionParent] = []
    frontier = list(versions)
    for _ in range(depth):
        found = [
            edge
            for edge in _parent_edges(reader.session, frontier)
            if reader.readable_id(edge.parent_dataset_id)
        ]
        new = {(e.parent_dataset_id, e.parent_version) for e in found} - versions.keys()
        _check_size(len(versions) + len(new))
        loaded = {(v.dataset_id, v.version): v for v in _versions(reader.session, _by_dataset(new))}
        versions.update(loaded)
        # An edge to a version the index does not hold (never on a consistent index) is left
        # out rather than pointing at an entity the document does not describe.
        edges += [e for e in found if (e.parent_dataset_id, e.parent_version) in versions]
        frontier = list(loaded)
        if not frontier:
            break
    return versions, edges


def _check_size(count: int) -> None:
    if count > MAX_VERSIONS:
        raise ExportTooLargeError(
            f"the provenance holds more than {MAX_VERSIONS} versions: ask for one version or a "
            "smaller depth"
        )


def _by_dataset(nodes: Iterable[Node]) -> dict[str, set[int] | None]:
    grouped: dict[str, set[int] | None] = defaultdict(set)
    for dataset_id, version in nodes:
        numbers = grouped[dataset_id]
        assert numbers is not None
        numbers.add(version)
    return grouped


def _versions(session: Session, wanted: dict[str, set[int] | None]) -> list[IndexVersion]:
    """The versions named, per dataset: some (a set of numbers) or all (``None``)."""
    found: list[IndexVersion] = []
    for dataset_id, numbers in sorted(wanted.items()):
        query = select(IndexVersion).where(IndexVersion.dataset_id == dataset_id)
        if numbers is not None:
            query = query.where(col(IndexVersion.version).in_(sorted(numbers)))
        else:
            _check_size(len(found) + _count(session, dataset_id))
        found += session.exec(query.order_by(col(IndexVersion.version))).all()
    return found


def _count(session: Session, dataset_id: str) -> int:
    dataset = session.get(IndexDataset, dataset_id)
    return dataset.version_count if dataset else 0


def _parent_edges(session: Session, children: list[Node]) -> list[IndexVersionParent]:
    edges: list[IndexVersionParent] = []
    for dataset_id, numbers in sorted(_by_dataset(children).items()):
        assert numbers is not None
        edges += session.exec(
            select(IndexVersionParent)
            .where(
                IndexVersionParent.dataset_id == dataset_id,
                col(IndexVersionParent.version).in_(sorted(numbers)),
            )
            .order_by(col(IndexVersionParent.version), col(IndexVersionParent.position))
        ).all()
    return edges


# --- the document ------------------------------------------------------------------------------


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class _Builder:
    """Records of one PROV document, each added once however often the walk met it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.document = ProvDocument()
        self.pl = self.document.add_namespace(PREFIX, NAMESPACE)
        self._activities: set[QualifiedName] = set()

    def build(
        self, reader: Reader, versions: dict[Node, IndexVersion], edges: list[IndexVersionParent]
    ) -> ProvDocument:
        datasets = {
            dataset_id: reader.dataset(dataset_id)
            for dataset_id in sorted({d for d, _ in versions})
        }
        department_ids = {d.owner for d in datasets.values()}
        department_ids |= {v.department_id for v in versions.values()}
        departments = {
            d.department_id: d
            for d in reader.session.exec(
                select(IndexDepartment).where(
                    col(IndexDepartment.department_id).in_(department_ids)
                )
            ).all()
        }
        for department_id in sorted(department_ids):
            self._agent(department_id, departments.get(department_id))
        for dataset in datasets.values():
            self._dataset(dataset)
        for node in sorted(versions):
            self._version(datasets[node[0]], versions[node])
            if (node[0], node[1] - 1) in versions:
                self.document.wasRevisionOf(
                    self.pl[version_name(*node)], self.pl[version_name(node[0], node[1] - 1)]
                )
        for edge in edges:
            self.document.wasDerivedFrom(
                self.pl[version_name(edge.dataset_id, edge.version)],
                self.pl[version_name(edge.parent_dataset_id, edge.parent_version)],
            )
        for dataset in datasets.values():
            if dataset.status == "withdrawn":
                numbers = sorted(n for d, n in versions if d == dataset.dataset_id)
                self._withdrawal(dataset, numbers)
        return self.document

    def _agent(self, department_id: int, row: IndexDepartment | None) -> None:
        attributes: dict[Any, Any] = {
            PROV_TYPE: PROV["Organization"],
            self.pl["departmentId"]: department_id,
        }
        if row is not None:
            attributes[PROV_LABEL] = row.name
        self.document.agent(self.pl[department_name(department_id)], attributes)

    def _dataset(self, row: IndexDataset) -> None:
        name = self.pl[dataset_name(row.dataset_id)]
        self.document.entity(
            name,
            {
                PROV_TYPE: self.pl["Dataset"],
                self.pl["datasetId"]: row.dataset_id,
                self.pl["classification"]: row.classification,
                self.pl["anchoring"]: row.anchoring,
                self.pl["status"]: row.status,
            },
        )
        self.document.wasAttributedTo(name, self.pl[department_name(row.owner)])

    def _version(self, dataset: IndexDataset, row: IndexVersion) -> None:
        name = self.pl[version_name(row.dataset_id, row.version)]
        attributes: dict[Any, Any] = {
            PROV_TYPE: self.pl["DatasetVersion"],
            self.pl["datasetId"]: row.dataset_id,
            self.pl["version"]: row.version,
            self.pl["contentHash"]: row.content_hash,
            self.pl["metadataHash"]: row.metadata_hash,
        }
        optional = {
            "historyHead": row.history_head,
            "anchorRoot": row.anchor_root,
            "leafIndex": row.leaf_index,
            "recordDigest": row.record_digest,
        }
        attributes |= {self.pl[k]: v for k, v in optional.items() if v is not None}
        self.document.entity(name, attributes)
        self.document.specializationOf(name, self.pl[dataset_name(row.dataset_id)])
        agent = self.pl[department_name(row.department_id)]
        self.document.wasAttributedTo(name, agent)
        kind = "BatchAnchoring" if row.anchor_root else "Registration"
        where = coordinates(row)
        activity = self._activity(dataset, kind, where, agent)
        self.document.wasGeneratedBy(
            name,
            activity,
            _time(where["block_time"]),
            other_attributes={self.pl["logIndex"]: where["log_index"]},
        )

    def _withdrawal(self, dataset: IndexDataset, numbers: list[int]) -> None:
        # Nothing changes a dataset after its withdrawal (the contract and the batch checks
        # refuse it), so the coordinates of its last change are the withdrawal's.
        where = coordinates(dataset, "updated")
        kind = "BatchAnchoring" if dataset.anchoring == "batch" else "Withdrawal"
        agent = self.pl[department_name(dataset.owner)]
        activity = self._activity(dataset, kind, where, agent)
        at = _time(where["block_time"])
        reason = {self.pl["reasonHash"]: dataset.withdrawn_reason_hash or ""}
        self.document.wasInvalidatedBy(
            self.pl[dataset_name(dataset.dataset_id)], activity, at, other_attributes=reason
        )
        for number in numbers:
            self.document.wasInvalidatedBy(
                self.pl[version_name(dataset.dataset_id, number)], activity, at
            )

    def _activity(
        self, dataset: IndexDataset, kind: str, where: dict[str, Any], agent: QualifiedName
    ) -> QualifiedName:
        """The transaction at ``where`` as an activity (added the first time it is met)."""
        name = self.pl[transaction_name(where["tx_hash"])]
        if name in self._activities:
            return name
        self._activities.add(name)
        ledger = self.runtime.ledger
        contract = ledger.anchors if dataset.anchoring == "batch" else ledger.datasets
        at = _time(where["block_time"])
        self.document.activity(
            name,
            at,
            at,
            {
                PROV_TYPE: self.pl[kind],
                self.pl["chainId"]: self.runtime.chain.chain_id,
                self.pl["contract"]: contract.address,
                self.pl["txHash"]: where["tx_hash"],
                self.pl["blockNumber"]: where["block_number"],
                self.pl["blockHash"]: where["block_hash"],
            },
        )
        self.document.wasAssociatedWith(name, agent)
        return name
