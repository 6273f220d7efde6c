"""Specification of KeyDirectory: each department publishes its HPKE encryption public key,
rotates it under consecutive serials, and anyone can check a key against the one in force at
any serial.

Keys are real keys made by ``cryptography`` (the library the sealing code wraps with), so the
lengths the contract enforces are shown to be the lengths that library produces.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from eth_utils import keccak

from ledger.chain.backend import Chain, Receipt
from ledger.chain.clients.keys import checked_key
from ledger.chain.deploy import Ledger
from ledger.chain.types import Authorization, Kem
from ledger.errors import (
    DepartmentInactiveError,
    DepartmentUnknownSignerError,
    EnforcedPauseError,
    InvalidAccountNonceError,
    InvalidInputError,
    KeyDirectoryDepartmentInactiveError,
    KeyDirectoryInvalidKeyLengthError,
    KeyDirectoryNoKeyError,
    KeyDirectoryUnknownKemError,
    SignatureExpiredError,
    SignatureWrongSignerError,
)
from ledger.sealing import EncryptionKeyPair, EncryptionPublicKey, Suite

# --- helpers (kept local: tests/conftest.py constants cannot be imported) ---------------------

DEPT_A = 1
DEPT_B = 2
DEPT_C = 3
NEVER_ENROLLED = 99
HOUR = 3600


def x25519_key() -> bytes:
    return x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()


def hybrid_key() -> bytes:
    """An MLKEM768-X25519 public key as HPKE serializes it: ML-KEM-768 key then X25519 key
    (cryptography 48's ``MLKEM768X25519PublicKey`` has no bytes of its own; its parts do)."""
    pq = mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw()
    return pq + x25519_key()


def key_of(kem: Kem) -> bytes:
    return hybrid_key() if kem is Kem.MLKEM768_X25519 else x25519_key()


def block_timestamp(chain: Chain, receipt: Receipt) -> int:
    return int(chain.w3.eth.get_block(receipt.block_number)["timestamp"])


def publish_raw(ledger: Ledger, kem_id: int, public_key: bytes, sender: Any) -> Receipt:
    """Straight to the contract, past the client's own checks, to see what the contract does."""
    return ledger.keys._act("publishEncryptionKey", (kem_id, public_key), sender)


# --- the KEMs and their lengths ----------------------------------------------------------------


def test_the_accepted_kems_are_x25519_and_the_x_wing_hybrid_with_their_hpke_ids() -> None:
    assert Kem.X25519 == 0x0020
    assert Kem.MLKEM768_X25519 == 0x647A
    assert [len(x25519_key()), len(hybrid_key())] == [32, 1216]
    assert [k.public_key_length for k in Kem] == [32, 1216]


def test_the_contract_requires_the_lengths_the_client_knows(ledger: Ledger) -> None:
    functions = ledger.keys.contract.functions
    for kem in Kem:
        assert functions.publicKeyLength(int(kem)).call() == kem.public_key_length
    assert functions.publicKeyLength(0x0010).call() == 0  # DHKEM(P-256): not accepted
    assert functions.KEM_X25519().call() == Kem.X25519
    assert functions.KEM_MLKEM768_X25519().call() == Kem.MLKEM768_X25519


def test_no_two_accepted_kems_share_a_key_length_so_a_key_hash_fixes_its_kem() -> None:
    lengths = [k.public_key_length for k in Kem]
    assert len(set(lengths)) == len(lengths)


def test_the_sealing_suites_are_the_directorys_kems() -> None:
    # One name for a suite from the key file to the chain: its HPKE KEM id.
    assert {suite.kem_id for suite in Suite} == {int(kem) for kem in Kem}
    for suite in Suite:
        assert Kem(suite.kem_id).public_key_length == len(
            EncryptionKeyPair.generate(suite).public_key.raw
        )


@pytest.mark.parametrize("suite", list(Suite))
def test_the_hash_the_directory_stores_is_the_fingerprint_a_wrapped_key_is_bound_to(
    ledger: Ledger, actors: Any, suite: Suite
) -> None:
    public = EncryptionKeyPair.generate(suite).public_key

    receipt = ledger.keys.publish_encryption_key(suite.kem_id, public.raw, sender=actors.dept_c)

    [published] = ledger.keys.published_keys(receipt.logs)
    assert ledger.keys.current_key(DEPT_C).key_hash == public.fingerprint().value
    assert EncryptionPublicKey(Suite(published.kem_id), published.public_key) == public


# --- publishing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kem", list(Kem))
def test_a_department_publishes_its_key_with_its_own_signing_key(
    ledger: Ledger, actors: Any, chain: Chain, kem: Kem
) -> None:
    public_key = key_of(kem)
    receipt = ledger.keys.publish_encryption_key(kem, public_key, sender=actors.dept_a)

    current = ledger.keys.current_key(DEPT_A)
    assert (current.kem_id, current.serial, current.key_hash) == (kem, 1, keccak(public_key))
    assert current.published_at == block_timestamp(chain, receipt)
    [published] = ledger.keys.published_keys(receipt.logs)
    assert (published.department_id, published.serial, published.kem_id) == (DEPT_A, 1, kem)
    assert published.public_key == public_key and published.key_hash == keccak(public_key)
    print(f"\ngas publishEncryptionKey {kem.name} (first key): {receipt.gas_used}")


def test_a_relayer_publishes_a_key_for_the_department_that_signed_it(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    public_key = hybrid_key()
    auth = ledger.keys.sign_publish_encryption_key(
        Kem.MLKEM768_X25519,
        public_key,
        signer=actors.dept_b,
        department_id=DEPT_B,
        deadline=deadline,
    )
    receipt = ledger.keys.publish_encryption_key_by_sig(
        Kem.MLKEM768_X25519, public_key, auth=auth, sender=actors.relayer
    )

    assert ledger.keys.current_key(DEPT_B).key_hash == keccak(public_key)
    assert not ledger.keys.current_key(DEPT_A).exists  # nothing for anyone else
    assert ledger.keys.department_nonce(DEPT_B) == auth.nonce + 1
    assert ledger.keys.published_keys(receipt.logs)[0].department_id == DEPT_B


def test_a_department_without_a_key_reads_as_an_empty_record(ledger: Ledger) -> None:
    current = ledger.keys.current_key(DEPT_C)
    assert not current.exists
    assert (current.key_hash, current.kem_id, current.published_at) == (bytes(32), 0, 0)
    assert ledger.keys.key_hash_at(DEPT_C, 1) == bytes(32)


# --- rotation and history ------------------------------------------------------------------------


def test_rotation_numbers_keys_1_2_3_and_every_earlier_key_stays_checkable(
    ledger: Ledger, actors: Any
) -> None:
    keys = [x25519_key(), hybrid_key(), hybrid_key()]
    receipts = [
        ledger.keys.publish_encryption_key(
            Kem.X25519 if len(k) == 32 else Kem.MLKEM768_X25519, k, sender=actors.dept_a
        )
        for k in keys
    ]

    assert ledger.keys.current_key(DEPT_A).serial == 3
    assert ledger.keys.current_key(DEPT_A).kem_id == Kem.MLKEM768_X25519
    for serial, public_key in enumerate(keys, start=1):
        assert ledger.keys.key_hash_at(DEPT_A, serial) == keccak(public_key)
        assert ledger.keys.is_key_at(DEPT_A, serial, public_key)
    assert not ledger.keys.is_key_at(DEPT_A, 1, keys[1])  # a later key is not the earlier one
    assert ledger.keys.key_hash_at(DEPT_A, 4) == bytes(32)
    events = [e for r in receipts for e in ledger.keys.published_keys(r.logs)]
    assert [(e.serial, e.public_key) for e in events] == list(enumerate(keys, start=1))
    print(f"\ngas publishEncryptionKey MLKEM768_X25519 (rotation): {receipts[2].gas_used}")


def test_the_key_in_force_at_a_serial_is_answered_at_any_later_block(
    ledger: Ledger, actors: Any, chain: Chain
) -> None:
    first = x25519_key()
    receipt = ledger.keys.publish_encryption_key(Kem.X25519, first, sender=actors.dept_a)
    ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.dept_a)
    at_first = ledger.keys.contract.functions.currentKey(DEPT_A).call(
        block_identifier=receipt.block_number
    )

    assert bytes(at_first[0]) == keccak(first) and at_first[2] == 1  # as it was then
    assert ledger.keys.key_hash_at(DEPT_A, 1) == keccak(first)  # and still provable now


def test_serials_are_per_department(ledger: Ledger, actors: Any) -> None:
    ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.dept_a)
    ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.dept_a)
    ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.dept_b)

    assert ledger.keys.current_key(DEPT_A).serial == 2
    assert ledger.keys.current_key(DEPT_B).serial == 1


# --- refused keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("kem_id", [0x0000, 0x0010, 0x0021, 0x0041, 0x647B, 0xFFFF])
def test_an_unknown_kem_is_refused(ledger: Ledger, actors: Any, kem_id: int) -> None:
    with pytest.raises(KeyDirectoryUnknownKemError) as info:
        publish_raw(ledger, kem_id, x25519_key(), actors.dept_a)

    assert info.value.args_by_name == {"kemId": kem_id}
    assert not ledger.keys.current_key(DEPT_A).exists


@pytest.mark.parametrize(
    ("kem", "length"),
    [(Kem.X25519, 0), (Kem.X25519, 31), (Kem.X25519, 33), (Kem.X25519, 1216)]
    + [(Kem.MLKEM768_X25519, n) for n in (32, 1184, 1215, 1217)],
)
def test_a_key_of_the_wrong_length_for_its_kem_is_refused(
    ledger: Ledger, actors: Any, kem: Kem, length: int
) -> None:
    with pytest.raises(KeyDirectoryInvalidKeyLengthError) as info:
        publish_raw(ledger, int(kem), bytes([7]) * length, actors.dept_a)

    assert info.value.args_by_name == {"kemId": int(kem), "length": length}


def test_the_client_refuses_a_bad_key_before_sending_anything() -> None:
    with pytest.raises(InvalidInputError, match="0x0010"):
        checked_key(0x0010, bytes(65))
    with pytest.raises(InvalidInputError, match="1216 bytes, got 32"):
        checked_key(Kem.MLKEM768_X25519, bytes(32))


def test_a_malformed_key_is_refused_by_signature_too(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    action = ledger.keys.typed_action(
        "PublishEncryptionKey",
        {"kemId": int(Kem.X25519), "publicKey": bytes(33)},
        department_id=DEPT_A,
        nonce=0,
        deadline=deadline,
    )
    auth = Authorization(
        department_id=DEPT_A, nonce=0, deadline=deadline, signature=action.sign(actors.dept_a)
    )

    with pytest.raises(KeyDirectoryInvalidKeyLengthError):
        ledger.keys._act("publishEncryptionKey", (int(Kem.X25519), bytes(33)), actors.relayer, auth)
    assert ledger.keys.department_nonce(DEPT_A) == 0  # the refusal consumed nothing


# --- who may publish -----------------------------------------------------------------------------


def test_an_outsider_cannot_publish(ledger: Ledger, actors: Any) -> None:
    with pytest.raises(DepartmentUnknownSignerError):
        ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.outsider)


def test_a_department_can_never_publish_for_another(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    # Its own key publishes for itself only: there is no department argument to forge.
    ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.dept_b)
    assert not ledger.keys.current_key(DEPT_A).exists

    # Its signature, claimed for another department, recovers to the wrong signer.
    public_key = x25519_key()
    own = ledger.keys.sign_publish_encryption_key(
        Kem.X25519, public_key, signer=actors.dept_b, department_id=DEPT_A, deadline=deadline
    )
    with pytest.raises(SignatureWrongSignerError) as info:
        ledger.keys.publish_encryption_key_by_sig(
            Kem.X25519, public_key, auth=own, sender=actors.relayer
        )
    assert info.value.args_by_name == {"departmentId": DEPT_A, "recovered": actors.dept_b.address}
    assert not ledger.keys.current_key(DEPT_A).exists


def test_a_replayed_signature_is_refused(ledger: Ledger, actors: Any, deadline: int) -> None:
    public_key = x25519_key()
    auth = ledger.keys.sign_publish_encryption_key(
        Kem.X25519, public_key, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    ledger.keys.publish_encryption_key_by_sig(
        Kem.X25519, public_key, auth=auth, sender=actors.relayer
    )

    with pytest.raises(InvalidAccountNonceError):
        ledger.keys.publish_encryption_key_by_sig(
            Kem.X25519, public_key, auth=auth, sender=actors.relayer
        )
    assert ledger.keys.current_key(DEPT_A).serial == 1


def test_an_expired_signature_is_refused(ledger: Ledger, actors: Any, chain: Chain) -> None:
    public_key = x25519_key()
    deadline = chain.block_time() + 10
    auth = ledger.keys.sign_publish_encryption_key(
        Kem.X25519, public_key, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    chain.advance_time(HOUR)

    with pytest.raises(SignatureExpiredError):
        ledger.keys.publish_encryption_key_by_sig(
            Kem.X25519, public_key, auth=auth, sender=actors.relayer
        )
    assert not ledger.keys.current_key(DEPT_A).exists


def test_a_signature_by_a_rotated_away_signing_key_is_refused(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    public_key = x25519_key()
    auth = ledger.keys.sign_publish_encryption_key(
        Kem.X25519, public_key, signer=actors.dept_c, department_id=DEPT_C, deadline=deadline
    )
    ledger.departments.rotate_department_key(
        DEPT_C, actors.outsider.address, sender=actors.governance
    )

    with pytest.raises(SignatureWrongSignerError):
        ledger.keys.publish_encryption_key_by_sig(
            Kem.X25519, public_key, auth=dataclasses.replace(auth), sender=actors.relayer
        )


# --- suspension and pause ------------------------------------------------------------------------


def test_a_suspended_department_can_neither_publish_nor_be_wrapped_to(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    public_key = x25519_key()
    ledger.keys.publish_encryption_key(Kem.X25519, public_key, sender=actors.dept_a)
    auth = ledger.keys.sign_publish_encryption_key(
        Kem.X25519, x25519_key(), signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    ledger.departments.suspend_department(DEPT_A, keccak(text="audit"), sender=actors.governance)

    with pytest.raises(DepartmentInactiveError):
        ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.dept_a)
    with pytest.raises(DepartmentInactiveError):
        ledger.keys.publish_encryption_key_by_sig(
            Kem.X25519, x25519_key(), auth=auth, sender=actors.relayer
        )
    with pytest.raises(KeyDirectoryDepartmentInactiveError) as info:
        ledger.keys.require_usable_key(DEPT_A)
    assert info.value.args_by_name == {"departmentId": DEPT_A}
    # The key and its history are kept, and usable again once the suspension is lifted.
    assert ledger.keys.current_key(DEPT_A).key_hash == keccak(public_key)
    ledger.departments.reactivate_department(DEPT_A, sender=actors.governance)
    assert ledger.keys.require_usable_key(DEPT_A).key_hash == keccak(public_key)


def test_a_usable_key_needs_an_active_department_that_has_published(
    ledger: Ledger, actors: Any
) -> None:
    with pytest.raises(KeyDirectoryNoKeyError) as info:
        ledger.keys.require_usable_key(DEPT_B)
    assert info.value.args_by_name == {"departmentId": DEPT_B}
    with pytest.raises(KeyDirectoryDepartmentInactiveError):
        ledger.keys.require_usable_key(NEVER_ENROLLED)

    ledger.keys.publish_encryption_key(Kem.MLKEM768_X25519, hybrid_key(), sender=actors.dept_b)
    usable = ledger.keys.require_usable_key(DEPT_B)
    assert usable == ledger.keys.current_key(DEPT_B)


def test_nothing_is_published_while_paused_but_keys_can_still_be_read(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.dept_a)
    auth = ledger.keys.sign_publish_encryption_key(
        Kem.X25519, x25519_key(), signer=actors.dept_b, department_id=DEPT_B, deadline=deadline
    )
    ledger.departments.pause(sender=actors.governance)

    with pytest.raises(EnforcedPauseError):
        ledger.keys.publish_encryption_key(Kem.X25519, x25519_key(), sender=actors.dept_a)
    with pytest.raises(EnforcedPauseError):
        ledger.keys.publish_encryption_key_by_sig(
            Kem.X25519, x25519_key(), auth=auth, sender=actors.relayer
        )
    # Reads never pause: wrapping to a department goes on while its writes are stopped.
    assert ledger.keys.require_usable_key(DEPT_A).serial == 1
    ledger.departments.unpause(sender=actors.governance)
