"""Specification of ledger.sealing.wrapping: a content key wrapped to one department's key
opens for that key and that context only."""

from __future__ import annotations

import dataclasses
import os

import pytest

from ledger.errors import InvalidInputError, WrappedKeyError, WrappedKeySuiteError
from ledger.hashing import Digest
from ledger.sealing.keypairs import EncryptionKeyPair, Suite
from ledger.sealing.wrapping import KeyBinding, WrappedKey, unwrap_content_key, wrap_content_key

CONTENT_KEY = bytes(range(100, 132))
BINDING = KeyBinding(
    chain_id=31337,
    registry="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    dataset_id=bytes.fromhex("ab" * 32),
    sealed_sha256=Digest(bytes.fromhex("5e" * 32)),
    recipient_department=2,
)


@pytest.fixture(params=list(Suite), ids=lambda s: s.name)
def recipient(request: pytest.FixtureRequest) -> EncryptionKeyPair:
    suite: Suite = request.param
    return EncryptionKeyPair.generate(suite)


def test_a_wrapped_key_unwraps_for_its_recipient_and_context(recipient: EncryptionKeyPair) -> None:
    wrapped = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)

    assert unwrap_content_key(wrapped, recipient, BINDING) == CONTENT_KEY
    assert wrapped.recipient_fingerprint == recipient.public_key.fingerprint()


def test_a_wrapped_key_survives_its_encoding(recipient: EncryptionKeyPair) -> None:
    wrapped = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)

    again = WrappedKey.decode(wrapped.encode())

    assert again == wrapped
    assert unwrap_content_key(again, recipient, BINDING) == CONTENT_KEY


def test_wrapping_twice_gives_different_bytes(recipient: EncryptionKeyPair) -> None:
    first = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)
    second = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)
    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize(
    "change",
    [
        {"recipient_department": 3},
        {"dataset_id": bytes.fromhex("cd" * 32)},
        {"sealed_sha256": Digest(bytes.fromhex("5f" * 32))},
        {"chain_id": 1},
        {"registry": "0x" + "11" * 20},
    ],
    ids=["department", "dataset", "sealed version", "chain id", "registry"],
)
def test_a_wrapped_key_does_not_open_in_another_context(
    recipient: EncryptionKeyPair, change: dict[str, object]
) -> None:
    wrapped = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)
    elsewhere = dataclasses.replace(BINDING, **change)  # type: ignore[arg-type]

    with pytest.raises(WrappedKeyError) as raised:
        unwrap_content_key(wrapped, recipient, elsewhere)
    assert raised.value.code == "wrapped-key-invalid"


def test_a_wrapped_key_does_not_open_for_another_department_key(
    recipient: EncryptionKeyPair,
) -> None:
    wrapped = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)
    stranger = EncryptionKeyPair.generate(recipient.suite)

    with pytest.raises(WrappedKeyError, match="wrapped to key"):
        unwrap_content_key(wrapped, stranger, BINDING)


def test_a_key_rotated_away_leaves_its_wrapped_keys_to_the_old_key(
    recipient: EncryptionKeyPair,
) -> None:
    wrapped = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)
    rotated = EncryptionKeyPair.generate(recipient.suite)

    with pytest.raises(WrappedKeyError):
        unwrap_content_key(wrapped, rotated, BINDING)
    assert unwrap_content_key(wrapped, recipient, BINDING) == CONTENT_KEY


def test_a_wrapped_key_claiming_another_recipient_still_does_not_open(
    recipient: EncryptionKeyPair,
) -> None:
    # Rewriting the fingerprint field to the stranger's gets past the quick check, not HPKE.
    wrapped = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)
    stranger = EncryptionKeyPair.generate(recipient.suite)
    relabelled = dataclasses.replace(
        wrapped, recipient_fingerprint=stranger.public_key.fingerprint()
    )

    with pytest.raises(WrappedKeyError):
        unwrap_content_key(relabelled, stranger, BINDING)


@pytest.mark.parametrize("where", [0, 40, -1], ids=["encapsulated key", "middle", "tag"])
def test_a_tampered_wrapped_key_does_not_open(recipient: EncryptionKeyPair, where: int) -> None:
    wrapped = wrap_content_key(CONTENT_KEY, recipient.public_key, BINDING)
    ciphertext = bytearray(wrapped.ciphertext)
    ciphertext[where] ^= 1
    tampered = dataclasses.replace(wrapped, ciphertext=bytes(ciphertext))

    with pytest.raises(WrappedKeyError):
        unwrap_content_key(tampered, recipient, BINDING)


def test_a_wrapped_key_and_a_private_key_of_different_suites_are_named() -> None:
    hybrid = EncryptionKeyPair.generate(Suite.MLKEM768_X25519)
    classical = EncryptionKeyPair.generate(Suite.X25519)
    wrapped = wrap_content_key(CONTENT_KEY, hybrid.public_key, BINDING)

    with pytest.raises(WrappedKeySuiteError) as raised:
        unwrap_content_key(wrapped, classical, BINDING)
    assert raised.value.code == "wrapped-key-suite-mismatch"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02\x64\x7a" + bytes(32 + 1168),
        b"\x01\x00\x21" + bytes(32 + 80),
        b"\x01\x00\x20" + bytes(40),
    ],
    ids=["empty", "unknown format", "unknown suite", "short"],
)
def test_bytes_that_are_no_wrapped_key_are_refused(data: bytes) -> None:
    with pytest.raises(WrappedKeyError):
        WrappedKey.decode(data)


def test_the_info_is_length_prefixed_fields_in_a_fixed_order() -> None:
    fingerprint = EncryptionKeyPair.generate(Suite.X25519).public_key.fingerprint()
    label = b"provledger wrapped content key v1"
    fields = [
        label,
        (31337).to_bytes(32, "big"),
        bytes.fromhex("5FbDB2315678afecb367f032d93F642f64180aa3"),
        bytes.fromhex("ab" * 32),
        bytes.fromhex("5e" * 32),
        (2).to_bytes(8, "big"),
        fingerprint.value,
    ]
    expected = b"".join(len(f).to_bytes(2, "big") + f for f in fields)
    assert BINDING.info(fingerprint) == expected


@pytest.mark.parametrize(
    "change",
    [
        {"registry": "0x1234"},
        {"registry": bytes(19)},
        {"dataset_id": bytes(31)},
        {"sealed_sha256": bytes(32)},
        {"recipient_department": -1},
        {"chain_id": True},
    ],
)
def test_a_binding_refuses_values_the_chain_cannot_hold(change: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        dataclasses.replace(BINDING, **change)  # type: ignore[arg-type]


def test_only_a_32_byte_content_key_is_wrapped() -> None:
    recipient = EncryptionKeyPair.generate(Suite.X25519)
    with pytest.raises(InvalidInputError):
        wrap_content_key(os.urandom(16), recipient.public_key, BINDING)
