"""Specification of DepartmentRegistry: the roll of departments, suspension, the ledger-wide
pause and the two-step transfer of the default admin role.

Every refusal is checked by its exact error class (and its key arguments), and every refusal of
a department action is paired with the same action succeeding once the cause is lifted, so a
test cannot pass because the action was broken for some other reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.chain.backend import Chain, Receipt
from ledger.chain.clients import DepartmentRegistryClient
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, DepartmentStatus, NewVersion
from ledger.errors import (
    AccessControlEnforcedDefaultAdminRulesError,
    AccessControlInvalidDefaultAdminError,
    AccessControlUnauthorizedAccountError,
    DepartmentAlreadyEnrolledError,
    DepartmentInactiveError,
    DepartmentInvalidIdError,
    DepartmentInvalidNameError,
    DepartmentNotSuspendedError,
    DepartmentSignerUnavailableError,
    DepartmentUnknownError,
    DepartmentUnknownSignerError,
    EnforcedPauseError,
    ExpectedPauseError,
    SignatureWrongSignerError,
)

# --- helpers (kept local: tests/conftest.py constants cannot be imported) ---------------------

DEPT_A = 1
DEPT_B = 2
DEPT_C = 3
DEPT_NEW = 42
ZERO_ADDRESS = "0x" + "00" * 20
DEFAULT_ADMIN_ROLE = bytes(32)
GOVERNOR_ROLE = DepartmentRegistryClient.GOVERNOR_ROLE
PAUSER_ROLE = DepartmentRegistryClient.PAUSER_ROLE
DAY = 86_400


def hex32(value: bytes) -> str:
    """How decoded error arguments spell a bytes32."""
    return "0x" + value.hex()


def new_key(chain: Chain, name: str) -> LocalAccount:
    """A key no department has used, funded so it can send transactions."""
    account: LocalAccount = Account.from_key(keccak(text=f"provledger-test:department:{name}"))
    chain.fund(account.address, 10**20)
    return account


def key_of(actors, department_id: int) -> LocalAccount:
    return {DEPT_A: actors.dept_a, DEPT_B: actors.dept_b, DEPT_C: actors.dept_c}[department_id]


def block_timestamp(chain: Chain, receipt: Receipt) -> int:
    return int(chain.w3.eth.get_block(receipt.block_number)["timestamp"])


def only_event(client, receipt: Receipt, name: str):
    events = [e for e in client.decode_events(receipt.logs) if e.name == name]
    assert len(events) == 1, f"expected one {name} event, got {events}"
    return events[0]


def create_dataset(ledger: Ledger, sender: LocalAccount, department_id: int) -> bytes:
    """A fresh dataset created directly by ``sender``; returns its id."""
    salt = os.urandom(32)
    ledger.datasets.create_dataset(
        salt, Classification.INTERNAL, os.urandom(32), NewVersion(os.urandom(32)), sender=sender
    )
    dataset_id = ledger.datasets.dataset_id_of(department_id, salt)
    assert ledger.datasets.dataset(dataset_id).owner == department_id
    return dataset_id


def sign_create_dataset(ledger: Ledger, signer: LocalAccount, department_id: int, deadline: int):
    salt, meta, first = os.urandom(32), os.urandom(32), NewVersion(os.urandom(32))
    auth = ledger.datasets.sign_create_dataset(
        salt,
        Classification.PUBLIC,
        meta,
        first,
        signer=signer,
        department_id=department_id,
        deadline=deadline,
    )
    return salt, meta, first, auth


@dataclass(frozen=True)
class World:
    """A dataset of A, a pending request of B on it and an approved grant of C to it."""

    dataset_id: bytes
    pending: bytes
    approved: bytes


def build_world(ledger: Ledger, actors) -> World:
    dataset_id = create_dataset(ledger, actors.dept_a, DEPT_A)
    salt_b, salt_c = os.urandom(32), os.urandom(32)
    ledger.access.request_access(salt_b, dataset_id, os.urandom(32), DAY, sender=actors.dept_b)
    ledger.access.request_access(salt_c, dataset_id, os.urandom(32), DAY, sender=actors.dept_c)
    approved = ledger.access.request_id_of(DEPT_C, salt_c)
    expires = ledger.chain.block_time() + DAY
    ledger.access.approve_access(approved, expires, sender=actors.dept_a)
    assert ledger.access.has_access(dataset_id, DEPT_C)
    return World(dataset_id, ledger.access.request_id_of(DEPT_B, salt_b), approved)


# A department write, prepared (and, for the by-signature forms, signed) while everything is
# allowed; calling the returned function sends it.
Prepare = Callable[[Ledger, object, World, int], Callable[[], Receipt]]


@dataclass(frozen=True)
class Write:
    name: str
    department: int  # the department that acts
    prepare: Prepare


def _create(ledger, actors, world, deadline):
    salt = os.urandom(32)
    first = NewVersion(os.urandom(32))
    return lambda: ledger.datasets.create_dataset(
        salt, Classification.PUBLIC, os.urandom(32), first, sender=actors.dept_a
    )


def _create_by_sig(ledger, actors, world, deadline):
    salt, meta, first, auth = sign_create_dataset(ledger, actors.dept_a, DEPT_A, deadline)
    return lambda: ledger.datasets.create_dataset_by_sig(
        salt, Classification.PUBLIC, meta, first, auth=auth, sender=actors.relayer
    )


def _add_version(ledger, actors, world, deadline):
    version = NewVersion(os.urandom(32))
    return lambda: ledger.datasets.add_version(world.dataset_id, version, sender=actors.dept_a)


def _add_version_by_sig(ledger, actors, world, deadline):
    version = NewVersion(os.urandom(32))
    auth = ledger.datasets.sign_add_version(
        world.dataset_id, version, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    return lambda: ledger.datasets.add_version_by_sig(
        world.dataset_id, version, auth=auth, sender=actors.relayer
    )


def _withdraw(ledger, actors, world, deadline):
    return lambda: ledger.datasets.withdraw_dataset(world.dataset_id, sender=actors.dept_a)


def _withdraw_by_sig(ledger, actors, world, deadline):
    auth = ledger.datasets.sign_withdraw_dataset(
        world.dataset_id, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    return lambda: ledger.datasets.withdraw_dataset_by_sig(
        world.dataset_id, auth=auth, sender=actors.relayer
    )


def _request(ledger, actors, world, deadline):
    salt, purpose = os.urandom(32), os.urandom(32)
    return lambda: ledger.access.request_access(
        salt, world.dataset_id, purpose, DAY, sender=actors.dept_b
    )


def _request_by_sig(ledger, actors, world, deadline):
    salt, purpose = os.urandom(32), os.urandom(32)
    auth = ledger.access.sign_request_access(
        salt,
        world.dataset_id,
        purpose,
        DAY,
        signer=actors.dept_b,
        department_id=DEPT_B,
        deadline=deadline,
    )
    return lambda: ledger.access.request_access_by_sig(
        salt, world.dataset_id, purpose, DAY, auth=auth, sender=actors.relayer
    )


def _approve(ledger, actors, world, deadline):
    expires = ledger.chain.block_time() + DAY
    return lambda: ledger.access.approve_access(world.pending, expires, sender=actors.dept_a)


def _approve_by_sig(ledger, actors, world, deadline):
    expires = ledger.chain.block_time() + DAY
    auth = ledger.access.sign_approve_access(
        world.pending, expires, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    return lambda: ledger.access.approve_access_by_sig(
        world.pending, expires, auth=auth, sender=actors.relayer
    )


def _deny(ledger, actors, world, deadline):
    return lambda: ledger.access.deny_access(world.pending, sender=actors.dept_a)


def _deny_by_sig(ledger, actors, world, deadline):
    auth = ledger.access.sign_deny_access(
        world.pending, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    return lambda: ledger.access.deny_access_by_sig(world.pending, auth=auth, sender=actors.relayer)


def _cancel(ledger, actors, world, deadline):
    return lambda: ledger.access.cancel_access_request(world.pending, sender=actors.dept_b)


def _cancel_by_sig(ledger, actors, world, deadline):
    auth = ledger.access.sign_cancel_access_request(
        world.pending, signer=actors.dept_b, department_id=DEPT_B, deadline=deadline
    )
    return lambda: ledger.access.cancel_access_request_by_sig(
        world.pending, auth=auth, sender=actors.relayer
    )


def _revoke(ledger, actors, world, deadline):
    return lambda: ledger.access.revoke_access(world.approved, sender=actors.dept_a)


def _revoke_by_sig(ledger, actors, world, deadline):
    auth = ledger.access.sign_revoke_access(
        world.approved, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    return lambda: ledger.access.revoke_access_by_sig(
        world.approved, auth=auth, sender=actors.relayer
    )


def _anchor(ledger, actors, world, deadline):
    root = os.urandom(32)
    return lambda: ledger.anchors.anchor_batch(root, 10, sender=actors.dept_a)


def _anchor_by_sig(ledger, actors, world, deadline):
    root = os.urandom(32)
    auth = ledger.anchors.sign_anchor_batch(
        root, 10, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    return lambda: ledger.anchors.anchor_batch_by_sig(root, 10, auth=auth, sender=actors.relayer)


WRITES = [
    Write("createDataset", DEPT_A, _create),
    Write("createDatasetBySig", DEPT_A, _create_by_sig),
    Write("addVersion", DEPT_A, _add_version),
    Write("addVersionBySig", DEPT_A, _add_version_by_sig),
    Write("withdrawDataset", DEPT_A, _withdraw),
    Write("withdrawDatasetBySig", DEPT_A, _withdraw_by_sig),
    Write("requestAccess", DEPT_B, _request),
    Write("requestAccessBySig", DEPT_B, _request_by_sig),
    Write("approveAccess", DEPT_A, _approve),
    Write("approveAccessBySig", DEPT_A, _approve_by_sig),
    Write("denyAccess", DEPT_A, _deny),
    Write("denyAccessBySig", DEPT_A, _deny_by_sig),
    Write("cancelAccessRequest", DEPT_B, _cancel),
    Write("cancelAccessRequestBySig", DEPT_B, _cancel_by_sig),
    Write("revokeAccess", DEPT_A, _revoke),
    Write("revokeAccessBySig", DEPT_A, _revoke_by_sig),
    Write("anchorBatch", DEPT_A, _anchor),
    Write("anchorBatchBySig", DEPT_A, _anchor_by_sig),
]
every_department_write = pytest.mark.parametrize("write", WRITES, ids=lambda w: w.name)


# --- enrolment -------------------------------------------------------------------------------


def test_governance_enrols_a_department_under_the_id_it_chose(ledger, actors, chain):
    signer = new_key(chain, "enrolled")
    receipt = ledger.departments.enrol_department(
        DEPT_NEW, "Ministry of Justice", signer.address, sender=actors.governance
    )

    record = ledger.departments.department(DEPT_NEW)
    assert record.signer == signer.address
    assert record.status is DepartmentStatus.ACTIVE
    assert record.enrolled_at == block_timestamp(chain, receipt)
    assert ledger.departments.department_of(signer.address) == DEPT_NEW
    assert ledger.departments.is_active(DEPT_NEW)

    event = only_event(ledger.departments, receipt, "DepartmentEnrolled")
    assert event.args == {
        "departmentId": DEPT_NEW,
        "signer": signer.address,
        "name": "Ministry of Justice",
    }
    assert event.block_number == receipt.block_number


def test_a_newly_enrolled_department_can_write_at_once(ledger, actors, chain):
    signer = new_key(chain, "writer")
    ledger.departments.enrol_department(
        DEPT_NEW, "Cabinet Office", signer.address, sender=actors.governance
    )

    dataset_id = create_dataset(ledger, signer, DEPT_NEW)
    assert ledger.datasets.dataset(dataset_id).owner == DEPT_NEW


def test_a_department_that_was_never_enrolled_reads_as_status_none(ledger):
    record = ledger.departments.department(DEPT_NEW)
    assert record.status is DepartmentStatus.NONE
    assert record.signer == ZERO_ADDRESS
    assert record.enrolled_at == 0
    assert not ledger.departments.is_active(DEPT_NEW)


@pytest.mark.parametrize("who", ["outsider", "dept_a", "relayer"])
def test_only_a_governor_may_enrol(ledger, actors, chain, who):
    caller = getattr(actors, who)
    signer = new_key(chain, "unauthorized-enrol")
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        ledger.departments.enrol_department(DEPT_NEW, "Rogue", signer.address, sender=caller)
    assert exc.value.args_by_name == {"account": caller.address, "neededRole": hex32(GOVERNOR_ROLE)}
    assert ledger.departments.department(DEPT_NEW).status is DepartmentStatus.NONE


def test_a_granted_governor_may_enrol(ledger, actors, chain):
    ledger.departments.grant_role(GOVERNOR_ROLE, actors.outsider.address, sender=actors.governance)
    signer = new_key(chain, "granted-governor")
    ledger.departments.enrol_department(
        DEPT_NEW, "Home Office", signer.address, sender=actors.outsider
    )
    assert ledger.departments.department_of(signer.address) == DEPT_NEW


def test_department_id_zero_is_refused(ledger, actors, chain):
    signer = new_key(chain, "zero-id")
    with pytest.raises(DepartmentInvalidIdError) as exc:
        ledger.departments.enrol_department(0, "Nobody", signer.address, sender=actors.governance)
    assert exc.value.args_by_name == {"departmentId": 0}
    assert ledger.departments.department_of(signer.address) == 0


def test_the_largest_department_id_is_two_to_the_63_minus_one(ledger, actors, chain):
    # SQL indexes hold ids in signed 64-bit integers: the contract keeps ids within them.
    largest = 2**63 - 1
    signer = new_key(chain, "largest-id")

    ledger.departments.enrol_department(largest, "Last", signer.address, sender=actors.governance)

    assert ledger.departments.department_of(signer.address) == largest
    assert ledger.departments.department(largest).status is DepartmentStatus.ACTIVE


@pytest.mark.parametrize("department_id", [2**63, 2**64 - 1])
def test_department_ids_from_two_to_the_63_are_refused(ledger, actors, chain, department_id):
    signer = new_key(chain, "too-large-id")
    with pytest.raises(DepartmentInvalidIdError) as exc:
        ledger.departments.enrol_department(
            department_id, "Overflow", signer.address, sender=actors.governance
        )
    assert exc.value.args_by_name == {"departmentId": department_id}
    assert "2**63 - 1" in exc.value.message
    assert ledger.departments.department(department_id).status is DepartmentStatus.NONE
    assert ledger.departments.department_of(signer.address) == 0


def test_an_id_cannot_be_enrolled_twice(ledger, actors, chain):
    signer = new_key(chain, "duplicate-id")
    with pytest.raises(DepartmentAlreadyEnrolledError) as exc:
        ledger.departments.enrol_department(
            DEPT_A, "Impostor", signer.address, sender=actors.governance
        )
    assert exc.value.args_by_name == {"departmentId": DEPT_A}
    assert ledger.departments.department(DEPT_A).signer == actors.dept_a.address


def test_a_suspended_department_id_cannot_be_enrolled_again(ledger, actors, chain):
    ledger.departments.suspend_department(DEPT_B, sender=actors.governance)
    signer = new_key(chain, "reuse-suspended-id")
    with pytest.raises(DepartmentAlreadyEnrolledError):
        ledger.departments.enrol_department(
            DEPT_B, "Takeover", signer.address, sender=actors.governance
        )


@pytest.mark.parametrize(
    "name",
    ["", "x" * 129, "é" * 64 + "x"],
    ids=["empty", "129-ascii-bytes", "129-bytes-in-65-characters"],
)
def test_a_name_must_be_1_to_128_bytes(ledger, actors, chain, name):
    signer = new_key(chain, "bad-name")
    with pytest.raises(DepartmentInvalidNameError) as exc:
        ledger.departments.enrol_department(
            DEPT_NEW, name, signer.address, sender=actors.governance
        )
    assert exc.value.args_by_name == {}
    assert ledger.departments.department(DEPT_NEW).status is DepartmentStatus.NONE


@pytest.mark.parametrize(
    "name", ["x", "x" * 128, "é" * 64], ids=["1-byte", "128-bytes", "128-bytes-in-64-characters"]
)
def test_names_at_the_length_limits_are_accepted(ledger, actors, chain, name):
    signer = new_key(chain, "edge-name")
    receipt = ledger.departments.enrol_department(
        DEPT_NEW, name, signer.address, sender=actors.governance
    )
    assert only_event(ledger.departments, receipt, "DepartmentEnrolled").args["name"] == name


def test_the_zero_address_cannot_be_a_signer(ledger, actors):
    with pytest.raises(DepartmentSignerUnavailableError) as exc:
        ledger.departments.enrol_department(
            DEPT_NEW, "Void", ZERO_ADDRESS, sender=actors.governance
        )
    assert exc.value.args_by_name == {"signer": ZERO_ADDRESS}


def test_a_key_of_another_department_cannot_be_enrolled(ledger, actors):
    with pytest.raises(DepartmentSignerUnavailableError) as exc:
        ledger.departments.enrol_department(
            DEPT_NEW, "Shadow", actors.dept_a.address, sender=actors.governance
        )
    assert exc.value.args_by_name == {"signer": actors.dept_a.address}
    assert ledger.departments.department_of(actors.dept_a.address) == DEPT_A


def test_a_key_rotated_away_can_never_be_enrolled_again(ledger, actors, chain):
    old = actors.dept_a.address
    ledger.departments.rotate_department_key(
        DEPT_A, new_key(chain, "a2").address, sender=actors.governance
    )
    assert ledger.departments.department_of(old) == 0

    with pytest.raises(DepartmentSignerUnavailableError) as exc:
        ledger.departments.enrol_department(DEPT_NEW, "Reuser", old, sender=actors.governance)
    assert exc.value.args_by_name == {"signer": old}
    # Nor given to another department, nor handed back to its own.
    with pytest.raises(DepartmentSignerUnavailableError):
        ledger.departments.rotate_department_key(DEPT_B, old, sender=actors.governance)
    with pytest.raises(DepartmentSignerUnavailableError):
        ledger.departments.rotate_department_key(DEPT_A, old, sender=actors.governance)


# --- key rotation ----------------------------------------------------------------------------


def test_rotation_replaces_the_key_and_keeps_the_department(ledger, actors, chain):
    before = ledger.departments.department(DEPT_A)
    dataset_id = create_dataset(ledger, actors.dept_a, DEPT_A)
    new = new_key(chain, "rotated-a")

    receipt = ledger.departments.rotate_department_key(
        DEPT_A, new.address, sender=actors.governance
    )

    after = ledger.departments.department(DEPT_A)
    assert after.signer == new.address
    assert after.status is DepartmentStatus.ACTIVE
    assert after.enrolled_at == before.enrolled_at
    assert ledger.departments.department_of(new.address) == DEPT_A
    assert ledger.departments.department_of(actors.dept_a.address) == 0
    # The history stays the department's: its dataset is still owned by the same id.
    assert ledger.datasets.dataset(dataset_id).owner == DEPT_A
    event = only_event(ledger.departments, receipt, "DepartmentKeyRotated")
    assert event.args == {
        "departmentId": DEPT_A,
        "previousSigner": actors.dept_a.address,
        "newSigner": new.address,
    }


def test_after_rotation_the_new_key_continues_the_departments_work(ledger, actors, chain, deadline):
    dataset_id = create_dataset(ledger, actors.dept_a, DEPT_A)
    nonce_before = ledger.datasets.department_nonce(DEPT_A)
    new = new_key(chain, "rotated-a")
    ledger.departments.rotate_department_key(DEPT_A, new.address, sender=actors.governance)

    # Directly: it may add a version to a dataset the old key created.
    ledger.datasets.add_version(dataset_id, NewVersion(os.urandom(32)), sender=new)
    assert ledger.datasets.dataset(dataset_id).version_count == 2
    # By signature: the nonce sequence of the department carries on.
    salt, meta, first, auth = sign_create_dataset(ledger, new, DEPT_A, deadline)
    assert auth.nonce == nonce_before
    ledger.datasets.create_dataset_by_sig(
        salt, Classification.PUBLIC, meta, first, auth=auth, sender=actors.relayer
    )
    assert ledger.datasets.dataset(ledger.datasets.dataset_id_of(DEPT_A, salt)).owner == DEPT_A


def test_after_rotation_the_old_key_cannot_act_directly(ledger, actors, chain):
    dataset_id = create_dataset(ledger, actors.dept_a, DEPT_A)
    ledger.departments.rotate_department_key(
        DEPT_A, new_key(chain, "rotated-a").address, sender=actors.governance
    )

    with pytest.raises(DepartmentUnknownSignerError) as exc:
        ledger.datasets.add_version(dataset_id, NewVersion(os.urandom(32)), sender=actors.dept_a)
    assert exc.value.args_by_name == {"account": actors.dept_a.address}
    with pytest.raises(DepartmentUnknownSignerError):
        ledger.anchors.anchor_batch(os.urandom(32), 1, sender=actors.dept_a)
    assert ledger.datasets.dataset(dataset_id).version_count == 1


def test_after_rotation_a_signature_by_the_old_key_is_refused(ledger, actors, chain, deadline):
    # Signed before the rotation, submitted after: a leaked old key is useless at once.
    salt, meta, first, auth = sign_create_dataset(ledger, actors.dept_a, DEPT_A, deadline)
    ledger.departments.rotate_department_key(
        DEPT_A, new_key(chain, "rotated-a").address, sender=actors.governance
    )

    with pytest.raises(SignatureWrongSignerError) as exc:
        ledger.datasets.create_dataset_by_sig(
            salt, Classification.PUBLIC, meta, first, auth=auth, sender=actors.relayer
        )
    assert exc.value.args_by_name == {"departmentId": DEPT_A, "recovered": actors.dept_a.address}
    assert not ledger.datasets.dataset(ledger.datasets.dataset_id_of(DEPT_A, salt)).exists


def test_rotation_of_an_unknown_department_is_refused(ledger, actors, chain):
    with pytest.raises(DepartmentUnknownError) as exc:
        ledger.departments.rotate_department_key(
            DEPT_NEW, new_key(chain, "orphan").address, sender=actors.governance
        )
    assert exc.value.args_by_name == {"departmentId": DEPT_NEW}


def test_rotation_to_the_zero_address_is_refused(ledger, actors):
    with pytest.raises(DepartmentSignerUnavailableError) as exc:
        ledger.departments.rotate_department_key(DEPT_A, ZERO_ADDRESS, sender=actors.governance)
    assert exc.value.args_by_name == {"signer": ZERO_ADDRESS}
    assert ledger.departments.department(DEPT_A).signer == actors.dept_a.address


@pytest.mark.parametrize("who", ["outsider", "dept_a"])
def test_only_a_governor_may_rotate_a_key(ledger, actors, chain, who):
    caller = getattr(actors, who)
    new = new_key(chain, "self-rotated")
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        ledger.departments.rotate_department_key(DEPT_A, new.address, sender=caller)
    assert exc.value.args_by_name == {"account": caller.address, "neededRole": hex32(GOVERNOR_ROLE)}
    assert ledger.departments.department(DEPT_A).signer == actors.dept_a.address


def test_rotating_a_suspended_departments_key_keeps_it_suspended(ledger, actors, chain):
    ledger.departments.suspend_department(DEPT_A, sender=actors.governance)
    new = new_key(chain, "rotated-while-suspended")
    ledger.departments.rotate_department_key(DEPT_A, new.address, sender=actors.governance)

    assert ledger.departments.department(DEPT_A).status is DepartmentStatus.SUSPENDED
    with pytest.raises(DepartmentInactiveError):
        ledger.anchors.anchor_batch(os.urandom(32), 1, sender=new)


# --- suspension ------------------------------------------------------------------------------


def test_suspension_is_recorded_with_its_reason(ledger, actors):
    reason = keccak(text="key compromise")
    receipt = ledger.departments.suspend_department(DEPT_B, reason, sender=actors.governance)

    assert ledger.departments.department(DEPT_B).status is DepartmentStatus.SUSPENDED
    assert not ledger.departments.is_active(DEPT_B)
    # The key still names its department (for audit); it just may not act.
    assert ledger.departments.department_of(actors.dept_b.address) == DEPT_B
    event = only_event(ledger.departments, receipt, "DepartmentSuspended")
    assert event.args == {"departmentId": DEPT_B, "reasonHash": reason}
    # Others are unaffected.
    assert ledger.departments.is_active(DEPT_A)


@every_department_write
def test_a_suspended_department_can_do_nothing(ledger, actors, deadline, write):
    world = build_world(ledger, actors)
    send = write.prepare(ledger, actors, world, deadline)
    ledger.departments.suspend_department(write.department, sender=actors.governance)

    with pytest.raises(DepartmentInactiveError) as exc:
        send()
    assert exc.value.args_by_name == {"departmentId": write.department}

    # The refusal was the suspension's: once lifted, the very same write goes through.
    ledger.departments.reactivate_department(write.department, sender=actors.governance)
    send()


def test_a_suspended_department_loses_its_access(ledger, actors):
    world = build_world(ledger, actors)
    ledger.departments.suspend_department(DEPT_C, sender=actors.governance)
    assert not ledger.access.has_access(world.dataset_id, DEPT_C)
    ledger.departments.suspend_department(DEPT_A, sender=actors.governance)
    assert not ledger.access.has_access(world.dataset_id, DEPT_A)

    ledger.departments.reactivate_department(DEPT_C, sender=actors.governance)
    ledger.departments.reactivate_department(DEPT_A, sender=actors.governance)
    assert ledger.access.has_access(world.dataset_id, DEPT_C)
    assert ledger.access.has_access(world.dataset_id, DEPT_A)


def test_a_department_cannot_be_suspended_twice(ledger, actors):
    ledger.departments.suspend_department(DEPT_B, sender=actors.governance)
    with pytest.raises(DepartmentInactiveError) as exc:
        ledger.departments.suspend_department(DEPT_B, sender=actors.governance)
    assert exc.value.args_by_name == {"departmentId": DEPT_B}


def test_an_unknown_department_cannot_be_suspended_or_reactivated(ledger, actors):
    with pytest.raises(DepartmentUnknownError) as exc:
        ledger.departments.suspend_department(DEPT_NEW, sender=actors.governance)
    assert exc.value.args_by_name == {"departmentId": DEPT_NEW}
    with pytest.raises(DepartmentUnknownError):
        ledger.departments.reactivate_department(DEPT_NEW, sender=actors.governance)


def test_an_active_department_cannot_be_reactivated(ledger, actors):
    with pytest.raises(DepartmentNotSuspendedError) as exc:
        ledger.departments.reactivate_department(DEPT_A, sender=actors.governance)
    assert exc.value.args_by_name == {"departmentId": DEPT_A}


def test_reactivation_restores_the_departments_rights(ledger, actors):
    ledger.departments.suspend_department(DEPT_A, sender=actors.governance)
    receipt = ledger.departments.reactivate_department(DEPT_A, sender=actors.governance)

    assert ledger.departments.department(DEPT_A).status is DepartmentStatus.ACTIVE
    assert ledger.departments.is_active(DEPT_A)
    assert only_event(ledger.departments, receipt, "DepartmentReactivated").args == {
        "departmentId": DEPT_A
    }
    create_dataset(ledger, actors.dept_a, DEPT_A)
    # And it can be suspended again.
    ledger.departments.suspend_department(DEPT_A, sender=actors.governance)
    assert not ledger.departments.is_active(DEPT_A)


@pytest.mark.parametrize("who", ["outsider", "dept_a", "dept_b"])
def test_only_a_governor_may_suspend_or_reactivate(ledger, actors, who):
    caller = getattr(actors, who)
    expected = {"account": caller.address, "neededRole": hex32(GOVERNOR_ROLE)}
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        ledger.departments.suspend_department(DEPT_B, sender=caller)
    assert exc.value.args_by_name == expected
    assert ledger.departments.is_active(DEPT_B)

    ledger.departments.suspend_department(DEPT_B, sender=actors.governance)
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        ledger.departments.reactivate_department(DEPT_B, sender=caller)
    assert exc.value.args_by_name == expected
    assert not ledger.departments.is_active(DEPT_B)


# --- pause -----------------------------------------------------------------------------------


def grant_pauser(ledger: Ledger, actors) -> LocalAccount:
    """The outsider made a pauser (and nothing else), to keep the roles apart."""
    ledger.departments.grant_role(PAUSER_ROLE, actors.outsider.address, sender=actors.governance)
    return actors.outsider


@every_department_write
def test_while_paused_no_department_can_write(ledger, actors, deadline, write):
    world = build_world(ledger, actors)
    send = write.prepare(ledger, actors, world, deadline)
    pauser = grant_pauser(ledger, actors)
    ledger.departments.pause(sender=pauser)

    with pytest.raises(EnforcedPauseError) as exc:
        send()
    assert exc.value.args_by_name == {}

    ledger.departments.unpause(sender=pauser)
    send()


def test_while_paused_every_view_still_answers(ledger, actors):
    world = build_world(ledger, actors)
    root = os.urandom(32)
    ledger.anchors.anchor_batch(root, 1, sender=actors.dept_a)
    ledger.departments.pause(sender=actors.governance)
    assert ledger.departments.paused()

    assert ledger.datasets.dataset(world.dataset_id).owner == DEPT_A
    assert ledger.datasets.version_exists(world.dataset_id, 1)
    assert ledger.access.has_access(world.dataset_id, DEPT_C)
    assert not ledger.access.has_access(world.dataset_id, DEPT_B)
    assert ledger.departments.department(DEPT_A).status is DepartmentStatus.ACTIVE
    assert ledger.departments.department_of(actors.dept_a.address) == DEPT_A
    assert ledger.departments.is_active(DEPT_A)
    assert ledger.anchors.anchor(root).department == DEPT_A
    assert ledger.anchors.department_nonce(DEPT_A) == 0


def test_while_paused_the_write_gates_report_the_pause(ledger, actors):
    fns = ledger.departments.contract.functions
    ledger.departments.pause(sender=actors.governance)
    with pytest.raises(EnforcedPauseError):
        ledger.chain.call(lambda: fns.requireActiveDepartment(actors.dept_a.address).call())
    with pytest.raises(EnforcedPauseError):
        ledger.chain.call(lambda: fns.requireActiveSigner(DEPT_A).call())

    ledger.departments.unpause(sender=actors.governance)
    assert (
        ledger.chain.call(lambda: fns.requireActiveDepartment(actors.dept_a.address).call())
        == DEPT_A
    )
    assert (
        ledger.chain.call(lambda: fns.requireActiveSigner(DEPT_A).call()) == actors.dept_a.address
    )


def test_while_paused_governance_still_governs(ledger, actors, chain):
    ledger.departments.pause(sender=actors.governance)
    signer = new_key(chain, "enrolled-while-paused")
    replacement = new_key(chain, "rotated-while-paused")

    ledger.departments.suspend_department(DEPT_B, sender=actors.governance)
    ledger.departments.enrol_department(
        DEPT_NEW, "Crisis Unit", signer.address, sender=actors.governance
    )
    ledger.departments.rotate_department_key(DEPT_C, replacement.address, sender=actors.governance)
    ledger.departments.reactivate_department(DEPT_B, sender=actors.governance)

    assert ledger.departments.paused()
    assert ledger.departments.department(DEPT_NEW).status is DepartmentStatus.ACTIVE
    assert ledger.departments.department(DEPT_C).signer == replacement.address
    assert ledger.departments.is_active(DEPT_B)
    # ...yet the newly enrolled department must wait for the pause to lift.
    with pytest.raises(EnforcedPauseError):
        ledger.anchors.anchor_batch(os.urandom(32), 1, sender=signer)


def test_unpausing_restores_department_writes(ledger, actors):
    receipt = ledger.departments.pause(sender=actors.governance)
    assert [e.name for e in ledger.departments.decode_events(receipt.logs)] == ["Paused"]
    receipt = ledger.departments.unpause(sender=actors.governance)
    assert [e.name for e in ledger.departments.decode_events(receipt.logs)] == ["Unpaused"]

    assert not ledger.departments.paused()
    create_dataset(ledger, actors.dept_a, DEPT_A)


@pytest.mark.parametrize("who", ["outsider", "dept_a", "relayer"])
def test_only_a_pauser_may_pause_or_unpause(ledger, actors, who):
    caller = getattr(actors, who)
    expected = {"account": caller.address, "neededRole": hex32(PAUSER_ROLE)}
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        ledger.departments.pause(sender=caller)
    assert exc.value.args_by_name == expected
    assert not ledger.departments.paused()

    ledger.departments.pause(sender=actors.governance)
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        ledger.departments.unpause(sender=caller)
    assert exc.value.args_by_name == expected
    assert ledger.departments.paused()


def test_a_pauser_is_not_a_governor(ledger, actors, chain):
    pauser = grant_pauser(ledger, actors)
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        ledger.departments.suspend_department(DEPT_A, sender=pauser)
    assert exc.value.args_by_name["neededRole"] == hex32(GOVERNOR_ROLE)


def test_unpausing_when_not_paused_is_refused(ledger, actors):
    with pytest.raises(ExpectedPauseError) as exc:
        ledger.departments.unpause(sender=actors.governance)
    assert exc.value.args_by_name == {}


def test_pausing_when_paused_is_refused(ledger, actors):
    ledger.departments.pause(sender=actors.governance)
    with pytest.raises(EnforcedPauseError):
        ledger.departments.pause(sender=actors.governance)


# --- default admin: two-step transfer --------------------------------------------------------


def test_the_deployment_has_no_admin_transfer_delay(ledger, actors):
    fns = ledger.departments.contract.functions
    assert fns.defaultAdminDelay().call() == 0
    assert fns.defaultAdmin().call() == actors.governance.address


def test_the_default_admin_changes_hands_in_two_steps(ledger, actors, chain):
    fns = ledger.departments.contract.functions
    successor = actors.relayer
    chain.transact(fns.beginDefaultAdminTransfer(successor.address), actors.governance)

    pending, schedule = fns.pendingDefaultAdmin().call()
    assert pending == successor.address
    assert schedule > 0
    # Begun is not done: the old admin still holds the role.
    assert fns.defaultAdmin().call() == actors.governance.address
    assert not ledger.departments.has_role(DEFAULT_ADMIN_ROLE, successor.address)

    chain.advance_time(1)  # the schedule must be strictly in the past
    chain.transact(fns.acceptDefaultAdminTransfer(), successor)

    assert fns.defaultAdmin().call() == successor.address
    assert ledger.departments.has_role(DEFAULT_ADMIN_ROLE, successor.address)
    assert not ledger.departments.has_role(DEFAULT_ADMIN_ROLE, actors.governance.address)
    assert fns.pendingDefaultAdmin().call()[0] == ZERO_ADDRESS

    # The new admin administers the roles; the old one no longer can.
    ledger.departments.grant_role(GOVERNOR_ROLE, actors.outsider.address, sender=successor)
    assert ledger.departments.has_role(GOVERNOR_ROLE, actors.outsider.address)
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        ledger.departments.grant_role(
            GOVERNOR_ROLE, actors.dept_c.address, sender=actors.governance
        )
    assert exc.value.args_by_name == {
        "account": actors.governance.address,
        "neededRole": hex32(DEFAULT_ADMIN_ROLE),
    }


def test_the_old_admins_other_roles_stay_until_the_new_admin_revokes_them(ledger, actors, chain):
    fns = ledger.departments.contract.functions
    chain.transact(fns.beginDefaultAdminTransfer(actors.relayer.address), actors.governance)
    chain.advance_time(1)
    chain.transact(fns.acceptDefaultAdminTransfer(), actors.relayer)
    # The transfer moves only DEFAULT_ADMIN_ROLE.
    assert ledger.departments.has_role(GOVERNOR_ROLE, actors.governance.address)

    chain.transact(fns.revokeRole(GOVERNOR_ROLE, actors.governance.address), actors.relayer)
    with pytest.raises(AccessControlUnauthorizedAccountError):
        ledger.departments.suspend_department(DEPT_A, sender=actors.governance)


@pytest.mark.parametrize("to", ["outsider", "governance"])
def test_granting_the_default_admin_role_directly_is_refused(ledger, actors, to):
    with pytest.raises(AccessControlEnforcedDefaultAdminRulesError) as exc:
        ledger.departments.grant_role(
            DEFAULT_ADMIN_ROLE, getattr(actors, to).address, sender=actors.governance
        )
    assert exc.value.args_by_name == {}
    assert not ledger.departments.has_role(DEFAULT_ADMIN_ROLE, actors.outsider.address)


def test_revoking_the_default_admin_role_directly_is_refused(ledger, actors, chain):
    fns = ledger.departments.contract.functions
    with pytest.raises(AccessControlEnforcedDefaultAdminRulesError):
        chain.transact(
            fns.revokeRole(DEFAULT_ADMIN_ROLE, actors.governance.address), actors.governance
        )
    assert ledger.departments.has_role(DEFAULT_ADMIN_ROLE, actors.governance.address)


def test_only_the_pending_admin_may_accept(ledger, actors, chain):
    fns = ledger.departments.contract.functions
    chain.transact(fns.beginDefaultAdminTransfer(actors.relayer.address), actors.governance)
    chain.advance_time(1)

    with pytest.raises(AccessControlInvalidDefaultAdminError) as exc:
        chain.transact(fns.acceptDefaultAdminTransfer(), actors.outsider)
    assert exc.value.args_by_name == {"defaultAdmin": actors.outsider.address}
    assert fns.defaultAdmin().call() == actors.governance.address
    assert not ledger.departments.has_role(DEFAULT_ADMIN_ROLE, actors.outsider.address)


def test_only_the_default_admin_may_begin_a_transfer(ledger, actors, chain):
    fns = ledger.departments.contract.functions
    ledger.departments.grant_role(GOVERNOR_ROLE, actors.outsider.address, sender=actors.governance)
    with pytest.raises(AccessControlUnauthorizedAccountError) as exc:
        chain.transact(fns.beginDefaultAdminTransfer(actors.outsider.address), actors.outsider)
    assert exc.value.args_by_name == {
        "account": actors.outsider.address,
        "neededRole": hex32(DEFAULT_ADMIN_ROLE),
    }
    assert fns.pendingDefaultAdmin().call()[0] == ZERO_ADDRESS
