"""Specification of departments' encryption keys: ledger.sealing.keypairs (suites, encodings,
fingerprints) and ledger.sealing.keystore (key files encrypted under a passphrase)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ledger.errors import (
    EncryptionKeyFormatError,
    InvalidInputError,
    KeystoreDecryptionError,
    KeystoreExistsError,
    KeystoreNotFoundError,
)
from ledger.sealing.keypairs import EncryptionKeyPair, EncryptionPublicKey, Suite
from ledger.sealing.keystore import EncryptionKeystore, lock_key_pair, unlock_key_pair

# scrypt n = 2**4 instead of 2**18: keeps each test in milliseconds.
CHEAP_SCRYPT = 2**4

# Fixed private keys (KEM id ‖ seeds) and the fingerprints their public keys must have.
HYBRID_SEED = bytes.fromhex("647a") + bytes(range(64)) + bytes(range(64, 96))
X25519_SEED = bytes.fromhex("0020") + bytes(range(64, 96))
HYBRID_FINGERPRINT = "0xbc3309b84eb552f9b792c7abc4620300590540ed675286441de45d8ecaac482c"
X25519_FINGERPRINT = "0x290f164d7da7cecf72e13a78e3b73ffeb2ecdab4512990732ea859a210b71140"


@pytest.fixture
def keystore(tmp_path: Path) -> EncryptionKeystore:
    return EncryptionKeystore(tmp_path / "keys", scrypt_n=CHEAP_SCRYPT)


# --- key pairs and encodings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suite", "kem_id", "size"),
    [(Suite.MLKEM768_X25519, 0x647A, 1184 + 32), (Suite.X25519, 0x0020, 32)],
)
def test_a_public_key_encodes_as_its_hpke_kem_id_and_raw_keys(
    suite: Suite, kem_id: int, size: int
) -> None:
    public = EncryptionKeyPair.generate(suite).public_key

    encoded = public.encode()

    assert len(public.raw) == size
    assert encoded == kem_id.to_bytes(2, "big") + public.raw
    assert EncryptionPublicKey.decode(encoded) == public


@pytest.mark.parametrize("suite", list(Suite))
def test_a_private_key_round_trips_through_its_seeds(suite: Suite) -> None:
    key = EncryptionKeyPair.generate(suite)

    again = EncryptionKeyPair.from_private_bytes(key.private_bytes())

    assert again.public_key == key.public_key
    assert again.private_bytes() == key.private_bytes()


@pytest.mark.parametrize(
    ("seed", "fingerprint"),
    [(HYBRID_SEED, HYBRID_FINGERPRINT), (X25519_SEED, X25519_FINGERPRINT)],
    ids=["hybrid", "x25519"],
)
def test_the_fingerprint_of_a_key_from_a_fixed_seed_is_stable(
    seed: bytes, fingerprint: str
) -> None:
    # What the chain stores for a department's key: it must never change for the same key.
    public = EncryptionKeyPair.from_private_bytes(seed).public_key
    assert public.fingerprint().hex() == fingerprint


def test_the_fingerprint_is_the_keccak_of_the_raw_key_as_the_key_directory_hashes_it() -> None:
    from cryptography.hazmat.primitives.asymmetric import x25519
    from eth_utils.crypto import keccak

    public = EncryptionKeyPair.from_private_bytes(X25519_SEED).public_key
    raw = x25519.X25519PrivateKey.from_private_bytes(bytes(range(64, 96))).public_key()

    assert public.raw == raw.public_bytes_raw()
    assert public.fingerprint().value == keccak(public.raw)


@pytest.mark.parametrize(
    "encoded",
    [b"", b"\x00", b"\x00\x21" + bytes(32), b"\x00\x20" + bytes(31), b"\x64\x7a" + bytes(33)],
    ids=["empty", "half a kem id", "unknown kem", "short x25519", "hybrid of x25519 length"],
)
def test_malformed_public_keys_are_refused(encoded: bytes) -> None:
    with pytest.raises(EncryptionKeyFormatError):
        EncryptionPublicKey.decode(encoded)


def test_a_private_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(EncryptionKeyFormatError):
        EncryptionKeyPair.from_private_bytes(HYBRID_SEED[:-1])


def test_a_key_pair_never_shows_its_private_half() -> None:
    key = EncryptionKeyPair.from_private_bytes(X25519_SEED)
    assert X25519_SEED[2:].hex() not in repr(key)
    assert str(key.public_key.fingerprint()) in repr(key)


# --- key files ---------------------------------------------------------------------------------


def test_a_locked_key_unlocks_with_its_passphrase_only() -> None:
    key = EncryptionKeyPair.generate()
    data = lock_key_pair(key, "correct horse", scrypt_n=CHEAP_SCRYPT)

    assert unlock_key_pair(data, "correct horse").public_key == key.public_key
    with pytest.raises(KeystoreDecryptionError):
        unlock_key_pair(data, "wrong horse")


def test_a_key_file_holds_no_private_bytes_in_clear() -> None:
    key = EncryptionKeyPair.generate(Suite.X25519)
    data = lock_key_pair(key, "passphrase", scrypt_n=CHEAP_SCRYPT)
    assert key.private_bytes()[1:].hex() not in data.decode()


def test_a_key_file_whose_public_key_was_swapped_does_not_open() -> None:
    data = json.loads(lock_key_pair(EncryptionKeyPair.generate(), "pass", scrypt_n=CHEAP_SCRYPT))
    data["public_key"] = EncryptionKeyPair.generate().public_key.encode().hex()

    with pytest.raises(KeystoreDecryptionError):
        unlock_key_pair(json.dumps(data).encode(), "pass")


def test_a_key_file_demanding_a_huge_scrypt_cost_is_refused_as_corrupt() -> None:
    data = json.loads(lock_key_pair(EncryptionKeyPair.generate(), "pass", scrypt_n=CHEAP_SCRYPT))
    data["kdfparams"]["n"] = 2**30

    with pytest.raises(KeystoreDecryptionError):
        unlock_key_pair(json.dumps(data).encode(), "pass")


def test_the_keystore_creates_a_private_key_file_and_reads_its_public_key(
    keystore: EncryptionKeystore,
) -> None:
    public = keystore.create(4, "passphrase")

    assert public.suite is Suite.MLKEM768_X25519
    assert keystore.public_key(4) == public
    assert keystore.unlock(4, "passphrase").public_key == public
    assert stat.S_IMODE(keystore.path(4).stat().st_mode) == 0o600


def test_the_keystore_refuses_a_second_key(keystore: EncryptionKeystore) -> None:
    keystore.create(4, "passphrase", suite=Suite.X25519)
    with pytest.raises(KeystoreExistsError):
        keystore.create(4, "passphrase")


def test_the_keystore_has_no_key_for_an_unknown_department(keystore: EncryptionKeystore) -> None:
    with pytest.raises(KeystoreNotFoundError):
        keystore.public_key(9)


def test_a_rotated_key_is_archived_and_still_unlocks_by_fingerprint(
    keystore: EncryptionKeystore,
) -> None:
    old = keystore.create(4, "passphrase")

    new = keystore.rotate(4, "passphrase")

    assert new != old
    assert keystore.public_key(4) == new
    assert len(keystore.retired_paths(4)) == 1
    assert keystore.unlock(4, "passphrase", fingerprint=old.fingerprint()).public_key == old
    assert keystore.unlock(4, "passphrase", fingerprint=new.fingerprint()).public_key == new


def test_unlocking_an_unknown_fingerprint_is_not_found(keystore: EncryptionKeystore) -> None:
    keystore.create(4, "passphrase")
    stranger = EncryptionKeyPair.generate().public_key.fingerprint()
    with pytest.raises(KeystoreNotFoundError):
        keystore.unlock(4, "passphrase", fingerprint=stranger)


def test_an_empty_passphrase_is_refused(keystore: EncryptionKeystore) -> None:
    with pytest.raises(InvalidInputError):
        keystore.create(4, "")
