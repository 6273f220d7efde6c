"""Per-department signing keys, encrypted at rest.

Each department's key lives in its own Ethereum keystore v3 file (the format of geth, clef and
eth-account), ``<directory>/department-<id>.json``, encrypted under a passphrase with scrypt by
default. Plaintext keys exist only in memory, inside the account :meth:`Keystore.unlock`
returns; they are never written to disk or put in error messages.

A rotated-away key is archived, never deleted: ``<directory>/archive/department-<id>.retired-
<n>.json`` (``n`` counts from 1). Actions queued before a rotation are still signed with it, and
old signatures stay explainable.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from ledger.errors import (
    InvalidInputError,
    KeystoreDecryptionError,
    KeystoreExistsError,
    KeystoreNotFoundError,
)
from ledger.files import fsync_directory, link_numbered, numbered_files, write_atomically

__all__ = ["Kdf", "Keystore"]

Kdf = Literal["scrypt", "pbkdf2"]
"""Key derivation functions keystore v3 defines."""

_FILENAME = re.compile(r"department-(0|[1-9][0-9]*)\.json")
_ARCHIVE = "archive"


class Keystore:
    """A directory of encrypted department keystores.

    ``kdf`` and ``iterations`` set how *new* keystores are encrypted (existing ones carry
    their own parameters). ``iterations`` is scrypt's cost ``N`` (a power of two) or PBKDF2's
    round count; the default is eth-account's (scrypt ``N = 2**18``, one to two seconds per
    unlock). Lower it only in tests.
    """

    __slots__ = ("_directory", "_iterations", "_kdf")

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        kdf: Kdf = "scrypt",
        iterations: int | None = None,
    ) -> None:
        if kdf not in ("scrypt", "pbkdf2"):
            raise InvalidInputError(f"kdf must be 'scrypt' or 'pbkdf2', got {kdf!r}")
        if iterations is not None:
            power_of_two = iterations > 1 and iterations & (iterations - 1) == 0
            if iterations < 1 or (kdf == "scrypt" and not power_of_two):
                raise InvalidInputError(f"invalid {kdf} iterations: {iterations}")
        self._directory = Path(directory)
        self._kdf: Kdf = kdf
        self._iterations = iterations

    def __repr__(self) -> str:
        return f"Keystore({str(self._directory)!r})"

    @property
    def directory(self) -> Path:
        """The directory holding the keystore files."""
        return self._directory

    def path(self, department_id: int) -> Path:
        """Return where the keystore of *department_id* is (or would be) stored."""
        if not isinstance(department_id, int) or isinstance(department_id, bool):
            raise InvalidInputError(
                f"department id must be an int, got {type(department_id).__name__}"
            )
        if department_id < 0:
            raise InvalidInputError(f"department id must not be negative, got {department_id}")
        return self._directory / f"department-{department_id}.json"

    def create(self, department_id: int, passphrase: str) -> ChecksumAddress:
        """Generate a fresh key for *department_id*, store it encrypted, return its address.

        Raises :class:`~ledger.errors.KeystoreExistsError` if the department has a key already.
        """
        self._refuse_existing(department_id)
        return self._store(department_id, Account.create(), passphrase)

    def import_key(
        self, department_id: int, private_key: bytes | str, passphrase: str
    ) -> ChecksumAddress:
        """Store an existing private key (32 bytes or hex) for *department_id*, encrypted.

        Raises :class:`~ledger.errors.KeystoreExistsError` if the department has a key already.
        """
        self._refuse_existing(department_id)
        try:
            account = Account.from_key(private_key)
        except (ValueError, TypeError):
            # ``from None``: the underlying message or traceback could quote the key.
            raise InvalidInputError("not a valid secp256k1 private key") from None
        return self._store(department_id, account, passphrase)

    def rotate(self, department_id: int, passphrase: str) -> ChecksumAddress:
        """Archive *department_id*'s key if it has one, generate a fresh one in its place and
        return the new address.

        The old key is archived before the new one replaces it, so a crash in between leaves
        the old key current (and a spare archived copy), never no key at all.
        """
        _check_passphrase(passphrase)
        if self.path(department_id).exists():
            self._archive(department_id)
        return self._store(department_id, Account.create(), passphrase, replace=True)

    def retire(self, department_id: int) -> Path:
        """Move *department_id*'s key to the archive (the department now holds its own key);
        return where it went.

        Raises :class:`~ledger.errors.KeystoreNotFoundError` if there is no current key.
        """
        archived = self._archive(department_id)
        self.path(department_id).unlink()
        fsync_directory(self._directory)
        return archived

    def retired_paths(self, department_id: int) -> list[Path]:
        """The archived keystores of *department_id*, oldest first."""
        self.path(department_id)  # validates the id
        pattern = re.compile(rf"department-{department_id}\.retired-([1-9][0-9]*)\.json")
        return numbered_files(self._directory / _ARCHIVE, pattern)

    def address(self, department_id: int) -> ChecksumAddress:
        """Return the address of *department_id*'s key without decrypting it.

        This reads the keystore's unauthenticated ``address`` field; :meth:`unlock` checks it
        against the decrypted key.
        """
        _, address = self._read(department_id, self.path(department_id))
        return address

    def unlock(
        self, department_id: int, passphrase: str, *, address: str | None = None
    ) -> LocalAccount:
        """Decrypt *department_id*'s key and return it as a signing account.

        With *address*, the department's key with that address, current or archived: a key
        rotated away still signs what was queued before its rotation.

        Raises :class:`~ledger.errors.KeystoreNotFoundError` if there is no such keystore and
        :class:`~ledger.errors.KeystoreDecryptionError` if the passphrase is wrong or the file
        is corrupt.
        """
        if address is None:
            keyfile, address = self._read(department_id, self.path(department_id))
        else:
            keyfile, address = self._find(department_id, address)
        try:
            private_key = Account.decrypt(keyfile, passphrase)
        except (ValueError, KeyError, TypeError, NotImplementedError):
            # A wrong passphrase fails the MAC check (ValueError); missing fields or an
            # unsupported cipher/KDF surface as the others.
            raise KeystoreDecryptionError(
                f"cannot unlock department {department_id}: wrong passphrase or corrupt keystore"
            ) from None
        account: LocalAccount = Account.from_key(private_key)
        if account.address != address:
            raise KeystoreDecryptionError(
                f"keystore of department {department_id} is corrupt: its address field does "
                "not match its key"
            )
        return account

    def list_departments(self) -> list[int]:
        """Return the ids of the departments that have a keystore, in ascending order."""
        if not self._directory.is_dir():
            return []
        found = (_FILENAME.fullmatch(entry.name) for entry in self._directory.iterdir())
        return sorted(int(match[1]) for match in found if match is not None)

    def _refuse_existing(self, department_id: int) -> None:
        # Checked up front so a doomed call fails before the slow key derivation; the write
        # itself refuses again, atomically.
        if self.path(department_id).exists():
            raise KeystoreExistsError(f"department {department_id} has a keystore already")

    def _store(
        self,
        department_id: int,
        account: LocalAccount,
        passphrase: str,
        *,
        replace: bool = False,
    ) -> ChecksumAddress:
        _check_passphrase(passphrase)
        keyfile = Account.encrypt(
            account.key, passphrase, kdf=self._kdf, iterations=self._iterations
        )
        self._make_directory()
        try:
            write_atomically(
                self.path(department_id), json.dumps(keyfile).encode(), replace=replace
            )
        except FileExistsError:
            raise KeystoreExistsError(
                f"department {department_id} has a keystore already"
            ) from None
        return account.address

    def _archive(self, department_id: int) -> Path:
        """Hard-link the current keystore into the archive under the next free number."""
        current = self.path(department_id)
        archive = self._directory / _ARCHIVE
        try:
            archive.mkdir(mode=0o700)
            archive.chmod(0o700)  # mkdir's mode is filtered through the umask
        except FileExistsError:
            pass
        number = len(self.retired_paths(department_id)) + 1
        try:
            return link_numbered(
                current,
                lambda n: archive / f"department-{department_id}.retired-{n}.json",
                number,
            )
        except FileNotFoundError:
            raise KeystoreNotFoundError(
                f"no keystore for department {department_id} in {self._directory}"
            ) from None

    def _find(self, department_id: int, address: str) -> tuple[dict[str, Any], ChecksumAddress]:
        """The keystore of *department_id* (current or archived) whose address is *address*."""
        wanted = address.lower()
        current = self.path(department_id)
        for path in ([current] if current.exists() else []) + self.retired_paths(department_id):
            keyfile, found = self._read(department_id, path)
            if found.lower() == wanted:
                return keyfile, found
        raise KeystoreNotFoundError(
            f"no keystore of department {department_id} holds the key {address}"
        )

    def _read(self, department_id: int, path: Path) -> tuple[dict[str, Any], ChecksumAddress]:
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise KeystoreNotFoundError(
                f"no keystore for department {department_id} in {self._directory}"
            ) from None
        try:
            keyfile = json.loads(text)
            raw_address: str = keyfile["address"]
            address = to_checksum_address("0x" + raw_address.removeprefix("0x"))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise KeystoreDecryptionError(
                f"keystore of department {department_id} is corrupt: {path}"
            ) from None
        return keyfile, address

    def _make_directory(self) -> None:
        try:
            self._directory.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            # Never chmod a directory we did not create: it may be shared, like /tmp.
            return
        # mkdir's mode is filtered through the umask; make it exactly owner-only.
        self._directory.chmod(0o700)


def _check_passphrase(passphrase: object) -> None:
    if not isinstance(passphrase, str) or not passphrase:
        raise InvalidInputError("passphrase must be a non-empty str")
