"""Who held access to a dataset at a given time (no HTTP): a grant is in force from the block
that approved it until its expiry (exclusive, as the contract's ``hasAccess`` counts it), or
until the block that revoked or superseded it; requests never approved are never grants; any
reader of the dataset may ask, the anonymous one too, and no answer carries a purpose."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from ledger.errors import InvalidInputError, ResourceNotFoundError
from ledger.runtime import Runtime
from ledger.service import access, access_reads
from ledger.service.access_reads import (
    FIRST_DATED,
    LAST_DATED,
    MAX_INSTANT,
    MIN_INSTANT,
    GrantsAt,
)
from ledger.service.principal import ANONYMOUS, Principal
from ledger.service.queued import Queued
from tests.ledger.service.conftest import (
    AUDITOR,
    DAY,
    DEPT_A,
    DEPT_B,
    act,
    ask,
    department,
)

HOUR = 3600


def grants(
    runtime: Runtime, dataset: str, at: int | None = None, who: Principal = ANONYMOUS
) -> list[dict[str, Any]]:
    answer = ask(runtime, who, access_reads.grants_at, GrantsAt(dataset, at))
    return list(answer["grants"])


def approve(runtime: Runtime, relay: Callable[[], None], request: str, seconds: int) -> None:
    """A approves ``request`` until ``seconds`` after the latest block, mined and indexed."""
    expires = runtime.chain.block_time() + seconds
    command = access.ApproveAccess(request_id=bytes.fromhex(request[2:]), expires_at=expires)
    act(runtime, department(DEPT_A), access.approve_access, command)
    settle(runtime, relay)


def settle(runtime: Runtime, relay: Callable[[], None]) -> None:
    relay()
    runtime.indexer.sync()


def request_again(runtime: Runtime, relay: Callable[[], None], dataset: str) -> str:
    """Another request of B's for ``dataset``, mined and indexed."""
    command = access.RequestAccess(
        dataset_id=bytes.fromhex(dataset[2:]), purpose="a second look", duration_seconds=DAY
    )
    queued: Queued = act(runtime, department(DEPT_B), access.request_access, command)
    settle(runtime, relay)
    return str(queued.resource["request_id"])


def test_a_grant_is_in_force_from_its_approval_until_the_second_it_expires_as_on_chain(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    dataset, request = ledger_state["dataset"], ledger_state["request"]
    approve(runtime, relay, request, HOUR)

    [grant] = grants(runtime, dataset)
    assert grant["request_id"] == request
    assert grant["requester"] == {"department_id": DEPT_B, "name": "Transport"}
    assert grant["ended"] is None
    approved, expires = grant["approved_at"], grant["expires_at"]
    assert grant["approved"]["block_time"] == approved and grant["approved"]["tx_hash"]
    block = runtime.chain.w3.eth.get_block(grant["approved"]["block_number"])
    assert block["hash"].to_0x_hex() == grant["approved"]["block_hash"]

    assert grants(runtime, dataset, approved - 1) == []  # before the approval
    assert grants(runtime, dataset, approved) == [grant]
    assert grants(runtime, dataset, expires - 1) == [grant]
    assert grants(runtime, dataset, expires) == []  # expired at its expiresAt

    # The default time is the chain's: the contract agrees block by block.
    question = access_reads.AccessQuestion(dataset, DEPT_B)
    runtime.chain.advance_time(expires - 1 - runtime.chain.block_time())
    assert ask(runtime, AUDITOR, access_reads.has_access, question)["has_access"] is True
    assert grants(runtime, dataset) == [grant]
    runtime.chain.advance_time(1)
    assert ask(runtime, AUDITOR, access_reads.has_access, question)["has_access"] is False
    assert grants(runtime, dataset) == []


def test_a_revoked_grant_was_in_force_until_the_block_that_revoked_it(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    dataset, request = ledger_state["dataset"], ledger_state["request"]
    approve(runtime, relay, request, DAY)
    runtime.chain.advance_time(HOUR)
    command = access.RevokeGrant(request_id=bytes.fromhex(request[2:]), reason="project over")
    act(runtime, department(DEPT_A), access.revoke_grant, command)
    settle(runtime, relay)

    assert grants(runtime, dataset) == []  # now
    [earlier] = grants(runtime, dataset, runtime.chain.block_time() - HOUR)
    ended = earlier["ended"]
    assert ended["how"] == "revoked" and ended["superseded_by"] is None
    assert earlier["approved_at"] < ended["at"] == ended["chain"]["block_time"]
    assert ended["chain"]["tx_hash"] != earlier["approved"]["tx_hash"]
    assert grants(runtime, dataset, ended["at"] - 1) == [earlier]  # between the two
    assert grants(runtime, dataset, ended["at"]) == []  # revoked at that second
    assert grants(runtime, dataset, earlier["approved_at"] - 1) == []  # before the approval


def test_a_newer_approval_for_the_same_department_supersedes_the_grant(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    dataset = ledger_state["dataset"]
    approve(runtime, relay, ledger_state["request"], DAY)
    runtime.chain.advance_time(HOUR)
    second = request_again(runtime, relay, dataset)
    approve(runtime, relay, second, DAY)

    [now] = grants(runtime, dataset)
    assert now["request_id"] == second and now["ended"] is None
    [before] = grants(runtime, dataset, now["approved_at"] - 1)
    assert before["request_id"] == ledger_state["request"]
    assert before["ended"]["how"] == "superseded" and before["ended"]["superseded_by"] == second
    assert before["ended"]["at"] == now["approved_at"]


def test_requests_never_approved_are_never_grants(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    dataset, pending = ledger_state["dataset"], ledger_state["request"]
    assert grants(runtime, dataset) == []  # pending
    deny = access.DenyAccess(request_id=bytes.fromhex(pending[2:]), reason="not now")
    act(runtime, department(DEPT_A), access.deny_access, deny)
    cancelled = request_again(runtime, relay, dataset)
    cancel = access.CancelRequest(request_id=bytes.fromhex(cancelled[2:]))
    act(runtime, department(DEPT_B), access.cancel_request, cancel)
    settle(runtime, relay)

    far = runtime.chain.block_time() + 7 * DAY
    for at in (None, runtime.chain.block_time(), far):
        assert grants(runtime, dataset, at, who=AUDITOR) == []


def test_anyone_who_may_read_the_dataset_sees_its_grants_and_no_one_a_purpose(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    dataset = ledger_state["dataset"]  # confidential, on chain
    approve(runtime, relay, ledger_state["request"], DAY)
    answers = [
        ask(runtime, who, access_reads.grants_at, GrantsAt(dataset))
        for who in (ANONYMOUS, department(99), department(DEPT_A), AUDITOR)
    ]
    assert all(answer == answers[0] for answer in answers)
    assert len(answers[0]["grants"]) == 1
    assert answers[0]["indexed_block"] == runtime.indexer.last_indexed_block()
    assert "capacity planning" not in json.dumps(answers[0])
    assert "purpose" not in json.dumps(answers[0])

    batched = ledger_state["batched"]  # need-to-know: as if it did not exist
    for outsider in (ANONYMOUS, department(DEPT_B)):
        with pytest.raises(ResourceNotFoundError):
            grants(runtime, batched, who=outsider)
    assert grants(runtime, batched, who=department(DEPT_A)) == []
    with pytest.raises(ResourceNotFoundError):
        grants(runtime, "0x" + os.urandom(32).hex())


@pytest.mark.parametrize("at", [MIN_INSTANT - 1, MAX_INSTANT + 1, 2**63])
def test_a_time_outside_the_years_1_to_9999_is_refused(
    runtime: Runtime, ledger_state: dict[str, Any], at: int
) -> None:
    with pytest.raises(InvalidInputError, match="years 1 to 9999"):
        grants(runtime, ledger_state["dataset"], at)


def test_any_time_a_date_names_is_answered_before_the_chain_began_too(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    dataset = ledger_state["dataset"]
    for at, utc in (
        (MIN_INSTANT, None),  # a day before the first dated second
        (FIRST_DATED, "0001-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (LAST_DATED, "9999-12-31T23:59:59Z"),
        (MAX_INSTANT, None),
    ):
        answer = ask(runtime, ANONYMOUS, access_reads.grants_at, GrantsAt(dataset, at))
        assert (answer["as_of"], answer["as_of_utc"], answer["grants"]) == (at, utc, [])
