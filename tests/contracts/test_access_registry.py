"""Specification of AccessRegistry: request -> approve / deny -> expiry -> revoke, or cancel.

Expectations come from ``contracts/interfaces/IAccessRegistry.sol``. ``hasAccess`` is evaluated
at the block time of the block it is called at, so time is moved with ``chain.advance_time``
and past blocks are queried with ``has_access(..., block=N)``.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.chain.backend import Chain, Receipt
from ledger.chain.clients import AccessRegistryClient, DatasetRegistryClient
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, Event, NewVersion, RequestStatus
from ledger.errors import (
    AccessInvalidDurationError,
    AccessInvalidExpiryError,
    AccessInvalidStatusError,
    AccessNotDatasetOwnerError,
    AccessNotRequesterError,
    AccessOwnDatasetError,
    AccessRequestExistsError,
    AccessUnknownRequestError,
    DatasetIsWithdrawnError,
    DatasetUnknownError,
    DepartmentInactiveError,
    DepartmentUnknownSignerError,
    EnforcedPauseError,
)

# --- shared helpers ------------------------------------------------------------------------

DEPT_A = 1
DEPT_B = 2
DEPT_C = 3

DAY = 86_400
MAX_DURATION = 3650 * DAY


def digest(label: str) -> bytes:
    """A distinct 32-byte stand-in for a SHA-256 digest."""
    return keccak(text=label)


def hex32(value: bytes) -> str:
    """How decoded revert arguments spell a bytes32."""
    return "0x" + bytes(value).hex()


def events_named(ledger: Ledger, receipt: Receipt, name: str) -> list[Event]:
    return [e for e in ledger.access.decode_events(receipt.logs) if e.name == name]


def create_dataset(ledger: Ledger, owner: LocalAccount, department_id: int, label: str) -> bytes:
    ledger.datasets.create_dataset(
        digest(label),
        Classification.RESTRICTED,
        digest(f"{label}/meta"),
        NewVersion(digest(label)),
        sender=owner,
    )
    return DatasetRegistryClient.dataset_id_of(department_id, digest(label))


def request(
    ledger: Ledger,
    requester: LocalAccount,
    department_id: int,
    dataset_id: bytes,
    label: str,
    duration: int = 30 * DAY,
) -> bytes:
    """Ask for access directly with salt ``label``; the request id."""
    ledger.access.request_access(
        digest(label), dataset_id, digest(f"{label}/purpose"), duration, sender=requester
    )
    return AccessRegistryClient.request_id_of(department_id, digest(label))


def advance_to(chain: Chain, timestamp: int) -> None:
    """Mine a block whose time is exactly ``timestamp``."""
    chain.advance_time(timestamp - chain.block_time())
    assert chain.block_time() == timestamp


@pytest.fixture
def dataset_a(ledger: Ledger, actors: Any) -> bytes:
    """A dataset owned by department A."""
    return create_dataset(ledger, actors.dept_a, DEPT_A, "dataset-a")


@pytest.fixture
def pending(ledger: Ledger, actors: Any, dataset_a: bytes) -> bytes:
    """Department B's pending request for A's dataset."""
    return request(ledger, actors.dept_b, DEPT_B, dataset_a, "b-asks")


@pytest.fixture
def approved(ledger: Ledger, actors: Any, pending: bytes) -> bytes:
    """B's request, approved by A for a day."""
    ledger.access.approve_access(pending, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    return pending


# --- requesting ------------------------------------------------------------------------------


def test_request_access_records_a_pending_request_and_emits_access_requested(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    salt = digest("b-asks")

    receipt = ledger.access.request_access(
        salt, dataset_a, digest("purpose"), 7 * DAY, sender=actors.dept_b
    )

    request_id = AccessRegistryClient.request_id_of(DEPT_B, salt)
    assert bytes(ledger.access.contract.functions.requestIdOf(DEPT_B, salt).call()) == request_id
    assert request_id == keccak(abi_encode(["uint64", "bytes32"], [DEPT_B, salt]))
    record = ledger.access.access_request(request_id)
    assert (record.dataset_id, record.requester, record.status) == (
        dataset_a,
        DEPT_B,
        RequestStatus.PENDING,
    )
    assert (record.requested_duration, record.expires_at) == (7 * DAY, 0)
    (requested,) = events_named(ledger, receipt, "AccessRequested")
    assert requested.args == {
        "requestId": request_id,
        "datasetId": dataset_a,
        "requester": DEPT_B,
        "salt": salt,
        "purposeHash": digest("purpose"),
        "requestedDuration": 7 * DAY,
    }


def test_request_access_by_signature_is_made_for_the_signing_department(
    ledger: Ledger, actors: Any, dataset_a: bytes, deadline: int
) -> None:
    salt = digest("relayed ask")
    auth = ledger.access.sign_request_access(
        salt,
        dataset_a,
        digest("purpose"),
        DAY,
        signer=actors.dept_c,
        department_id=DEPT_C,
        deadline=deadline,
    )

    receipt = ledger.access.request_access_by_sig(
        salt, dataset_a, digest("purpose"), DAY, auth=auth, sender=actors.relayer
    )

    request_id = AccessRegistryClient.request_id_of(DEPT_C, salt)
    record = ledger.access.access_request(request_id)
    assert (record.requester, record.status) == (DEPT_C, RequestStatus.PENDING)
    assert events_named(ledger, receipt, "AccessRequested")[0].args["requester"] == DEPT_C
    assert ledger.access.has_access(dataset_a, DEPT_C) is False


def test_an_unknown_request_reads_as_status_none(ledger: Ledger) -> None:
    record = ledger.access.access_request(digest("never asked"))

    assert (record.status, record.requester, record.expires_at) == (RequestStatus.NONE, 0, 0)


def test_a_ten_year_request_is_the_longest_accepted(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    assert ledger.access.contract.functions.MAX_DURATION().call() == MAX_DURATION

    request_id = request(
        ledger, actors.dept_b, DEPT_B, dataset_a, "ten years", duration=MAX_DURATION
    )

    assert ledger.access.access_request(request_id).requested_duration == MAX_DURATION


# --- the lifecycle ----------------------------------------------------------------------------


def test_has_access_is_false_while_the_request_is_pending(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    assert ledger.access.has_access(dataset_a, DEPT_B) is False


def test_approval_grants_access_until_the_expiry_exclusive(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    expires_at = ledger.chain.block_time() + 1000

    receipt = ledger.access.approve_access(pending, expires_at, sender=actors.dept_a)

    (approved,) = events_named(ledger, receipt, "AccessApproved")
    assert approved.args == {
        "requestId": pending,
        "datasetId": dataset_a,
        "requester": DEPT_B,
        "expiresAt": expires_at,
    }
    record = ledger.access.access_request(pending)
    assert (record.status, record.expires_at) == (RequestStatus.APPROVED, expires_at)
    assert ledger.access.has_access(dataset_a, DEPT_B) is True
    advance_to(ledger.chain, expires_at - 1)
    assert ledger.access.has_access(dataset_a, DEPT_B) is True
    advance_to(ledger.chain, expires_at)
    assert ledger.access.has_access(dataset_a, DEPT_B) is False
    # Expiry does not change the stored status: the grant simply lapses.
    assert ledger.access.access_request(pending).status is RequestStatus.APPROVED


def test_approval_by_signature_grants_access(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes, deadline: int
) -> None:
    expires_at = ledger.chain.block_time() + DAY
    auth = ledger.access.sign_approve_access(
        pending, expires_at, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )

    ledger.access.approve_access_by_sig(pending, expires_at, auth=auth, sender=actors.relayer)

    assert ledger.access.access_request(pending).status is RequestStatus.APPROVED
    assert ledger.access.has_access(dataset_a, DEPT_B) is True


def test_a_grant_is_for_the_requester_and_the_dataset_only(
    ledger: Ledger, actors: Any, dataset_a: bytes, approved: bytes
) -> None:
    other = create_dataset(ledger, actors.dept_a, DEPT_A, "other dataset of a")

    assert ledger.access.has_access(dataset_a, DEPT_B) is True
    assert ledger.access.has_access(dataset_a, DEPT_C) is False
    assert ledger.access.has_access(other, DEPT_B) is False


def test_denial_records_the_answer_and_grants_nothing(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    receipt = ledger.access.deny_access(pending, digest("not needed"), sender=actors.dept_a)

    (denied,) = events_named(ledger, receipt, "AccessDenied")
    assert denied.args == {
        "requestId": pending,
        "datasetId": dataset_a,
        "requester": DEPT_B,
        "reasonHash": digest("not needed"),
    }
    assert ledger.access.access_request(pending).status is RequestStatus.DENIED
    assert ledger.access.has_access(dataset_a, DEPT_B) is False


def test_denial_by_signature(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes, deadline: int
) -> None:
    auth = ledger.access.sign_deny_access(
        pending, digest("no"), signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )

    ledger.access.deny_access_by_sig(pending, digest("no"), auth=auth, sender=actors.relayer)

    assert ledger.access.access_request(pending).status is RequestStatus.DENIED


def test_the_requester_may_cancel_its_pending_request(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    receipt = ledger.access.cancel_access_request(pending, sender=actors.dept_b)

    (cancelled,) = events_named(ledger, receipt, "AccessRequestCancelled")
    assert cancelled.args == {"requestId": pending, "datasetId": dataset_a, "requester": DEPT_B}
    assert ledger.access.access_request(pending).status is RequestStatus.CANCELLED
    with pytest.raises(AccessInvalidStatusError) as info:
        ledger.access.approve_access(pending, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    assert "cancelled" in str(info.value)


def test_cancellation_by_signature(
    ledger: Ledger, actors: Any, pending: bytes, deadline: int
) -> None:
    auth = ledger.access.sign_cancel_access_request(
        pending, signer=actors.dept_b, department_id=DEPT_B, deadline=deadline
    )

    ledger.access.cancel_access_request_by_sig(pending, auth=auth, sender=actors.relayer)

    assert ledger.access.access_request(pending).status is RequestStatus.CANCELLED


def test_revocation_ends_access_before_expiry(
    ledger: Ledger, actors: Any, dataset_a: bytes, approved: bytes
) -> None:
    assert ledger.access.has_access(dataset_a, DEPT_B) is True

    receipt = ledger.access.revoke_access(approved, digest("misuse"), sender=actors.dept_a)

    (revoked,) = events_named(ledger, receipt, "AccessRevoked")
    assert revoked.args == {
        "requestId": approved,
        "datasetId": dataset_a,
        "requester": DEPT_B,
        "reasonHash": digest("misuse"),
    }
    assert ledger.access.access_request(approved).status is RequestStatus.REVOKED
    assert ledger.access.has_access(dataset_a, DEPT_B) is False


def test_revocation_by_signature(
    ledger: Ledger, actors: Any, dataset_a: bytes, approved: bytes, deadline: int
) -> None:
    auth = ledger.access.sign_revoke_access(
        approved, digest("misuse"), signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )

    ledger.access.revoke_access_by_sig(approved, digest("misuse"), auth=auth, sender=actors.relayer)

    assert ledger.access.access_request(approved).status is RequestStatus.REVOKED
    assert ledger.access.has_access(dataset_a, DEPT_B) is False


def test_an_expired_grant_can_still_be_revoked(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    expires_at = ledger.chain.block_time() + 100
    ledger.access.approve_access(pending, expires_at, sender=actors.dept_a)
    advance_to(ledger.chain, expires_at + 10)

    ledger.access.revoke_access(pending, sender=actors.dept_a)

    assert ledger.access.access_request(pending).status is RequestStatus.REVOKED
    assert ledger.access.has_access(dataset_a, DEPT_B) is False


def test_a_newer_approval_supersedes_the_live_grant_and_sets_the_terms(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    now = ledger.chain.block_time()
    long_grant = request(ledger, actors.dept_b, DEPT_B, dataset_a, "long")
    ledger.access.approve_access(long_grant, now + 10 * DAY, sender=actors.dept_a)
    short_grant = request(ledger, actors.dept_b, DEPT_B, dataset_a, "short")
    receipt = ledger.access.approve_access(short_grant, now + DAY, sender=actors.dept_a)

    superseded = [
        e for e in ledger.access.decode_events(receipt.logs) if e.name == "AccessSuperseded"
    ]
    assert [(e.args["requestId"], e.args["supersededBy"]) for e in superseded] == [
        (long_grant, short_grant)
    ]
    # No stored status overstates access: the long grant no longer reads as approved.
    assert ledger.access.access_request(long_grant).status is RequestStatus.SUPERSEDED
    assert ledger.access.has_access(dataset_a, DEPT_B) is True
    advance_to(ledger.chain, now + DAY)
    assert ledger.access.has_access(dataset_a, DEPT_B) is False


def test_a_superseded_grant_can_no_longer_be_revoked_and_the_newer_one_stays(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    now = ledger.chain.block_time()
    older = request(ledger, actors.dept_b, DEPT_B, dataset_a, "older")
    ledger.access.approve_access(older, now + DAY, sender=actors.dept_a)
    newer = request(ledger, actors.dept_b, DEPT_B, dataset_a, "newer")
    ledger.access.approve_access(newer, now + 2 * DAY, sender=actors.dept_a)

    with pytest.raises(AccessInvalidStatusError, match="is superseded"):
        ledger.access.revoke_access(older, sender=actors.dept_a)

    assert ledger.access.has_access(dataset_a, DEPT_B) is True
    ledger.access.revoke_access(newer, sender=actors.dept_a)
    assert ledger.access.has_access(dataset_a, DEPT_B) is False


def test_an_expired_grant_is_superseded_too_when_a_new_one_is_approved(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    first = request(ledger, actors.dept_b, DEPT_B, dataset_a, "first")
    ledger.access.approve_access(first, ledger.chain.block_time() + 100, sender=actors.dept_a)
    ledger.chain.advance_time(200)
    second = request(ledger, actors.dept_b, DEPT_B, dataset_a, "second")
    ledger.access.approve_access(second, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    assert ledger.access.access_request(first).status is RequestStatus.SUPERSEDED
    assert ledger.access.has_access(dataset_a, DEPT_B) is True


def test_an_owner_may_grant_less_than_was_asked_but_never_more(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    asked = request(ledger, actors.dept_b, DEPT_B, dataset_a, "a week", duration=7 * DAY)
    too_long = ledger.chain.block_time() + 30 * DAY

    with pytest.raises(AccessInvalidExpiryError) as info:
        ledger.access.approve_access(asked, too_long, sender=actors.dept_a)

    latest = info.value.args_by_name["latest"]
    assert latest == info.value.args_by_name["blockTime"] + 7 * DAY
    assert info.value.args_by_name["expiresAt"] == too_long
    assert ledger.access.access_request(asked).status is RequestStatus.PENDING
    ledger.access.approve_access(asked, ledger.chain.block_time() + 3 * DAY, sender=actors.dept_a)
    assert ledger.access.access_request(asked).status is RequestStatus.APPROVED


def test_access_to_a_withdrawn_dataset_cannot_be_approved(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)

    with pytest.raises(DatasetIsWithdrawnError):
        ledger.access.approve_access(pending, ledger.chain.block_time() + DAY, sender=actors.dept_a)

    assert ledger.access.access_request(pending).status is RequestStatus.PENDING
    ledger.access.deny_access(pending, sender=actors.dept_a)
    assert ledger.access.access_request(pending).status is RequestStatus.DENIED


# --- who has access -------------------------------------------------------------------------


def test_the_owner_always_has_access_to_its_own_dataset(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    assert ledger.access.has_access(dataset_a, DEPT_A) is True
    assert ledger.access.has_access(dataset_a, DEPT_B) is False
    advance_to(ledger.chain, ledger.chain.block_time() + MAX_DURATION + DAY)
    assert ledger.access.has_access(dataset_a, DEPT_A) is True


def test_nobody_has_access_to_an_unknown_dataset(ledger: Ledger) -> None:
    assert ledger.access.has_access(digest("no such dataset"), DEPT_A) is False


def test_a_suspended_department_has_no_access_until_reactivated(
    ledger: Ledger, actors: Any, dataset_a: bytes, approved: bytes
) -> None:
    ledger.departments.suspend_department(DEPT_B, sender=actors.governance)
    ledger.departments.suspend_department(DEPT_A, sender=actors.governance)

    assert ledger.access.has_access(dataset_a, DEPT_B) is False
    assert ledger.access.has_access(dataset_a, DEPT_A) is False

    ledger.departments.reactivate_department(DEPT_B, sender=actors.governance)
    assert ledger.access.has_access(dataset_a, DEPT_B) is True


def test_nobody_has_access_to_a_withdrawn_dataset(
    ledger: Ledger, actors: Any, dataset_a: bytes, approved: bytes
) -> None:
    ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)

    assert ledger.access.has_access(dataset_a, DEPT_B) is False
    assert ledger.access.has_access(dataset_a, DEPT_A) is False


def test_has_access_at_a_past_block_answers_for_that_block(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    chain = ledger.chain
    asked_at = chain.w3.eth.block_number
    approved_at = ledger.access.approve_access(
        pending, chain.block_time() + DAY, sender=actors.dept_a
    ).block_number
    revoked_at = ledger.access.revoke_access(pending, sender=actors.dept_a).block_number

    assert ledger.access.has_access(dataset_a, DEPT_B) is False
    assert ledger.access.has_access(dataset_a, DEPT_B, block=asked_at) is False
    assert ledger.access.has_access(dataset_a, DEPT_B, block=approved_at) is True
    assert ledger.access.has_access(dataset_a, DEPT_B, block=revoked_at - 1) is True
    assert ledger.access.has_access(dataset_a, DEPT_B, block=revoked_at) is False


# --- refusals: requesting -----------------------------------------------------------------


def test_a_department_cannot_request_access_to_its_own_dataset(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    with pytest.raises(AccessOwnDatasetError) as info:
        request(ledger, actors.dept_a, DEPT_A, dataset_a, "mine")

    assert info.value.args_by_name == {"datasetId": hex32(dataset_a)}


def test_access_to_an_unknown_dataset_cannot_be_requested(ledger: Ledger, actors: Any) -> None:
    unknown = digest("no such dataset")

    with pytest.raises(DatasetUnknownError) as info:
        request(ledger, actors.dept_b, DEPT_B, unknown, "ask")
    assert info.value.args_by_name == {"datasetId": hex32(unknown)}


def test_access_to_a_withdrawn_dataset_cannot_be_requested(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)

    with pytest.raises(DatasetIsWithdrawnError) as info:
        request(ledger, actors.dept_b, DEPT_B, dataset_a, "ask")
    assert info.value.args_by_name == {"datasetId": hex32(dataset_a)}


@pytest.mark.parametrize(
    "duration", [0, MAX_DURATION + 1, 2**64 - 1], ids=["zero", "ten-years-plus-1s", "max-u64"]
)
def test_a_duration_of_zero_or_above_ten_years_is_refused(
    ledger: Ledger, actors: Any, dataset_a: bytes, duration: int
) -> None:
    with pytest.raises(AccessInvalidDurationError) as info:
        request(ledger, actors.dept_b, DEPT_B, dataset_a, "ask", duration=duration)

    assert info.value.args_by_name == {"duration": duration}
    assert ledger.access.access_request(
        AccessRegistryClient.request_id_of(DEPT_B, digest("ask"))
    ).status is (RequestStatus.NONE)


def test_a_salt_cannot_be_reused_even_after_the_request_was_answered(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    with pytest.raises(AccessRequestExistsError) as info:
        request(ledger, actors.dept_b, DEPT_B, dataset_a, "b-asks")
    assert info.value.args_by_name == {"requestId": hex32(pending)}

    ledger.access.deny_access(pending, sender=actors.dept_a)
    with pytest.raises(AccessRequestExistsError):
        request(ledger, actors.dept_b, DEPT_B, dataset_a, "b-asks")
    assert ledger.access.access_request(pending).status is RequestStatus.DENIED


def test_the_same_salt_gives_each_department_its_own_request(
    ledger: Ledger, actors: Any, dataset_a: bytes, pending: bytes
) -> None:
    from_c = request(ledger, actors.dept_c, DEPT_C, dataset_a, "b-asks")

    assert from_c != pending
    assert ledger.access.access_request(from_c).requester == DEPT_C


def test_outsiders_suspended_departments_and_everyone_while_paused_cannot_request(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    with pytest.raises(DepartmentUnknownSignerError) as unknown:
        request(ledger, actors.outsider, 0, dataset_a, "outsider")
    assert unknown.value.args_by_name == {"account": actors.outsider.address}

    ledger.departments.suspend_department(DEPT_C, sender=actors.governance)
    with pytest.raises(DepartmentInactiveError) as inactive:
        request(ledger, actors.dept_c, DEPT_C, dataset_a, "suspended")
    assert inactive.value.args_by_name == {"departmentId": DEPT_C}

    ledger.departments.pause(sender=actors.governance)
    with pytest.raises(EnforcedPauseError):
        request(ledger, actors.dept_b, DEPT_B, dataset_a, "paused")


# --- refusals: answering ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["dept_b", "dept_c"], ids=["the-requester", "a-third-department"])
def test_only_the_dataset_owner_may_approve(
    ledger: Ledger, actors: Any, pending: bytes, who: str
) -> None:
    department_id = {"dept_b": DEPT_B, "dept_c": DEPT_C}[who]

    with pytest.raises(AccessNotDatasetOwnerError) as info:
        ledger.access.approve_access(
            pending, ledger.chain.block_time() + DAY, sender=getattr(actors, who)
        )

    assert info.value.args_by_name == {"requestId": hex32(pending), "departmentId": department_id}
    assert ledger.access.access_request(pending).status is RequestStatus.PENDING


def test_only_the_dataset_owner_may_approve_by_signature(
    ledger: Ledger, actors: Any, pending: bytes, deadline: int
) -> None:
    expires_at = ledger.chain.block_time() + DAY
    auth = ledger.access.sign_approve_access(
        pending, expires_at, signer=actors.dept_b, department_id=DEPT_B, deadline=deadline
    )

    with pytest.raises(AccessNotDatasetOwnerError) as info:
        ledger.access.approve_access_by_sig(pending, expires_at, auth=auth, sender=actors.relayer)
    assert info.value.args_by_name == {"requestId": hex32(pending), "departmentId": DEPT_B}


def test_only_the_dataset_owner_may_deny_or_revoke(
    ledger: Ledger, actors: Any, pending: bytes
) -> None:
    with pytest.raises(AccessNotDatasetOwnerError) as denied:
        ledger.access.deny_access(pending, sender=actors.dept_c)
    assert denied.value.args_by_name == {"requestId": hex32(pending), "departmentId": DEPT_C}

    ledger.access.approve_access(pending, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    with pytest.raises(AccessNotDatasetOwnerError) as revoked:
        ledger.access.revoke_access(pending, sender=actors.dept_b)
    assert revoked.value.args_by_name == {"requestId": hex32(pending), "departmentId": DEPT_B}
    assert ledger.access.access_request(pending).status is RequestStatus.APPROVED


@pytest.mark.parametrize("offset", [0, -100], ids=["now", "in-the-past"])
def test_an_expiry_that_is_not_in_the_future_is_refused(
    ledger: Ledger, actors: Any, pending: bytes, offset: int
) -> None:
    expires_at = ledger.chain.block_time() + offset

    with pytest.raises(AccessInvalidExpiryError) as info:
        ledger.access.approve_access(pending, expires_at, sender=actors.dept_a)

    assert info.value.args_by_name["expiresAt"] == expires_at
    assert info.value.args_by_name["blockTime"] >= expires_at
    assert ledger.access.access_request(pending).status is RequestStatus.PENDING


def _deny(ledger: Ledger, actors: Any, request_id: bytes) -> None:
    ledger.access.deny_access(request_id, sender=actors.dept_a)


def _approve(ledger: Ledger, actors: Any, request_id: bytes) -> None:
    ledger.access.approve_access(request_id, ledger.chain.block_time() + DAY, sender=actors.dept_a)


def _cancel(ledger: Ledger, actors: Any, request_id: bytes) -> None:
    ledger.access.cancel_access_request(request_id, sender=actors.dept_b)


def _revoke(ledger: Ledger, actors: Any, request_id: bytes) -> None:
    _approve(ledger, actors, request_id)
    ledger.access.revoke_access(request_id, sender=actors.dept_a)


_INTO_STATUS = {
    RequestStatus.APPROVED: _approve,
    RequestStatus.DENIED: _deny,
    RequestStatus.CANCELLED: _cancel,
    RequestStatus.REVOKED: _revoke,
}


@pytest.mark.parametrize("status", list(_INTO_STATUS), ids=lambda s: s.name.lower())
@pytest.mark.parametrize("answer", ["approve", "deny"])
def test_only_a_pending_request_can_be_approved_or_denied(
    ledger: Ledger, actors: Any, pending: bytes, status: RequestStatus, answer: str
) -> None:
    _INTO_STATUS[status](ledger, actors, pending)

    with pytest.raises(AccessInvalidStatusError) as info:
        if answer == "approve":
            ledger.access.approve_access(
                pending, ledger.chain.block_time() + DAY, sender=actors.dept_a
            )
        else:
            ledger.access.deny_access(pending, sender=actors.dept_a)

    assert info.value.args_by_name == {"requestId": hex32(pending), "status": int(status)}
    assert f"is {status.name.lower()}" in str(info.value)
    assert ledger.access.access_request(pending).status is status


@pytest.mark.parametrize(
    "status",
    [RequestStatus.PENDING, RequestStatus.DENIED, RequestStatus.CANCELLED, RequestStatus.REVOKED],
)
def test_only_an_approved_grant_can_be_revoked(
    ledger: Ledger, actors: Any, pending: bytes, status: RequestStatus
) -> None:
    if status is not RequestStatus.PENDING:
        _INTO_STATUS[status](ledger, actors, pending)

    with pytest.raises(AccessInvalidStatusError) as info:
        ledger.access.revoke_access(pending, sender=actors.dept_a)

    assert info.value.args_by_name == {"requestId": hex32(pending), "status": int(status)}
    assert f"is {status.name.lower()}" in str(info.value)


@pytest.mark.parametrize("who", ["dept_a", "dept_c"], ids=["the-owner", "a-third-department"])
def test_only_the_requester_may_cancel(
    ledger: Ledger, actors: Any, pending: bytes, who: str
) -> None:
    department_id = {"dept_a": DEPT_A, "dept_c": DEPT_C}[who]

    with pytest.raises(AccessNotRequesterError) as info:
        ledger.access.cancel_access_request(pending, sender=getattr(actors, who))

    assert info.value.args_by_name == {"requestId": hex32(pending), "departmentId": department_id}
    assert ledger.access.access_request(pending).status is RequestStatus.PENDING


def test_an_approved_request_cannot_be_cancelled(
    ledger: Ledger, actors: Any, approved: bytes
) -> None:
    with pytest.raises(AccessInvalidStatusError) as info:
        ledger.access.cancel_access_request(approved, sender=actors.dept_b)

    assert info.value.args_by_name["status"] == int(RequestStatus.APPROVED)
    assert "approved" in str(info.value)


@pytest.mark.parametrize("action", ["approve", "deny", "cancel", "revoke"])
def test_acting_on_an_unknown_request_reverts(
    ledger: Ledger, actors: Any, dataset_a: bytes, action: str
) -> None:
    unknown = digest("never requested")
    calls = {
        "approve": lambda: ledger.access.approve_access(
            unknown, ledger.chain.block_time() + DAY, sender=actors.dept_a
        ),
        "deny": lambda: ledger.access.deny_access(unknown, sender=actors.dept_a),
        "cancel": lambda: ledger.access.cancel_access_request(unknown, sender=actors.dept_b),
        "revoke": lambda: ledger.access.revoke_access(unknown, sender=actors.dept_a),
    }

    with pytest.raises(AccessUnknownRequestError) as info:
        calls[action]()
    assert info.value.args_by_name == {"requestId": hex32(unknown)}


# --- the history chain of a request -----------------------------------------------------------


def block_time_of(ledger: Ledger, receipt: Receipt) -> int:
    return int(ledger.chain.w3.eth.get_block(receipt.block_number)["timestamp"])


def step(head: bytes, status: RequestStatus, fields: list[tuple[str, Any]], time: int) -> bytes:
    """``keccak256(abi.encode(previousHead, kind, fields…, block.timestamp))``, as documented
    in ``IAccessRegistry.AccessRequest.historyHead``, written out independently of the ledger."""
    types = ["bytes32", "uint8", *(t for t, _ in fields), "uint256"]
    return keccak(abi_encode(types, [head, int(status), *(v for _, v in fields), time]))


def history(ledger: Ledger, request_id: bytes) -> tuple[bytes, int]:
    """The view's answer, checked equal to ``accessRequest``'s and to storage's."""
    viewed = ledger.access.access_history(request_id)
    whole = ledger.access.contract.functions.accessRequest(request_id).call()
    stored = ledger.access.access_request(request_id)  # read from storage
    assert viewed == (bytes(whole[6]), whole[5]) == (stored.history_head, stored.event_count)
    assert (bytes(whole[0]), *whole[1:5]) == (
        stored.dataset_id,
        stored.requester,
        int(stored.status),
        stored.requested_duration,
        stored.expires_at,
    )
    return viewed


def test_every_transition_extends_the_request_history_as_documented(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    salt, purpose = digest("b-history"), digest("b-history/purpose")
    assert history(ledger, AccessRegistryClient.request_id_of(DEPT_B, salt)) == (bytes(32), 0)

    asked = ledger.access.request_access(salt, dataset_a, purpose, 7 * DAY, sender=actors.dept_b)
    request_id = AccessRegistryClient.request_id_of(DEPT_B, salt)
    fields = [
        ("bytes32", dataset_a),
        ("uint64", DEPT_B),
        ("bytes32", salt),
        ("bytes32", purpose),
        ("uint64", 7 * DAY),
    ]
    head = step(bytes(32), RequestStatus.PENDING, fields, block_time_of(ledger, asked))
    assert history(ledger, request_id) == (head, 1)

    expires_at = ledger.chain.block_time() + DAY
    approved = ledger.access.approve_access(request_id, expires_at, sender=actors.dept_a)
    head = step(
        head, RequestStatus.APPROVED, [("uint64", expires_at)], block_time_of(ledger, approved)
    )
    assert history(ledger, request_id) == (head, 2)

    revoked = ledger.access.revoke_access(request_id, digest("misuse"), sender=actors.dept_a)
    head = step(
        head,
        RequestStatus.REVOKED,
        [("bytes32", digest("misuse"))],
        block_time_of(ledger, revoked),
    )
    assert history(ledger, request_id) == (head, 3)


def test_denial_cancellation_and_supersession_are_in_the_history_too(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    denied = request(ledger, actors.dept_b, DEPT_B, dataset_a, "to-deny")
    head, _ = history(ledger, denied)
    receipt = ledger.access.deny_access(denied, digest("no"), sender=actors.dept_a)
    expected = step(
        head, RequestStatus.DENIED, [("bytes32", digest("no"))], block_time_of(ledger, receipt)
    )
    assert history(ledger, denied) == (expected, 2)

    cancelled = request(ledger, actors.dept_b, DEPT_B, dataset_a, "to-cancel")
    head, _ = history(ledger, cancelled)
    receipt = ledger.access.cancel_access_request(cancelled, sender=actors.dept_b)
    expected = step(head, RequestStatus.CANCELLED, [], block_time_of(ledger, receipt))
    assert history(ledger, cancelled) == (expected, 2)

    older = request(ledger, actors.dept_b, DEPT_B, dataset_a, "older")
    ledger.access.approve_access(older, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    head, _ = history(ledger, older)
    newer = request(ledger, actors.dept_b, DEPT_B, dataset_a, "newer")
    receipt = ledger.access.approve_access(
        newer, ledger.chain.block_time() + DAY, sender=actors.dept_a
    )
    expected = step(
        head, RequestStatus.SUPERSEDED, [("bytes32", newer)], block_time_of(ledger, receipt)
    )
    assert history(ledger, older) == (expected, 3)
    assert history(ledger, newer)[1] == 2


def test_a_history_without_its_revocation_or_with_an_altered_event_is_not_the_stored_one(
    ledger: Ledger, actors: Any, dataset_a: bytes, approved: bytes
) -> None:
    from ledger.access_proof import RequestEvent, history_head

    ledger.access.revoke_access(approved, digest("misuse"), sender=actors.dept_a)
    logs = ledger.chain.w3.eth.get_logs(
        {"address": ledger.access.address, "fromBlock": 0, "topics": [None, "0x" + approved.hex()]}
    )
    events = [
        RequestEvent(
            event=e.name,
            args={k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in e.args.items()},
            tx_hash=e.tx_hash,
            block_number=e.block_number,
            block_hash=e.block_hash,
            block_time=int(ledger.chain.w3.eth.get_block(e.block_number)["timestamp"]),
            log_index=e.log_index,
        )
        for e in ledger.access.decode_events(logs)
    ]
    assert [e.event for e in events] == ["AccessRequested", "AccessApproved", "AccessRevoked"]
    stored, count = history(ledger, approved)
    assert (history_head(events), len(events)) == (stored, count)

    assert history_head(events[:2]) != stored  # the revocation withheld
    later = RequestEvent(**{**_fields(events[1]), "block_time": events[1].block_time + 1})
    assert history_head([events[0], later, events[2]]) != stored  # approved at another time
    longer = RequestEvent(
        **{**_fields(events[1]), "args": {"expiresAt": events[1].args["expiresAt"] + 1}}
    )
    assert history_head([events[0], longer, events[2]]) != stored  # a longer grant


def _fields(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__slots__}


def test_the_live_grant_reads_from_storage_as_the_contract_keeps_it(
    ledger: Ledger, actors: Any, dataset_a: bytes, approved: bytes
) -> None:
    assert ledger.access.live_grant(dataset_a, DEPT_B) == approved
    assert ledger.access.live_grant(dataset_a, DEPT_C) == bytes(32)
    before = ledger.chain.head()[0]

    ledger.access.revoke_access(approved, sender=actors.dept_a)

    assert ledger.access.live_grant(dataset_a, DEPT_B) == bytes(32)
    assert ledger.access.live_grant(dataset_a, DEPT_B, block=before) == approved
