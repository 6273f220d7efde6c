"""The rules of access between departments, as the use cases enforce them (no HTTP)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from sqlmodel import Session

from ledger.errors import ConflictError, ForbiddenError, InvalidInputError, ResourceNotFoundError
from ledger.runtime import Runtime
from ledger.service import access as cases
from ledger.service import batched, datasets
from ledger.service.queued import Queued
from tests.ledger.service.conftest import DEPT_A, DEPT_B, department

DAY = 24 * 3600


def run(runtime: Runtime, who: int, case: Callable[..., Queued], command: object) -> Queued:
    with Session(runtime.engine, expire_on_commit=False) as session:
        queued = case(session, runtime, department(who), command)
        session.commit()
    return queued


@pytest.fixture
def dataset_of_a(runtime: Runtime, relay: Callable[[], None]) -> bytes:
    command = datasets.NewDataset(content_hash=os.urandom(32), metadata={"title": "Beds"})
    queued = run(runtime, DEPT_A, datasets.register_dataset, command)
    relay()
    return bytes.fromhex(queued.resource["dataset_id"][2:])


@pytest.fixture
def pending_request(runtime: Runtime, relay: Callable[[], None], dataset_of_a: bytes) -> bytes:
    command = cases.RequestAccess(dataset_id=dataset_of_a, purpose="audit", duration_seconds=DAY)
    queued = run(runtime, DEPT_B, cases.request_access, command)
    relay()
    return bytes.fromhex(queued.resource["request_id"][2:])


def test_a_request_is_queued_with_its_purpose_committed_by_hash(
    runtime: Runtime, dataset_of_a: bytes
) -> None:
    salt = os.urandom(32)
    command = cases.RequestAccess(
        dataset_id=dataset_of_a, purpose="audit", duration_seconds=DAY, salt=salt
    )
    queued = run(runtime, DEPT_B, cases.request_access, command)
    assert queued.operation.function == "requestAccessBySig"
    expected = runtime.ledger.access.request_id_of(DEPT_B, salt)
    assert queued.resource["request_id"] == "0x" + expected.hex()
    assert queued.resource["purpose_hash"] != "0x" + "00" * 32


def test_nobody_asks_for_its_own_dataset_or_one_that_does_not_exist(
    runtime: Runtime, dataset_of_a: bytes
) -> None:
    own = cases.RequestAccess(dataset_id=dataset_of_a, purpose="", duration_seconds=DAY)
    with pytest.raises(InvalidInputError, match="its own datasets"):
        run(runtime, DEPT_A, cases.request_access, own)
    nowhere = cases.RequestAccess(dataset_id=os.urandom(32), purpose="", duration_seconds=DAY)
    with pytest.raises(ResourceNotFoundError):
        run(runtime, DEPT_B, cases.request_access, nowhere)


def test_a_batched_dataset_is_named_as_such_to_whoever_may_see_it_and_to_nobody_else(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    def batched_dataset(classification: str) -> bytes:
        entry = batched.BatchedEntry(
            content_hash=os.urandom(32), metadata={"title": "t"}, classification=classification
        )
        queued = run(runtime, DEPT_A, batched.register_one, entry)
        return bytes.fromhex(queued.results[0]["dataset_id"][2:])

    internal, confidential = batched_dataset("internal"), batched_dataset("confidential")
    runtime.batcher.flush(DEPT_A)
    relay()
    runtime.indexer.sync()

    visible = cases.RequestAccess(dataset_id=internal, purpose="", duration_seconds=DAY)
    with pytest.raises(
        InvalidInputError, match=r"is a batched record .* need a dataset registered"
    ):
        run(runtime, DEPT_B, cases.request_access, visible)
    hidden = cases.RequestAccess(dataset_id=confidential, purpose="", duration_seconds=DAY)
    with pytest.raises(ResourceNotFoundError, match=r"^no dataset 0x"):
        run(runtime, DEPT_B, cases.request_access, hidden)  # its existence is need-to-know


def test_only_the_owner_approves_and_only_within_the_requested_duration(
    runtime: Runtime, pending_request: bytes
) -> None:
    now = runtime.chain.block_time()
    in_time = cases.ApproveAccess(request_id=pending_request, expires_at=now + DAY // 2)
    with pytest.raises(ForbiddenError, match="owner"):
        run(runtime, DEPT_B, cases.approve_access, in_time)
    too_long = cases.ApproveAccess(request_id=pending_request, expires_at=now + 2 * DAY)
    with pytest.raises(InvalidInputError, match="beyond the requested duration"):
        run(runtime, DEPT_A, cases.approve_access, too_long)
    past = cases.ApproveAccess(request_id=pending_request, expires_at=now - 1)
    with pytest.raises(InvalidInputError, match="not after the chain's time"):
        run(runtime, DEPT_A, cases.approve_access, past)
    assert run(runtime, DEPT_A, cases.approve_access, in_time).operation.kind == "access.approve"


def test_only_the_requester_cancels_and_only_a_pending_request(
    runtime: Runtime, relay: Callable[[], None], pending_request: bytes
) -> None:
    cancel = cases.CancelRequest(request_id=pending_request)
    with pytest.raises(ForbiddenError, match="requester"):
        run(runtime, DEPT_A, cases.cancel_request, cancel)
    run(runtime, DEPT_B, cases.cancel_request, cancel)
    relay()
    with pytest.raises(ConflictError, match="is cancelled, expected pending"):
        run(runtime, DEPT_B, cases.cancel_request, cancel)


def test_only_an_approved_grant_is_revoked(
    runtime: Runtime, relay: Callable[[], None], pending_request: bytes
) -> None:
    revoke = cases.RevokeGrant(request_id=pending_request, reason="no longer needed")
    with pytest.raises(ConflictError, match="expected approved"):
        run(runtime, DEPT_A, cases.revoke_grant, revoke)
    expires = runtime.chain.block_time() + DAY // 2
    run(
        runtime,
        DEPT_A,
        cases.approve_access,
        cases.ApproveAccess(request_id=pending_request, expires_at=expires),
    )
    relay()
    assert run(runtime, DEPT_A, cases.revoke_grant, revoke).operation.kind == "access.revoke"


def test_an_unknown_request_is_not_found(runtime: Runtime) -> None:
    with pytest.raises(ResourceNotFoundError):
        run(runtime, DEPT_A, cases.deny_access, cases.DenyAccess(request_id=os.urandom(32)))
