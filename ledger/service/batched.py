"""Batched records: registrations queued for a department's next Merkle batch, as use cases.

No contract sees a batched record, only the root its department signs, so everything the
contract would check for an on-chain registration is checked here before the record is stored:
the department is active and its key custodial (the service signs the root), the dataset is the
department's and not withdrawn, parents exist, version numbers follow on. Each record gets an
operation id that becomes ``confirmed`` with its inclusion proof once its batch's anchor is K
blocks deep. Nothing is committed: the caller commits the session (a concurrent request that
numbered a version of the same dataset first makes that commit fail: see ``IntegrityError``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from ledger.anchoring.queue import (
    BatchedDataset,
    batched_datasets,
    batched_version_exists,
    queue_records,
)
from ledger.anchoring.records import BatchRecord, RecordKind
from ledger.chain.clients.datasets import DatasetRegistryClient
from ledger.chain.types import Classification, DepartmentStatus, VersionRef
from ledger.errors import (
    ConflictError,
    DepartmentInactiveError,
    ForbiddenError,
    InvalidInputError,
    ResourceNotFoundError,
)
from ledger.relayer import next_department_status, next_signer
from ledger.runtime import Runtime
from ledger.service.documents import store_metadata, store_metadata_many, text_commitment
from ledger.service.principal import Principal


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchedEntry:
    """One record: a new dataset (``dataset_id`` None) with its first version, or the next
    version of a batched dataset. ``metadata`` is the document committed on chain (a new
    dataset's carries its classification)."""

    content_hash: bytes
    metadata: dict[str, Any]
    dataset_id: bytes | None = None
    classification: str = "internal"
    parents: tuple[VersionRef, ...] = ()
    salt: bytes | None = None


@dataclass(frozen=True, slots=True)
class QueuedRecords:
    """Records queued for the next batches: one operation id and result per record."""

    operation_ids: list[str]
    results: list[dict[str, Any]]


def register_records(
    session: Session, runtime: Runtime, principal: Principal, entries: list[BatchedEntry]
) -> QueuedRecords:
    """All or nothing: checked in order (a record may name a dataset created earlier in the same
    call); the first bad one raises, its index in the message (``records[i]: …``)."""
    builder = RecordBuilder(session, runtime, principal.acting_department())
    builder.load(["0x" + e.dataset_id.hex() for e in entries if e.dataset_id is not None])
    hashes = store_metadata_many(session, [entry.metadata for entry in entries])
    for index, (entry, metadata_hash) in enumerate(zip(entries, hashes, strict=True)):
        where = f"records[{index}]: "
        try:
            _build(builder, entry, metadata_hash, where)
        except InvalidInputError as exc:
            if exc.message.startswith(where):
                raise
            raise InvalidInputError(where + exc.message) from exc
    return QueuedRecords(builder.queue(), [result for _, result in builder.records])


def register_one(
    session: Session, runtime: Runtime, principal: Principal, entry: BatchedEntry
) -> QueuedRecords:
    """A new batched dataset and its first version, alone."""
    builder = RecordBuilder(session, runtime, principal.acting_department())
    builder.create(
        content_hash=entry.content_hash,
        metadata_hash=store_metadata(session, entry.metadata),
        classification=entry.classification,
        parents=entry.parents,
        salt=entry.salt,
    )
    return QueuedRecords(builder.queue(), [result for _, result in builder.records])


def append_one(
    session: Session, runtime: Runtime, principal: Principal, entry: BatchedEntry
) -> QueuedRecords:
    """The next version of a batched dataset (``entry.dataset_id``)."""
    assert entry.dataset_id is not None
    builder = RecordBuilder(session, runtime, principal.acting_department())
    builder.version(
        dataset_hex="0x" + entry.dataset_id.hex(),
        content_hash=entry.content_hash,
        metadata_hash=store_metadata(session, entry.metadata),
        parents=entry.parents,
    )
    return QueuedRecords(builder.queue(), [result for _, result in builder.records])


def withdraw_one(
    session: Session, runtime: Runtime, principal: Principal, dataset_id: bytes, reason: str
) -> QueuedRecords:
    """A withdraw record for a batched dataset."""
    builder = RecordBuilder(session, runtime, principal.acting_department())
    builder.withdraw(
        dataset_hex="0x" + dataset_id.hex(), reason_hash=text_commitment(session, reason)
    )
    return QueuedRecords(builder.queue(), [result for _, result in builder.records])


@dataclass
class RecordBuilder:
    """Checks and numbers the records of one request, in order, against the queue, the chain
    and the records before them in the same request."""

    session: Session
    runtime: Runtime
    department_id: int
    known: dict[str, BatchedDataset] = field(default_factory=dict)
    records: list[tuple[BatchRecord, dict[str, Any]]] = field(default_factory=list)
    _parents_seen: set[tuple[str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        session, runtime, department_id = self.session, self.runtime, self.department_id
        departments = runtime.ledger.departments
        if next_department_status(session, departments, department_id) == (
            DepartmentStatus.SUSPENDED
        ):
            raise DepartmentInactiveError({"departmentId": department_id})
        signer = next_signer(session, departments, department_id)
        if runtime.department_key(department_id, signer) is None:
            raise ForbiddenError(
                f"department {department_id} holds its own key; batched anchoring signs each "
                "batch root with the department's custodial key: register on chain instead "
                "(anchoring 'chain', with the department's own signature)"
            )

    def load(self, dataset_ids: list[str]) -> None:
        """Look up the batched datasets the request names, in one query."""
        self.known.update(batched_datasets(self.session, dataset_ids))

    def create(
        self, *, content_hash: bytes, metadata_hash: bytes, classification: str,
        parents: tuple[VersionRef, ...], salt: bytes | None, where: str = "",
    ) -> tuple[BatchRecord, dict[str, Any]]:  # fmt: skip
        salt_bytes = salt if salt is not None else os.urandom(32)
        dataset_id = DatasetRegistryClient.dataset_id_of(self.department_id, salt_bytes)
        dataset_hex = "0x" + dataset_id.hex()
        if salt is not None:
            # A random salt cannot collide; a chosen one may name an existing dataset.
            self.load([dataset_hex])
            exists = dataset_hex in self.known or any(
                r.dataset_id == dataset_id for r, _ in self.records
            )
            if exists or self.runtime.ledger.datasets.dataset(dataset_id).exists:
                raise ConflictError(
                    {"datasetId": dataset_hex},
                    message=f"{where}dataset {dataset_hex} exists already",
                )
        record = BatchRecord(
            kind=RecordKind.CREATE,
            department_id=self.department_id,
            dataset_id=dataset_id,
            version=1,
            content_hash=content_hash,
            metadata_hash=metadata_hash,
            classification=int(Classification[classification.upper()]),
            dataset_metadata_hash=metadata_hash,
            salt=salt_bytes,
            parents=self._parents(parents, where),
        )
        self.known[dataset_hex] = BatchedDataset(dataset_hex, self.department_id, 1, False)
        return self._add(record, salt="0x" + salt_bytes.hex())

    def version(
        self, *, dataset_hex: str, content_hash: bytes, metadata_hash: bytes,
        parents: tuple[VersionRef, ...], where: str = "",
    ) -> tuple[BatchRecord, dict[str, Any]]:  # fmt: skip
        dataset = self._owned(dataset_hex, where)
        record = BatchRecord(
            kind=RecordKind.VERSION,
            department_id=self.department_id,
            dataset_id=_bytes(dataset_hex),
            version=dataset.version_count + 1,
            content_hash=content_hash,
            metadata_hash=metadata_hash,
            parents=self._parents(parents, where),
        )
        self.known[dataset_hex] = BatchedDataset(
            dataset_hex, dataset.owner, dataset.version_count + 1, False
        )
        return self._add(record)

    def withdraw(
        self, *, dataset_hex: str, reason_hash: bytes
    ) -> tuple[BatchRecord, dict[str, Any]]:
        dataset = self._owned(dataset_hex, "")
        record = BatchRecord(
            kind=RecordKind.WITHDRAW,
            department_id=self.department_id,
            dataset_id=_bytes(dataset_hex),
            version=0,
            metadata_hash=reason_hash,
        )
        self.known[dataset_hex] = BatchedDataset(
            dataset_hex, dataset.owner, dataset.version_count, True
        )
        return self._add(record)

    def queue(self) -> list[str]:
        return queue_records(self.session, self.records)

    def _add(self, record: BatchRecord, **extra: Any) -> tuple[BatchRecord, dict[str, Any]]:
        result = {
            "anchoring": "batch",
            "dataset_id": "0x" + record.dataset_id.hex(),
            "version": record.version,
            "content_hash": "0x" + record.content_hash.hex(),
            "metadata_hash": "0x" + record.metadata_hash.hex(),
            "record_digest": "0x" + record.digest().hex(),
            **extra,
        }
        self.records.append((record, result))
        return record, result

    def _owned(self, dataset_hex: str, where: str) -> BatchedDataset:
        if dataset_hex not in self.known:
            self.load([dataset_hex])
        dataset = self.known.get(dataset_hex)
        if dataset is None:
            if self.runtime.ledger.datasets.dataset(_bytes(dataset_hex)).exists:
                raise ConflictError(
                    {"datasetId": dataset_hex},
                    message=f"{where}dataset {dataset_hex} is anchored on chain, one transaction "
                    "per version: add its versions with POST /v1/datasets/{id}/versions",
                )
            raise ResourceNotFoundError(f"{where}no batched dataset {dataset_hex}")
        if dataset.owner != self.department_id:
            raise ForbiddenError(f"{where}dataset {dataset_hex} belongs to another department")
        if dataset.withdrawn:
            raise ConflictError(
                {"datasetId": dataset_hex}, message=f"{where}dataset {dataset_hex} is withdrawn"
            )
        return dataset

    def _parents(
        self, parents: tuple[VersionRef, ...], where: str
    ) -> tuple[tuple[bytes, int], ...]:
        for parent in parents:
            parent_hex = "0x" + parent.dataset_id.hex()
            key = (parent_hex, parent.version)
            if key in self._parents_seen:
                continue
            pending = self.known.get(parent_hex)
            exists = (
                (pending is not None and parent.version <= pending.version_count)
                or batched_version_exists(self.session, parent_hex, parent.version)
                or self.runtime.ledger.datasets.version_exists(parent.dataset_id, parent.version)
            )
            if not exists:
                raise ResourceNotFoundError(
                    f"{where}parent version {parent.version} of dataset {parent_hex} does not exist"
                )
            self._parents_seen.add(key)
        return tuple((p.dataset_id, p.version) for p in parents)


def _build(builder: RecordBuilder, entry: BatchedEntry, metadata_hash: bytes, where: str) -> None:
    if entry.dataset_id is None:
        builder.create(
            content_hash=entry.content_hash,
            metadata_hash=metadata_hash,
            classification=entry.classification,
            parents=entry.parents,
            salt=entry.salt,
            where=where,
        )
    else:
        builder.version(
            dataset_hex="0x" + entry.dataset_id.hex(),
            content_hash=entry.content_hash,
            metadata_hash=metadata_hash,
            parents=entry.parents,
            where=where,
        )


def _bytes(hex32: str) -> bytes:
    return bytes.fromhex(hex32[2:])
