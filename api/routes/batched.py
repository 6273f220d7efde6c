"""Batched registration: records queued for a department's next Merkle batch.

``POST /v1/datasets/batch`` takes many records in one request; ``POST /v1/datasets`` with
``"anchoring": "batch"`` takes one, and a batched dataset's later versions and withdrawal go
the same way. Each record is acknowledged with its own operation id and becomes ``confirmed``
with its inclusion proof once its batch's anchor is K blocks deep.

No contract sees a batched record, only the root its department signs, so everything the
contract would check for an on-chain registration is checked here before the record is
stored: the department is active and its key custodial (the service signs the root), the
dataset is the department's and not withdrawn, parents exist, version numbers follow on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.bodies import Body, takes
from api.deps import IdempotencyKey, PrincipalDep, RuntimeDep
from api.idempotency import Idempotency
from api.routes.common import Intent, idempotent_write
from api.schemas import (
    CLASSIFICATIONS,
    BatchAccepted,
    BatchEntry,
    BatchRegistration,
    DatasetCreate,
    ParentRef,
    VersionCreate,
    Withdrawal,
)
from ledger.anchoring.queue import (
    BatchedDataset,
    batched_datasets,
    batched_version_exists,
    queue_records,
)
from ledger.anchoring.records import BatchRecord, RecordKind
from ledger.chain.clients.datasets import DatasetRegistryClient
from ledger.chain.types import DepartmentStatus
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

router = APIRouter(tags=["datasets"])


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
        self, *, content_hash: str, metadata_hash: bytes, classification: str,
        parents: list[ParentRef], salt: str | None, where: str = "",
    ) -> tuple[BatchRecord, dict[str, Any]]:  # fmt: skip
        salt_bytes = bytes.fromhex(salt[2:]) if salt else os.urandom(32)
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
            content_hash=_bytes(content_hash),
            metadata_hash=metadata_hash,
            classification=CLASSIFICATIONS.index(classification),
            dataset_metadata_hash=metadata_hash,
            salt=salt_bytes,
            parents=self._parents(parents, where),
        )
        self.known[dataset_hex] = BatchedDataset(dataset_hex, self.department_id, 1, False)
        return self._add(record, salt="0x" + salt_bytes.hex())

    def version(
        self, *, dataset_hex: str, content_hash: str, metadata_hash: bytes,
        parents: list[ParentRef], where: str = "",
    ) -> tuple[BatchRecord, dict[str, Any]]:  # fmt: skip
        dataset = self._owned(dataset_hex, where)
        record = BatchRecord(
            kind=RecordKind.VERSION,
            department_id=self.department_id,
            dataset_id=_bytes(dataset_hex),
            version=dataset.version_count + 1,
            content_hash=_bytes(content_hash),
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

    def _parents(self, parents: list[ParentRef], where: str) -> tuple[tuple[bytes, int], ...]:
        for parent in parents:
            key = (parent.dataset_id, parent.version)
            if key in self._parents_seen:
                continue
            pending = self.known.get(parent.dataset_id)
            exists = (
                (pending is not None and parent.version <= pending.version_count)
                or batched_version_exists(self.session, parent.dataset_id, parent.version)
                or self.runtime.ledger.datasets.version_exists(
                    _bytes(parent.dataset_id), parent.version
                )
            )
            if not exists:
                raise ResourceNotFoundError(
                    f"{where}parent version {parent.version} of dataset {parent.dataset_id} "
                    "does not exist"
                )
            self._parents_seen.add(key)
        return tuple((_bytes(p.dataset_id), p.version) for p in parents)


@router.post(
    "/v1/datasets/batch",
    status_code=202,
    response_model=BatchAccepted,
    summary="Register many records at once (new datasets and versions), anchored in batches",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BatchRegistration"}}
            },
        }
    },
)
@takes(Body.BULK)
async def register_batch(
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """All or nothing: the records are checked in order (a record may name a dataset created
    earlier in the same request) and stored together, or a problem names the first bad one
    (``records[i]: …``) and nothing is stored. Up to 10,000 records per request; each gets an
    operation id that becomes ``confirmed`` with its inclusion proof."""
    department_id = principal.acting_department()
    raw = await request.body()
    try:
        body = BatchRegistration.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    intent = Intent.of(request, raw)

    def write(session: Session, idempotency: Idempotency) -> JSONResponse:
        return _register(session, runtime, idempotency, department_id, body)

    # The checks wait on the node and the database: off the event loop, which keeps reading
    # other requests meanwhile.
    return await run_in_threadpool(
        idempotent_write, runtime, principal, idempotency_key, intent, write
    )


def _register(
    session: Session,
    runtime: Runtime,
    idempotency: Idempotency,
    department_id: int,
    body: BatchRegistration,
) -> JSONResponse:
    builder = RecordBuilder(session, runtime, department_id)
    builder.load([e.dataset_id for e in body.records if e.dataset_id is not None])
    hashes = store_metadata_many(session, [entry.metadata_document() for entry in body.records])
    for index, (entry, metadata_hash) in enumerate(zip(body.records, hashes, strict=True)):
        where = f"records[{index}]: "
        try:
            _build(builder, entry, metadata_hash, where)
        except InvalidInputError as exc:
            if exc.message.startswith(where):
                raise
            raise InvalidInputError(where + exc.message) from exc
    ids = builder.queue()
    payload = BatchAccepted(
        count=len(ids),
        status="pending",
        records=[
            {
                "operation_id": op_id,
                **{k: result[k] for k in ("dataset_id", "version", "content_hash")},
            }
            for op_id, (_, result) in zip(ids, builder.records, strict=True)
        ],
    ).model_dump()
    return acknowledge(session, idempotency, payload)


def create_one(
    request: Request, session: Session, runtime: Runtime, principal: Principal,
    body: DatasetCreate, idempotency: Idempotency,
) -> JSONResponse:  # fmt: skip
    """``POST /v1/datasets`` with ``"anchoring": "batch"``: one record for the next batch."""
    builder = RecordBuilder(session, runtime, principal.acting_department())
    metadata = {"classification": body.classification, **body.metadata.model_dump()}
    builder.create(
        content_hash=body.content_hash,
        metadata_hash=store_metadata(session, metadata),
        classification=body.classification,
        parents=body.parents,
        salt=body.salt,
    )
    return _acknowledge_one(request, session, builder, idempotency)


def add_one_version(
    request: Request, session: Session, runtime: Runtime, principal: Principal,
    dataset_hex: str, body: VersionCreate, idempotency: Idempotency,
) -> JSONResponse:  # fmt: skip
    """``POST /v1/datasets/{id}/versions`` on a batched dataset."""
    if body.signature is not None:
        raise InvalidInputError(
            f"dataset {dataset_hex} is batched: its records are signed as a batch root by the "
            "custodial key, send no signature"
        )
    builder = RecordBuilder(session, runtime, principal.acting_department())
    builder.version(
        dataset_hex=dataset_hex,
        content_hash=body.content_hash,
        metadata_hash=store_metadata(session, body.metadata.model_dump()),
        parents=body.parents,
    )
    return _acknowledge_one(request, session, builder, idempotency)


def withdraw_one(
    request: Request, session: Session, runtime: Runtime, principal: Principal,
    dataset_hex: str, body: Withdrawal, idempotency: Idempotency,
) -> JSONResponse:  # fmt: skip
    """``POST /v1/datasets/{id}/withdraw`` on a batched dataset: a withdraw record."""
    if body.signature is not None:
        raise InvalidInputError(f"dataset {dataset_hex} is batched: send no signature")
    builder = RecordBuilder(session, runtime, principal.acting_department())
    builder.withdraw(dataset_hex=dataset_hex, reason_hash=text_commitment(session, body.reason))
    return _acknowledge_one(request, session, builder, idempotency)


def _acknowledge_one(
    request: Request, session: Session, builder: RecordBuilder, idempotency: Idempotency
) -> JSONResponse:
    (op_id,) = builder.queue()
    _, result = builder.records[0]
    url = str(request.url_for("get_operation", operation_id=op_id))
    payload = {"operation_id": op_id, "operation_url": url, "status": "pending", "resource": result}
    response = acknowledge(session, idempotency, payload)
    response.headers["Location"] = url
    return response


def _build(builder: RecordBuilder, entry: BatchEntry, metadata_hash: bytes, where: str) -> None:
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
            dataset_hex=entry.dataset_id,
            content_hash=entry.content_hash,
            metadata_hash=metadata_hash,
            parents=entry.parents,
            where=where,
        )


def acknowledge(
    session: Session, idempotency: Idempotency, payload: dict[str, Any]
) -> JSONResponse:
    """Commit the queued records with their idempotency record and answer 202."""
    idempotency.remember(202, payload)
    try:
        session.commit()
    except IntegrityError as exc:
        # Another request numbered a version of the same dataset first (partial unique index).
        session.rollback()
        raise ConflictError(
            {},
            message="a concurrent request registered a version of the same dataset first: "
            "nothing of this request was stored; send it again",
        ) from exc
    return JSONResponse(payload, status_code=202)


def _bytes(hex32: str) -> bytes:
    return bytes.fromhex(hex32[2:])
