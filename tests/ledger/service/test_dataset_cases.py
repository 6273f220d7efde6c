"""The rules of chain-anchored datasets, as the use cases enforce them (no HTTP)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from eth_account import Account
from sqlmodel import Session

from ledger.chain.types import VersionRef
from ledger.errors import (
    ConflictError,
    ForbiddenError,
    InvalidSignatureError,
    ResourceNotFoundError,
)
from ledger.relayer import OperationStatus
from ledger.relayer.actions import ClientSignature
from ledger.runtime import Runtime
from ledger.service import datasets as cases
from ledger.service.documents import MetadataDocument
from tests.ledger.service.conftest import AUDITOR, DEPT_A, DEPT_B, GOVERNANCE, department


def new(**overrides: object) -> cases.NewDataset:
    fields: dict[str, object] = {"content_hash": os.urandom(32), "metadata": {"title": "Beds"}}
    return cases.NewDataset(**(fields | overrides))  # type: ignore[arg-type]


def register(runtime: Runtime, command: cases.NewDataset, who: int = DEPT_A) -> cases.Queued:
    with Session(runtime.engine, expire_on_commit=False) as session:
        queued = cases.register_dataset(session, runtime, department(who), command)
        session.commit()
    return queued


def test_registering_queues_one_signed_creation_and_keeps_the_metadata_behind_its_hash(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    content = os.urandom(32)
    queued = register(runtime, new(content_hash=content, classification="restricted"))

    assert queued.operation.status == OperationStatus.PENDING
    assert queued.operation.function == "createDatasetBySig" and queued.operation.custodial
    assert queued.resource["version"] == 1
    assert queued.resource["content_hash"] == "0x" + content.hex()
    with Session(runtime.engine) as session:
        document = session.get(MetadataDocument, queued.resource["metadata_hash"])
    assert document is not None and '"classification":"restricted"' in document.canonical_json
    relay()
    record = runtime.ledger.datasets.dataset(bytes.fromhex(queued.resource["dataset_id"][2:]))
    assert record.owner == DEPT_A and record.classification.name == "RESTRICTED"


def test_registering_bytes_registered_before_names_the_earlier_registrations(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    content = os.urandom(32)
    first = register(runtime, new(content_hash=content))
    assert first.resource["registered_before"] == []
    relay()
    runtime.indexer.sync()

    again = register(runtime, new(content_hash=content), who=DEPT_B)  # allowed, but said
    assert again.resource["registered_before"] == [
        {"dataset_id": first.resource["dataset_id"], "version": 1, "department_id": DEPT_A}
    ]
    assert register(runtime, new()).resource["registered_before"] == []


def test_the_dataset_id_follows_from_the_department_and_its_salt(runtime: Runtime) -> None:
    salt = os.urandom(32)
    queued = register(runtime, new(salt=salt))
    expected = runtime.ledger.datasets.dataset_id_of(DEPT_A, salt)
    assert queued.resource["dataset_id"] == "0x" + expected.hex()
    assert queued.resource["salt"] == "0x" + salt.hex()


def test_a_dataset_registered_or_queued_already_is_a_conflict(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    salt = os.urandom(32)
    register(runtime, new(salt=salt))
    with pytest.raises(ConflictError, match="exists already"):
        register(runtime, new(salt=salt))  # queued, not yet on chain
    relay()
    with pytest.raises(ConflictError, match="exists already"):
        register(runtime, new(salt=salt))  # on chain


def test_only_a_department_registers(runtime: Runtime) -> None:
    for principal in (AUDITOR, GOVERNANCE):
        with Session(runtime.engine) as session, pytest.raises(ForbiddenError):
            cases.register_dataset(session, runtime, principal, new())


def test_a_parent_must_exist_on_chain(runtime: Runtime) -> None:
    missing = VersionRef(os.urandom(32), 1)
    with pytest.raises(ResourceNotFoundError, match="parent version 1"):
        register(runtime, new(parents=(missing,)))


def test_a_signature_by_another_key_is_refused_before_anything_is_queued(
    runtime: Runtime,
) -> None:
    stranger = Account.create()
    forged = ClientSignature(
        nonce=0, deadline=2**40, signature=stranger.unsafe_sign_hash(os.urandom(32)).signature
    )
    with pytest.raises(InvalidSignatureError):
        register(runtime, new(signature=forged))


def test_versions_are_appended_by_the_owner_only(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    queued = register(runtime, new())
    dataset_id = bytes.fromhex(queued.resource["dataset_id"][2:])
    append = cases.AppendVersion(dataset_id=dataset_id, content_hash=os.urandom(32))
    with Session(runtime.engine) as session:
        # Queued and not yet on chain: its owner may already append.
        cases.append_version(session, runtime, department(DEPT_A), append)
        session.commit()
    relay()
    with Session(runtime.engine) as session, pytest.raises(ForbiddenError, match="another"):
        cases.append_version(session, runtime, department(DEPT_B), append)
    assert runtime.ledger.datasets.dataset(dataset_id).version_count == 2


def test_nothing_is_appended_to_a_dataset_that_does_not_exist_or_is_withdrawn(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    nowhere = cases.AppendVersion(dataset_id=os.urandom(32), content_hash=os.urandom(32))
    with Session(runtime.engine) as session, pytest.raises(ResourceNotFoundError):
        cases.append_version(session, runtime, department(DEPT_A), nowhere)
    queued = register(runtime, new())
    dataset_id = bytes.fromhex(queued.resource["dataset_id"][2:])
    with Session(runtime.engine) as session:
        withdrawal = cases.WithdrawDataset(dataset_id=dataset_id, reason="superseded")
        cases.withdraw_dataset(session, runtime, department(DEPT_A), withdrawal)
        session.commit()
    relay()
    append = cases.AppendVersion(dataset_id=dataset_id, content_hash=os.urandom(32))
    with Session(runtime.engine) as session, pytest.raises(ConflictError, match="withdrawn"):
        cases.append_version(session, runtime, department(DEPT_A), append)
