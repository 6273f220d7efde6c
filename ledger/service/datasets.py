"""Datasets anchored version by version on chain: a department registers one with its first
version, appends versions, withdraws it.

Each function checks what the contract would refuse, as far as it can know now (the dataset
exists or is queued, the department owns it, it is not withdrawn, the parents exist), stores the
metadata document or reason behind the on-chain commitment, signs with the custodial key or
checks the department's own signature, and queues one operation in the outbox. Nothing is
committed: the caller commits the session together with its own records (the idempotency
record of an HTTP request), which is what makes the write acknowledged.

Batched datasets (``anchoring: batch``) are ``ledger.anchoring``'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlmodel import Session, col, select

from ledger.anchoring.queue import batched_dataset
from ledger.chain.types import Classification, NewVersion, VersionRef
from ledger.errors import ConflictError, ForbiddenError, InvalidInputError, ResourceNotFoundError
from ledger.index.models import IndexDataset, IndexVersion
from ledger.relayer.actions import ClientSignature, DepartmentAction
from ledger.relayer.models import Operation, OperationStatus
from ledger.runtime import Runtime
from ledger.service.documents import store_metadata, text_commitment
from ledger.service.principal import Principal
from ledger.service.queued import Queued, department_action
from ledger.service.sealed import (
    SEALED_KEY,
    SealedContent,
    sealed_registration,
    wrap_for_grantees,
)
from ledger.service.visibility import may_read

ClassificationName = Literal["public", "internal", "restricted", "confidential"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewDataset:
    """Register a dataset and its first version. ``metadata`` is the dataset's document (title,
    description…); ``salt`` fixes the dataset id in advance (random if None); ``signature`` is
    the department's own, for a department that holds its key."""

    content_hash: bytes
    metadata: dict[str, Any]
    classification: ClassificationName = "internal"
    parents: tuple[VersionRef, ...] = ()
    salt: bytes | None = None
    signature: ClientSignature | None = None
    sealed: SealedContent | None = None  # sealed bytes uploaded, and the owner's wrapped key


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendVersion:
    dataset_id: bytes
    content_hash: bytes
    metadata: dict[str, Any] = field(default_factory=dict)
    parents: tuple[VersionRef, ...] = ()
    signature: ClientSignature | None = None
    sealed: SealedContent | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawDataset:
    dataset_id: bytes
    reason: str = ""
    signature: ClientSignature | None = None


def register_dataset(
    session: Session, runtime: Runtime, principal: Principal, command: NewDataset
) -> Queued:
    department_id = principal.acting_department()
    parents = existing_parents(runtime, command.parents)
    if command.sealed is not None and command.salt is None:
        raise InvalidInputError(
            "a sealed dataset needs the salt its id derives from: the content key is wrapped "
            "for that dataset id before it is registered"
        )
    salt = command.salt if command.salt is not None else os.urandom(32)
    datasets = runtime.ledger.datasets
    dataset_id = datasets.dataset_id_of(department_id, salt)
    dataset_hex = "0x" + dataset_id.hex()
    if (
        datasets.dataset(dataset_id).exists
        or _queued_creation(session, department_id, dataset_hex)
        or batched_dataset(session, dataset_hex) is not None
    ):
        raise ConflictError(
            {"datasetId": dataset_hex}, message=f"dataset {dataset_hex} exists already"
        )
    classification = Classification[command.classification.upper()]
    metadata = {"classification": command.classification, **command.metadata}
    if command.sealed is not None:
        metadata[SEALED_KEY], _ = sealed_registration(
            session, runtime, department_id, dataset_id, command.sealed
        )
    metadata_hash = store_metadata(session, metadata)
    first = NewVersion(command.content_hash, metadata_hash, parents)
    resource = {
        "dataset_id": dataset_hex,
        "version": 1,
        "salt": "0x" + salt.hex(),
        "content_hash": "0x" + command.content_hash.hex(),
        "metadata_hash": "0x" + metadata_hash.hex(),
        "registered_before": registered_before(session, runtime, principal, command.content_hash),
    }
    if SEALED_KEY in metadata:
        resource[SEALED_KEY] = metadata[SEALED_KEY]
    action = DepartmentAction(
        client=datasets,
        action_type="CreateDataset",
        fields={
            "salt": salt,
            "classification": int(classification),
            "metadataHash": metadata_hash,
            "contentHash": first.content_hash,
            "versionMetadataHash": first.metadata_hash,
            "parents": [p.as_typed() for p in parents],
        },
        function="createDatasetBySig",
        call_args=lambda auth: [
            salt,
            int(classification),
            metadata_hash,
            first.as_abi(),
            auth.as_abi(),
        ],
        kind="datasets.create",
    )
    return department_action(
        session, runtime, department_id, action, resource=resource, signature=command.signature
    )


def append_version(
    session: Session, runtime: Runtime, principal: Principal, command: AppendVersion
) -> Queued:
    department_id = acting_owner(session, runtime, principal, command.dataset_id)
    dataset_hex = "0x" + command.dataset_id.hex()
    parents = existing_parents(runtime, command.parents)
    metadata = dict(command.metadata)
    wrapped_to: list[int] = []
    if command.sealed is not None:
        metadata[SEALED_KEY], content_key = sealed_registration(
            session, runtime, department_id, command.dataset_id, command.sealed
        )
        if content_key is not None:  # the service holds the owner's key: wrap to grantees
            wrapped_to = wrap_for_grantees(
                session, runtime, department_id, command.dataset_id, command.sealed.sha256,
                content_key,
            )  # fmt: skip
    metadata_hash = store_metadata(session, metadata)
    version = NewVersion(command.content_hash, metadata_hash, parents)
    resource: dict[str, Any] = {
        "dataset_id": dataset_hex,
        "content_hash": "0x" + command.content_hash.hex(),
        "metadata_hash": "0x" + metadata_hash.hex(),
        "registered_before": registered_before(session, runtime, principal, command.content_hash),
    }
    if SEALED_KEY in metadata:
        resource[SEALED_KEY] = {**metadata[SEALED_KEY], "wrapped_to": wrapped_to}
    action = DepartmentAction(
        client=runtime.ledger.datasets,
        action_type="AddVersion",
        fields={
            "datasetId": command.dataset_id,
            "contentHash": version.content_hash,
            "metadataHash": metadata_hash,
            "parents": [p.as_typed() for p in parents],
        },
        function="addVersionBySig",
        call_args=lambda auth: [command.dataset_id, version.as_abi(), auth.as_abi()],
        kind="datasets.add_version",
    )
    return department_action(
        session, runtime, department_id, action, resource=resource, signature=command.signature
    )


#: Earlier registrations of the same bytes named in a write's answer, at most.
REGISTERED_BEFORE_LIMIT = 10


def registered_before(
    session: Session, runtime: Runtime, principal: Principal, content_hash: bytes
) -> list[dict[str, Any]]:
    """Versions (as the index knows them, oldest first) that registered these bytes already
    and that ``principal`` may see: registering the same file twice is allowed (one file may
    belong to two datasets) but is usually a slip, so the answer says so rather than nothing.
    """
    rows = session.exec(
        select(IndexVersion, IndexDataset)
        .join(IndexDataset, col(IndexDataset.dataset_id) == col(IndexVersion.dataset_id))
        .where(IndexVersion.content_hash == "0x" + content_hash.hex())
        .order_by(col(IndexVersion.created_block_number), col(IndexVersion.created_log_index))
        .limit(REGISTERED_BEFORE_LIMIT * 4)
    ).all()
    seen = [
        {"dataset_id": v.dataset_id, "version": v.version, "department_id": v.department_id}
        for v, d in rows
        if may_read(session, runtime, principal, d)
    ]
    return seen[:REGISTERED_BEFORE_LIMIT]


def withdraw_dataset(
    session: Session, runtime: Runtime, principal: Principal, command: WithdrawDataset
) -> Queued:
    department_id = acting_owner(session, runtime, principal, command.dataset_id)
    dataset_hex = "0x" + command.dataset_id.hex()
    reason_hash = text_commitment(session, command.reason)
    resource = {"dataset_id": dataset_hex}
    action = DepartmentAction(
        client=runtime.ledger.datasets,
        action_type="WithdrawDataset",
        fields={"datasetId": command.dataset_id, "reasonHash": reason_hash},
        function="withdrawDatasetBySig",
        call_args=lambda auth: [command.dataset_id, reason_hash, auth.as_abi()],
        kind="datasets.withdraw",
    )
    return department_action(
        session, runtime, department_id, action, resource=resource, signature=command.signature
    )


def existing_parents(runtime: Runtime, parents: tuple[VersionRef, ...]) -> tuple[VersionRef, ...]:
    """``parents``, each checked to exist on chain now (the contract checks again)."""
    for ref in parents:
        if not runtime.ledger.datasets.version_exists(ref.dataset_id, ref.version):
            raise ResourceNotFoundError(
                f"parent version {ref.version} of dataset 0x{ref.dataset_id.hex()} does not exist"
            )
    return parents


def acting_owner(
    session: Session, runtime: Runtime, principal: Principal, dataset_id: bytes
) -> int:
    """The acting department, refused unless it owns ``dataset_id`` (on chain, or queued by
    it) and the dataset is not withdrawn."""
    department_id = principal.acting_department()
    dataset_hex = "0x" + dataset_id.hex()
    record = runtime.ledger.datasets.dataset(dataset_id)
    if not record.exists:
        if _queued_creation(session, department_id, dataset_hex):
            return department_id
        raise ResourceNotFoundError(f"no dataset {dataset_hex}")
    if record.owner != department_id:
        raise ForbiddenError(f"dataset {dataset_hex} belongs to another department")
    if record.withdrawn:
        raise ConflictError(
            {"datasetId": dataset_hex}, message=f"dataset {dataset_hex} is withdrawn"
        )
    return department_id


def _queued_creation(session: Session, department_id: int, dataset_hex: str) -> bool:
    ops = session.exec(
        select(Operation).where(
            Operation.kind == "datasets.create",
            Operation.department_id == department_id,
            col(Operation.status).in_([OperationStatus.PENDING, OperationStatus.SUBMITTED]),
        )
    ).all()
    return any(op.result_data().get("dataset_id") == dataset_hex for op in ops)
