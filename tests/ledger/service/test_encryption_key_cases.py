"""Departments' encryption keys through the service (no HTTP): who may publish, what is
generated and kept, what the reads answer against the chain."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import pytest
from eth_utils.crypto import keccak
from sqlmodel import Session, select

from ledger.chain.deploy import Ledger
from ledger.chain.types import Kem
from ledger.errors import (
    AuthenticationError,
    DepartmentInactiveError,
    DeploymentTooOldError,
    EncryptionKemUnsupportedError,
    EncryptionKeyFormatError,
    EncryptionKeyNotPublishedError,
    ForbiddenError,
    InvalidInputError,
    InvalidSignatureError,
    ResourceNotFoundError,
)
from ledger.hashing import Digest
from ledger.index.models import IndexEncryptionKey
from ledger.relayer import Operation, OperationStatus
from ledger.relayer.actions import ClientSignature
from ledger.runtime import Runtime
from ledger.sealing import EncryptionKeyPair, Suite
from ledger.service import encryption_keys as cases
from ledger.service.principal import ANONYMOUS
from ledger.service.queued import Queued
from tests.ledger.service.conftest import AUDITOR, DEPT_A, DEPT_B, GOVERNANCE, act, ask, department

SELF_CUSTODY = 1  # enrolled by tests/conftest.py with actors.dept_a's key, which the service lacks


def publish(runtime: Runtime, who: int, **fields: Any) -> Queued:
    command = cases.PublishEncryptionKey(**fields)
    queued: Queued = act(runtime, department(who), cases.publish_encryption_key, command)
    return queued


def settle(runtime: Runtime, relay: Callable[[], None], queued: Queued) -> Operation:
    relay()
    runtime.indexer.sync()
    with Session(runtime.engine) as session:
        return session.exec(select(Operation).where(Operation.id == queued.operation.id)).one()


def current(runtime: Runtime, department_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = ask(runtime, ANONYMOUS, cases.current_encryption_key, department_id)
    return answer


def signed_by(runtime: Runtime, signer: Any, kem: Kem, raw: bytes) -> ClientSignature:
    keys = runtime.ledger.keys
    auth = keys.sign_publish_encryption_key(
        kem,
        raw,
        signer=signer,
        department_id=SELF_CUSTODY,
        deadline=runtime.chain.block_time() + 3600,
        nonce=keys.department_nonce(SELF_CUSTODY),
    )
    return ClientSignature(nonce=auth.nonce, deadline=auth.deadline, signature=auth.signature)


# --- custodial ---------------------------------------------------------------------------------


def test_a_custodial_key_is_generated_kept_and_published_as_the_key_in_force(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    queued = publish(runtime, DEPT_A)

    held = runtime.encryption_key(DEPT_A)
    assert held is not None and held.suite is Suite.MLKEM768_X25519  # the default: the hybrid
    fingerprint = held.public_key.fingerprint()
    assert queued.resource == {
        "department_id": DEPT_A,
        "kem": "mlkem768-x25519",
        "kem_id": 0x647A,
        "fingerprint": fingerprint.hex(),
        "public_key": "0x" + held.public_key.encode().hex(),
        "custodial": True,
    }
    op = settle(runtime, relay, queued)
    assert (op.status, op.function) == (OperationStatus.CONFIRMED, "publishEncryptionKeyBySig")
    assert op.result_data()["serial"] == 1

    answer = current(runtime, DEPT_A)
    assert answer["serial"] == 1 and answer["indexed"] is True
    assert answer["public_key"] == queued.resource["public_key"]
    assert answer["fingerprint"] == fingerprint.hex()
    assert bytes.fromhex(answer["fingerprint"][2:]) == runtime.ledger.keys.key_hash_at(DEPT_A, 1)
    assert answer["published"]["tx_hash"] == op.tx_hash
    assert answer["published"]["block_time"] == runtime.ledger.keys.current_key(DEPT_A).published_at


def test_rotation_publishes_serial_2_and_the_old_key_still_unlocks(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    first = publish(runtime, DEPT_A, kem=Kem.X25519)
    settle(runtime, relay, first)

    second = publish(runtime, DEPT_A)
    settle(runtime, relay, second)

    answer = current(runtime, DEPT_A)
    assert (answer["serial"], answer["kem"]) == (2, "mlkem768-x25519")
    assert answer["fingerprint"] == second.resource["fingerprint"]
    old = Digest.from_hex(first.resource["fingerprint"])
    kept = runtime.encryption_key(DEPT_A, old)
    assert kept is not None and kept.public_key.fingerprint() == old
    assert kept.suite is Suite.X25519
    history = ask(
        runtime, AUDITOR, cases.encryption_key_history, cases.EncryptionKeyListing(DEPT_A)
    )
    assert [(k["serial"], k["fingerprint"]) for k in history["items"]] == [
        (2, second.resource["fingerprint"]),
        (1, first.resource["fingerprint"]),
    ]
    page = ask(
        runtime, AUDITOR, cases.encryption_key_history, cases.EncryptionKeyListing(DEPT_A, limit=1)
    )
    assert [k["serial"] for k in page["items"]] == [2] and page["next_cursor"]
    rest = cases.EncryptionKeyListing(DEPT_A, cursor=page["next_cursor"], limit=1)
    assert [
        k["serial"] for k in ask(runtime, AUDITOR, cases.encryption_key_history, rest)["items"]
    ] == [1]


def test_a_department_with_a_custodial_signing_key_may_publish_its_own_public_key(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    own = EncryptionKeyPair.generate(Suite.X25519).public_key

    queued = publish(runtime, DEPT_B, kem=Kem.X25519, public_key=own.raw)

    assert queued.resource["custodial"] is False
    assert settle(runtime, relay, queued).status == OperationStatus.CONFIRMED
    assert current(runtime, DEPT_B)["public_key"] == "0x" + own.encode().hex()
    assert runtime.encryption_key(DEPT_B) is None  # the private half stays with the department


def test_the_current_key_is_read_from_the_chain_before_the_index_has_it(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    queued = publish(runtime, DEPT_A, kem=Kem.X25519)
    relay()  # mined, not indexed

    answer = current(runtime, DEPT_A)

    assert answer["indexed"] is False
    assert answer["public_key"] == queued.resource["public_key"]
    assert answer["published"]["tx_hash"] == settle(runtime, relay, queued).tx_hash
    assert current(runtime, DEPT_A)["published"] == answer["published"]  # as the index has it


# --- self-custody ------------------------------------------------------------------------------


def test_a_department_publishes_its_own_key_with_its_own_signature(
    runtime: Runtime, relay: Callable[[], None], actors: Any
) -> None:
    own = EncryptionKeyPair.generate().public_key
    signature = signed_by(runtime, actors.dept_a, Kem.MLKEM768_X25519, own.raw)

    queued = publish(runtime, SELF_CUSTODY, public_key=own.raw, signature=signature)

    assert queued.operation.custodial is False
    assert settle(runtime, relay, queued).status == OperationStatus.CONFIRMED
    assert current(runtime, SELF_CUSTODY)["fingerprint"] == own.fingerprint().hex()


def test_a_signature_by_another_key_is_refused(runtime: Runtime, actors: Any) -> None:
    own = EncryptionKeyPair.generate(Suite.X25519).public_key
    signature = signed_by(runtime, actors.dept_b, Kem.X25519, own.raw)

    with pytest.raises(InvalidSignatureError, match="not department 1's key"):
        publish(runtime, SELF_CUSTODY, kem=Kem.X25519, public_key=own.raw, signature=signature)


def test_a_self_custody_department_is_not_given_a_key_pair_it_cannot_publish(
    runtime: Runtime,
) -> None:
    with pytest.raises(ForbiddenError, match="holds its own signing key"):
        publish(runtime, SELF_CUSTODY)
    assert runtime.encryption_key(SELF_CUSTODY) is None


# --- refusals ----------------------------------------------------------------------------------


BAD_LENGTH = (EncryptionKeyFormatError, "encryption-key-invalid")
UNKNOWN_KEM = (EncryptionKemUnsupportedError, "encryption-kem-unsupported")


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"kem": Kem.X25519, "public_key": bytes(31)}, BAD_LENGTH),
        ({"public_key": os.urandom(32)}, BAD_LENGTH),  # an X25519 key given as the hybrid's
        ({"kem": 0x0021, "public_key": os.urandom(32)}, UNKNOWN_KEM),
        ({"kem": 0x0021}, UNKNOWN_KEM),
    ],
    ids=["short", "x25519-as-hybrid", "unknown-kem-own-key", "unknown-kem-custodial"],
)
def test_a_key_the_directory_would_not_take_is_refused_with_its_code(
    runtime: Runtime, fields: dict[str, Any], refusal: tuple[type[Exception], str]
) -> None:
    error, code = refusal
    with pytest.raises(error) as refused:
        publish(runtime, DEPT_A, **fields)
    assert getattr(refused.value, "code", None) == code
    assert runtime.encryption_key(DEPT_A) is None


def test_an_x25519_key_that_is_no_key_at_all_is_refused(runtime: Runtime) -> None:
    # Of the right length (the contract would take it), but no ML-KEM key: its coefficients
    # must be below q = 3329, and 0xfff is not.
    not_a_key = bytes([0xFF]) * Kem.MLKEM768_X25519.public_key_length
    with pytest.raises(EncryptionKeyFormatError):
        publish(runtime, DEPT_A, kem=Kem.MLKEM768_X25519, public_key=not_a_key)


def test_a_signature_without_the_key_it_signs_is_refused(runtime: Runtime) -> None:
    signature = ClientSignature(nonce=0, deadline=1, signature=bytes(65))
    with pytest.raises(InvalidInputError, match="comes with the public key"):
        publish(runtime, DEPT_A, signature=signature)


@pytest.mark.parametrize(
    ("who", "error"),
    [(GOVERNANCE, ForbiddenError), (AUDITOR, ForbiddenError), (ANONYMOUS, AuthenticationError)],
    ids=["governance", "auditor", "anonymous"],
)
def test_only_a_department_publishes_and_only_for_itself(
    runtime: Runtime, who: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        act(runtime, who, cases.publish_encryption_key, cases.PublishEncryptionKey())


def test_a_suspended_department_publishes_nothing_and_gets_no_key_pair(
    runtime: Runtime, actors: Any
) -> None:
    runtime.ledger.departments.suspend_department(DEPT_A, os.urandom(32), sender=actors.governance)

    with pytest.raises(DepartmentInactiveError):
        publish(runtime, DEPT_A)
    own = EncryptionKeyPair.generate(Suite.X25519).public_key
    with pytest.raises(DepartmentInactiveError):
        publish(runtime, DEPT_A, kem=Kem.X25519, public_key=own.raw)
    assert runtime.encryption_key(DEPT_A) is None


def test_a_deployment_from_before_the_key_directory_says_so(
    runtime: Runtime, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Ledger(ledger.chain, dataclasses.replace(ledger.deployment, key_directory=None))
    monkeypatch.setattr(runtime, "ledger", old)

    with pytest.raises(DeploymentTooOldError, match="predates the key directory"):
        publish(runtime, DEPT_A)
    with pytest.raises(DeploymentTooOldError):
        current(runtime, DEPT_A)
    assert runtime.encryption_key(DEPT_A) is None


# --- reads -------------------------------------------------------------------------------------


def test_a_department_without_a_key_and_no_department_at_all_are_told_apart(
    runtime: Runtime,
) -> None:
    with pytest.raises(EncryptionKeyNotPublishedError) as none:
        current(runtime, DEPT_A)
    assert none.value.code == "encryption-key-not-published"
    with pytest.raises(ResourceNotFoundError, match="no department 999"):
        current(runtime, 999)
    empty = ask(
        runtime, ANONYMOUS, cases.encryption_key_history, cases.EncryptionKeyListing(DEPT_A)
    )
    assert empty["items"] == [] and empty["next_cursor"] is None


def test_a_key_the_index_holds_wrongly_is_not_answered(
    runtime: Runtime, relay: Callable[[], None]
) -> None:
    queued = publish(runtime, DEPT_A, kem=Kem.X25519)
    settle(runtime, relay, queued)
    with Session(runtime.engine) as session:
        row = session.get(IndexEncryptionKey, (DEPT_A, 1))
        assert row is not None
        row.public_key = "0x" + os.urandom(32).hex()  # the hash no longer matches
        session.add(row)
        session.commit()

    answer = current(runtime, DEPT_A)

    assert answer["public_key"] == queued.resource["public_key"]  # from the chain's log
    assert keccak(bytes.fromhex(answer["public_key"][6:])) == runtime.ledger.keys.key_hash_at(
        DEPT_A, 1
    )
