"""Specification of ledger.keys: encrypted per-department keystores."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from ledger.errors import (
    InvalidInputError,
    KeystoreDecryptionError,
    KeystoreExistsError,
    KeystoreNotFoundError,
)
from ledger.keys import Keystore

# The eth-account documentation's example key and its address.
KNOWN_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
KNOWN_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"

# scrypt N = 2**4 instead of 2**18: keeps each test in milliseconds.
CHEAP_SCRYPT = 2**4


@pytest.fixture
def keystore(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keys", iterations=CHEAP_SCRYPT)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- creating and unlocking ----------------------------------------------------------------


def test_created_key_unlocks_and_signs_for_its_address(keystore: Keystore) -> None:
    address = keystore.create(7, "correct horse")

    account = keystore.unlock(7, "correct horse")

    assert account.address == address
    message = encode_defunct(text="dataset 42, version 3")
    signed = account.sign_message(message)
    assert Account.recover_message(message, signature=signed.signature) == address


def test_each_department_gets_its_own_key(keystore: Keystore) -> None:
    assert keystore.create(1, "pass one") != keystore.create(2, "pass two")


def test_imported_key_keeps_its_address(keystore: Keystore) -> None:
    assert keystore.import_key(3, KNOWN_KEY, "passphrase") == KNOWN_ADDRESS
    assert keystore.unlock(3, "passphrase").key.hex() == KNOWN_KEY.removeprefix("0x")


def test_import_accepts_raw_key_bytes(keystore: Keystore) -> None:
    assert keystore.import_key(3, bytes.fromhex(KNOWN_KEY[2:]), "passphrase") == KNOWN_ADDRESS


@pytest.mark.parametrize("bad_key", ["0x1234", bytes(32), "0x" + "ff" * 32, "not hex"])
def test_import_rejects_invalid_keys_without_echoing_them(
    keystore: Keystore, bad_key: str | bytes
) -> None:
    with pytest.raises(InvalidInputError, match="not a valid secp256k1 private key") as caught:
        keystore.import_key(3, bad_key, "passphrase")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert keystore.list_departments() == []


def test_wrong_passphrase_is_refused(keystore: Keystore) -> None:
    keystore.create(7, "correct horse")
    with pytest.raises(KeystoreDecryptionError, match="wrong passphrase"):
        keystore.unlock(7, "battery staple")


def test_wrong_passphrase_is_a_permission_error(keystore: Keystore) -> None:
    keystore.create(7, "correct horse")
    with pytest.raises(PermissionError):
        keystore.unlock(7, "battery staple")


def test_missing_department_is_not_found(keystore: Keystore) -> None:
    keystore.create(7, "correct horse")
    with pytest.raises(KeystoreNotFoundError, match="no keystore for department 8"):
        keystore.unlock(8, "correct horse")
    with pytest.raises(KeystoreNotFoundError):
        keystore.address(8)
    with pytest.raises(LookupError):
        keystore.address(8)


def test_address_is_readable_without_the_passphrase(keystore: Keystore) -> None:
    address = keystore.create(7, "correct horse")
    assert keystore.address(7) == address


@pytest.mark.parametrize("department_id", [-1, True, "7", 7.0])
def test_department_ids_are_non_negative_ints(keystore: Keystore, department_id: Any) -> None:
    with pytest.raises(InvalidInputError, match="department id"):
        keystore.create(department_id, "passphrase")


@pytest.mark.parametrize("passphrase", ["", b"bytes"])
def test_passphrase_must_be_a_non_empty_string(keystore: Keystore, passphrase: Any) -> None:
    with pytest.raises(InvalidInputError, match="passphrase"):
        keystore.create(7, passphrase)
    assert keystore.list_departments() == []


# --- never overwriting ---------------------------------------------------------------------


def test_create_refuses_to_overwrite_a_key(keystore: Keystore) -> None:
    original = keystore.create(7, "first")

    with pytest.raises(KeystoreExistsError, match="department 7 has a keystore already"):
        keystore.create(7, "second")
    with pytest.raises(KeystoreExistsError):
        keystore.import_key(7, KNOWN_KEY, "second")

    assert keystore.address(7) == original
    assert keystore.unlock(7, "first").address == original


def test_a_key_created_concurrently_is_not_clobbered(
    keystore: Keystore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process creates the keystore while this one is deriving its encryption key.
    rival = Keystore(keystore.directory, iterations=CHEAP_SCRYPT)
    encrypt = Account.encrypt

    def encrypt_while_rival_creates(*args: Any, **kwargs: Any) -> dict[str, Any]:
        monkeypatch.setattr(Account, "encrypt", encrypt)
        rival.create(7, "rival")
        return encrypt(*args, **kwargs)

    monkeypatch.setattr(Account, "encrypt", encrypt_while_rival_creates)

    with pytest.raises(KeystoreExistsError):
        keystore.create(7, "mine")
    assert keystore.unlock(7, "rival").address == keystore.address(7)
    assert [p.name for p in keystore.directory.iterdir()] == ["department-7.json"]


# --- what is on disk -----------------------------------------------------------------------


def test_keystore_file_is_owner_only(keystore: Keystore) -> None:
    keystore.create(7, "passphrase")
    assert mode_of(keystore.path(7)) == 0o600


def test_keystore_directory_it_creates_is_owner_only(keystore: Keystore) -> None:
    old_umask = os.umask(0o022)
    try:
        keystore.create(7, "passphrase")
    finally:
        os.umask(old_umask)
    assert mode_of(keystore.directory) == 0o700


def test_existing_directory_permissions_are_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    Keystore(shared, iterations=CHEAP_SCRYPT).create(7, "passphrase")
    assert mode_of(shared) == 0o755


def test_private_key_never_reaches_the_disk(keystore: Keystore) -> None:
    keystore.import_key(3, KNOWN_KEY, "passphrase")
    created = keystore.create(4, "passphrase")
    created_key = keystore.unlock(4, "passphrase").key.hex()
    assert keystore.address(4) == created

    everything = "".join(p.read_text() for p in keystore.directory.iterdir()).lower()
    assert KNOWN_KEY.removeprefix("0x") not in everything
    assert created_key.removeprefix("0x") not in everything


def test_files_are_standard_keystore_v3(keystore: Keystore) -> None:
    keystore.import_key(3, KNOWN_KEY, "passphrase")
    keyfile = json.loads(keystore.path(3).read_text())

    assert keyfile["version"] == 3
    assert keyfile["crypto"]["kdf"] == "scrypt"
    assert keyfile["crypto"]["kdfparams"]["n"] == CHEAP_SCRYPT
    assert Account.decrypt(keyfile, "passphrase").hex() == KNOWN_KEY.removeprefix("0x")


def test_pbkdf2_can_be_chosen(tmp_path: Path) -> None:
    keystore = Keystore(tmp_path, kdf="pbkdf2", iterations=10)
    address = keystore.create(1, "passphrase")
    keyfile = json.loads(keystore.path(1).read_text())
    assert keyfile["crypto"]["kdf"] == "pbkdf2"
    assert keyfile["crypto"]["kdfparams"]["c"] == 10
    assert keystore.unlock(1, "passphrase").address == address


@pytest.mark.parametrize(
    ("kdf", "iterations"),
    [("scrypt", 1000), ("scrypt", 1), ("scrypt", 0), ("pbkdf2", 0), ("argon2", None)],
)
def test_unusable_kdf_settings_are_refused(tmp_path: Path, kdf: Any, iterations: Any) -> None:
    with pytest.raises(InvalidInputError):
        Keystore(tmp_path, kdf=kdf, iterations=iterations)


def test_no_temporary_files_are_left_behind(keystore: Keystore) -> None:
    keystore.create(7, "passphrase")
    with pytest.raises(KeystoreExistsError):
        keystore.create(7, "passphrase")
    assert sorted(p.name for p in keystore.directory.iterdir()) == ["department-7.json"]


# --- corrupt files -------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "{", "[]", '{"version": 3}', '{"address": "zz"}'])
def test_corrupt_keystore_is_reported_as_such(keystore: Keystore, content: str) -> None:
    keystore.create(7, "passphrase")
    keystore.path(7).write_text(content)
    with pytest.raises(KeystoreDecryptionError, match="corrupt"):
        keystore.address(7)
    with pytest.raises(KeystoreDecryptionError, match="corrupt"):
        keystore.unlock(7, "passphrase")


def test_tampered_address_field_is_caught_on_unlock(keystore: Keystore) -> None:
    keystore.create(7, "passphrase")
    keyfile = json.loads(keystore.path(7).read_text())
    keyfile["address"] = KNOWN_ADDRESS.removeprefix("0x")
    keystore.path(7).write_text(json.dumps(keyfile))

    assert keystore.address(7) == KNOWN_ADDRESS  # the field is not authenticated...
    with pytest.raises(KeystoreDecryptionError, match="address field does not match"):
        keystore.unlock(7, "passphrase")  # ...but unlocking checks it


# --- rotation and the archive --------------------------------------------------------------


def test_rotation_archives_the_old_key_which_still_unlocks_by_its_address(
    keystore: Keystore,
) -> None:
    old = keystore.create(5, "passphrase")

    new = keystore.rotate(5, "passphrase")

    assert new != old
    assert keystore.address(5) == new
    assert keystore.unlock(5, "passphrase").address == new
    [archived] = keystore.retired_paths(5)
    assert archived == keystore.directory / "archive" / "department-5.retired-1.json"
    assert mode_of(archived) == 0o600 and mode_of(archived.parent) == 0o700
    assert Account.from_key(Account.decrypt(archived.read_text(), "passphrase")).address == old
    assert keystore.unlock(5, "passphrase", address=old).address == old
    assert keystore.unlock(5, "passphrase", address=new.lower()).address == new


def test_every_rotation_keeps_every_earlier_key(keystore: Keystore) -> None:
    addresses = [keystore.create(6, "passphrase")]
    for _ in range(3):
        addresses.append(keystore.rotate(6, "passphrase"))

    retired = keystore.retired_paths(6)

    assert [p.name for p in retired] == [f"department-6.retired-{n}.json" for n in (1, 2, 3)]
    for address in addresses:
        assert keystore.unlock(6, "passphrase", address=address).address == address
    assert keystore.list_departments() == [6]  # the archive is not a department


def test_rotation_never_overwrites_an_archived_key(keystore: Keystore) -> None:
    keystore.create(8, "passphrase")
    first = keystore.rotate(8, "passphrase")
    # A crash, a copy restored by hand: number 2 is taken although only one is counted.
    (keystore.directory / "archive" / "department-8.retired-1.json").rename(
        keystore.directory / "archive" / "department-8.retired-2.json"
    )

    keystore.rotate(8, "passphrase")

    names = sorted(p.name for p in keystore.retired_paths(8))
    assert names == ["department-8.retired-2.json", "department-8.retired-3.json"]
    assert keystore.unlock(8, "passphrase", address=first).address == first


def test_a_department_without_a_key_gets_one_by_rotation(keystore: Keystore) -> None:
    address = keystore.rotate(9, "passphrase")
    assert keystore.address(9) == address and keystore.retired_paths(9) == []


def test_retiring_a_key_archives_it_and_leaves_no_current_key(keystore: Keystore) -> None:
    old = keystore.create(11, "passphrase")

    archived = keystore.retire(11)

    assert keystore.retired_paths(11) == [archived]
    with pytest.raises(KeystoreNotFoundError):
        keystore.unlock(11, "passphrase")
    assert keystore.unlock(11, "passphrase", address=old).address == old
    assert keystore.list_departments() == []
    with pytest.raises(KeystoreNotFoundError):
        keystore.retire(11)


def test_a_key_the_department_never_had_is_not_found(keystore: Keystore) -> None:
    keystore.create(12, "passphrase")
    keystore.create(13, "passphrase")
    with pytest.raises(KeystoreNotFoundError, match="department 12"):
        keystore.unlock(12, "passphrase", address=keystore.address(13))
    with pytest.raises(KeystoreNotFoundError):
        keystore.unlock(14, "passphrase", address=KNOWN_ADDRESS)


def test_rotation_refuses_a_bad_passphrase_before_touching_the_files(keystore: Keystore) -> None:
    old = keystore.create(15, "passphrase")
    with pytest.raises(InvalidInputError):
        keystore.rotate(15, "")
    assert keystore.address(15) == old and keystore.retired_paths(15) == []


# --- listing -------------------------------------------------------------------------------


def test_list_departments_is_sorted_and_ignores_other_files(keystore: Keystore) -> None:
    for department_id in (10, 2, 0):
        keystore.create(department_id, "passphrase")
    for stray in ["notes.txt", "department-01.json", ".department-3.json.tmp", "department-x.json"]:
        (keystore.directory / stray).write_text("")

    assert keystore.list_departments() == [0, 2, 10]


def test_list_departments_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    keystore = Keystore(tmp_path / "absent")
    assert keystore.list_departments() == []
    assert not keystore.directory.exists()  # reading never creates anything


def test_signing_uses_native_secp256k1() -> None:
    # eth-keys silently falls back to a pure-Python backend (~6x slower) if coincurve is missing.
    from eth_keys.backends import get_backend

    assert type(get_backend()).__name__ == "CoinCurveECCBackend"
