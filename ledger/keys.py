"""Per-department signing keys, encrypted at rest.

Each department's key lives in its own Ethereum keystore v3 file (the format of geth, clef and
eth-account), ``<directory>/department-<id>.json``, encrypted under a passphrase with scrypt by
default. Plaintext keys exist only in memory, inside the account :meth:`Keystore.unlock`
returns; they are never written to disk or put in error messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
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

__all__ = ["Kdf", "Keystore"]

Kdf = Literal["scrypt", "pbkdf2"]
"""Key derivation functions keystore v3 defines."""

_FILENAME = re.compile(r"department-(0|[1-9][0-9]*)\.json")


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

    def address(self, department_id: int) -> ChecksumAddress:
        """Return the address of *department_id*'s key without decrypting it.

        This reads the keystore's unauthenticated ``address`` field; :meth:`unlock` checks it
        against the decrypted key.
        """
        _, address = self._read(department_id)
        return address

    def unlock(self, department_id: int, passphrase: str) -> LocalAccount:
        """Decrypt *department_id*'s key and return it as a signing account.

        Raises :class:`~ledger.errors.KeystoreNotFoundError` if there is no keystore and
        :class:`~ledger.errors.KeystoreDecryptionError` if the passphrase is wrong or the file
        is corrupt.
        """
        keyfile, address = self._read(department_id)
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

    def _store(self, department_id: int, account: LocalAccount, passphrase: str) -> ChecksumAddress:
        if not isinstance(passphrase, str) or not passphrase:
            raise InvalidInputError("passphrase must be a non-empty str")
        keyfile = Account.encrypt(
            account.key, passphrase, kdf=self._kdf, iterations=self._iterations
        )
        self._make_directory()
        try:
            _write_new_file(self.path(department_id), json.dumps(keyfile).encode())
        except FileExistsError:
            raise KeystoreExistsError(
                f"department {department_id} has a keystore already"
            ) from None
        return account.address

    def _read(self, department_id: int) -> tuple[dict[str, Any], ChecksumAddress]:
        path = self.path(department_id)
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


def _write_new_file(path: Path, data: bytes) -> None:
    """Write *path* atomically with mode 0o600; raise FileExistsError if it exists.

    The data goes to a temporary file first, so a crash never leaves a truncated keystore.
    It is published with ``os.link`` rather than ``os.replace`` because linking fails if the
    target exists, while replacing would silently clobber a key created concurrently.
    """
    # mkstemp creates the file with mode 0o600, before any byte is written.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a new directory entry durable: a key reported created must survive a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
